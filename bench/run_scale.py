"""Run speed of the local target.

1. 500 trivial SQL models over one seed: `ffc run` (seed + build) wall seconds at --jobs 1 and
   --jobs 4, each on a fresh DuckDB file, in a fresh process as a user runs it.
2. Uneven work: independent chains whose steps take uneven time. The level scheduler waits for
   every node of a level before starting the next; an eager scheduler starts each node as soon as
   its own parents finish. Both run the same plan through the same runtime; the difference is the
   cost of the level barriers. (Reported only: the scheduler follows the spec's levels.)

    python bench/run_scale.py [--models 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate, generate_uneven  # noqa: E402

from flowforge_compiler.compile import compile_project  # noqa: E402
from flowforge_compiler.plan import Plan  # noqa: E402
from flowforge_compiler.profiles import resolve_profile  # noqa: E402
from flowforge_compiler.project import load_project  # noqa: E402
from runtime import open_executor, run_node  # noqa: E402
from targets.local import LevelScheduler  # noqa: E402


def ffc_run_seconds(root: Path, jobs: int, db: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "flowforge.cli", "run", str(root), "-q", "--jobs", str(jobs)],
        check=True,
        env={"FF_DUCKDB_PATH": str(db), "PATH": ""},
    )
    return time.perf_counter() - started


def eager_run(plan: Plan, root: Path, jobs: int, profile) -> float:
    """Start every node as soon as its own parents are built (no level barrier)."""
    nodes = plan.node_map()
    remaining = {n.id: set(n.depends_on) for n in plan.nodes}
    started = time.perf_counter()
    with open_executor(profile) as executor, ThreadPoolExecutor(jobs) as pool:
        running: dict[Future, str] = {}
        while remaining or running:
            for node_id in [n for n, parents in remaining.items() if not parents]:
                if len(running) >= jobs:
                    break
                del remaining[node_id]
                running[pool.submit(run_node, plan, node_id, executor=executor, root=root)] = node_id
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finished = running.pop(future)
                future.result()
                for parents in remaining.values():
                    parents.discard(finished)
    assert not remaining and nodes
    return time.perf_counter() - started


def level_run(plan: Plan, root: Path, jobs: int, profile) -> float:
    started = time.perf_counter()
    with open_executor(profile) as executor:
        summary = LevelScheduler(plan, executor, root, jobs=jobs).run([n.id for n in plan.nodes])
    assert summary.ok
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="FlowForge local run benchmarks")
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "project", args.models, python_share=0.0)
        print(f"{args.models} trivial SQL models + 1 seed, `ffc run` (compile + seed + build), median of {args.repeat}:")
        for jobs in (1, 4):
            times = [ffc_run_seconds(root, jobs, Path(tmp) / f"run{jobs}_{i}.duckdb") for i in range(args.repeat)]
            print(f"  --jobs {jobs}: {statistics.median(times):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)})")

        uneven = generate_uneven(Path(tmp) / "uneven")
        project = load_project(uneven)
        profile = resolve_profile(uneven, None, environ={"FF_DUCKDB_PATH": str(Path(tmp) / "uneven.duckdb")})
        plan = compile_project(project, profile)
        print(f"Uneven chains ({len(plan.nodes)} Python models, {len(plan.levels)} levels), --jobs 4:")
        level = statistics.median(level_run(plan, uneven, 4, profile) for _ in range(args.repeat))
        eager = statistics.median(eager_run(plan, uneven, 4, profile) for _ in range(args.repeat))
        print(f"  level scheduler: {level:.2f} s")
        print(f"  eager (start when own parents finish): {eager:.2f} s")
        print(f"  cost of level barriers: {level - eager:.2f} s ({(level / eager - 1) * 100:.0f}% longer)")


if __name__ == "__main__":
    main()
