"""A no-op re-run of a 1,000-model project: every node skipped by the fingerprint cache
(target: under 1 s). Runs `ffc run` once to build, then times further runs.

Reports the whole command (a fresh process: interpreter, imports, compile, cache checks) and,
in-process, compile + cache checks alone.

    python bench/rerun.py [--models 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate  # noqa: E402


def ffc_run(root: Path, db: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "flowforge.cli", "run", str(root), "-q"],
        check=True,
        env={"FF_DUCKDB_PATH": str(db), "PATH": ""},
    )
    return time.perf_counter() - started


def in_process(root: Path, db: Path) -> tuple[float, float, int]:
    from flowforge_compiler.compile import compile_project
    from flowforge_compiler.profiles import resolve_profile
    from flowforge_compiler.project import load_project
    from runtime import open_executor
    from runtime.cache import CacheMode, CachePolicy, FileStore, WarehouseStore
    from targets.local import LevelScheduler

    started = time.perf_counter()
    project = load_project(root)
    environ = {"FF_DUCKDB_PATH": str(db)}  # the same environment `ffc_run` gives the command
    profile = resolve_profile(project.root, None, environ=environ)
    plan = compile_project(project, profile, environ=environ)
    compiled = time.perf_counter()
    with open_executor(profile) as executor:
        file = FileStore.for_profile(project.root, profile.name, profile.engine)
        policy = CachePolicy(plan, CacheMode.RW, WarehouseStore(executor), file=file)
        summary = LevelScheduler(plan, executor, project.root, cache=policy).run([n.id for n in plan.nodes])
    return compiled - started, time.perf_counter() - compiled, summary.cached


def main() -> None:
    parser = argparse.ArgumentParser(description="No-op re-run time")
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "project", args.models)
        db = Path(tmp) / "bench.duckdb"
        first = ffc_run(root, db)
        again = [ffc_run(root, db) for _ in range(args.repeat)]
        inside = [in_process(root, db) for _ in range(args.repeat)]
        print(f"{args.models} models (10% Python): first `ffc run` {first:.2f} s")
        print(f"no-op re-run, median of {args.repeat}:")
        print(f"  `ffc run` (fresh process, everything): {statistics.median(again):.2f} s")
        print(f"  in-process compile: {statistics.median(i[0] for i in inside):.2f} s")
        print(f"  in-process cache checks and scheduling: {statistics.median(i[1] for i in inside):.2f} s")
        print(f"  nodes skipped as cached: {inside[-1][2]}")


if __name__ == "__main__":
    main()
