"""Compile time and peak memory for synthetic projects of 1,000 / 5,000 / 10,000 models (10% Python).

Each size is compiled in a fresh process (load + render + parse + graph + fingerprints +
plan.json), so the peak memory is that compile's own: once cold, then again with the SQL-stage
cache the first compile left (`warm`), as a second `ffc` command on an unchanged project would.
Targets on a 2-core machine: 10,000 models under 3 s cold.

    python bench/compile_scale.py [--sizes 1000 5000 10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate  # noqa: E402

MEASURE = r"""
import json, resource, sys, time
from pathlib import Path
started = time.perf_counter()
from flowforge_compiler.compile import compile_project
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from flowforge_compiler.sql_cache import SqlCache
imported = time.perf_counter()
project = load_project(Path(sys.argv[1]))
loaded = time.perf_counter()
cache = SqlCache.for_project(project.root)
plan = compile_project(project, resolve_profile(project.root, None), cache=cache)
plan.write(Path(sys.argv[1]) / ".flowforge" / "plan.json")
cache.save()
done = time.perf_counter()
print(json.dumps({"import": imported - started, "load": loaded - imported, "compile": done - loaded,
                  "total": done - started, "nodes": len(plan.nodes), "levels": len(plan.levels),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    args = parser.parse_args()
    print(f"{'models':>8} {'nodes':>7} {'levels':>7} {'run':>5} {'load s':>8} {'compile s':>10} {'total s':>8} {'peak MB':>8}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = generate(Path(tmp) / "project", size)
            for run in ("cold", "warm"):
                out = subprocess.run([sys.executable, "-c", MEASURE, str(root)], capture_output=True, text=True, check=True)
                r = json.loads(out.stdout)
                print(
                    f"{size:>8} {r['nodes']:>7} {r['levels']:>7} {run:>5} {r['load']:>8.2f} {r['compile']:>10.2f} "
                    f"{r['total']:>8.2f} {r['peak_mb']:>8.0f}"
                )


if __name__ == "__main__":
    main()
