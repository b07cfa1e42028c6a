"""Compile time and peak memory for synthetic projects of 1,000 / 5,000 / 10,000 models (10% Python).

Each size is compiled in a fresh process (load + render + parse + graph + fingerprints +
plan.json), so the peak memory is that compile's own: once cold, once after one model is edited
(the SQL-stage cache serves the rest) and once more with nothing changed (the plan cache serves
the whole plan), as successive `ffc` commands would.
Targets on a 2-core machine: 10,000 models under 3 s cold and under 0.5 s when nothing changed.

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
from flowforge_compiler.paths import project_root
from flowforge_compiler.plan_cache import compile_cached
from flowforge_compiler.profiles import resolve_profile
imported = time.perf_counter()
root = project_root(Path(sys.argv[1]))
profile = resolve_profile(root, None)
plan = compile_cached(root, profile)
compiled = time.perf_counter()
plan.write(root / ".flowforge" / "plan.json")
done = time.perf_counter()
print(json.dumps({"import": imported - started, "compile": compiled - imported, "write": done - compiled,
                  "total": done - started, "nodes": len(plan.nodes), "levels": len(plan.levels),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
RUNS = (
    ("cold", "no cache"),
    ("edit", "one model edited: the SQL-stage cache serves the other models"),
    ("same", "nothing changed: the plan cache serves the whole plan"),
)


def _edit_one_model(root: Path) -> None:
    model = sorted((root / "models").glob("*.ff.sql"))[len(list((root / "models").glob("*.ff.sql"))) // 2]
    model.write_text(model.read_text() + "\n-- edited\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    args = parser.parse_args()
    print(f"{'models':>8} {'nodes':>7} {'levels':>7} {'run':>5} {'import s':>9} {'compile s':>10} {'write s':>8} {'total s':>8} {'peak MB':>8}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = generate(Path(tmp) / "project", size)
            for run, _ in RUNS:
                if run == "edit":
                    _edit_one_model(root)
                out = subprocess.run([sys.executable, "-c", MEASURE, str(root)], capture_output=True, text=True, check=True)
                r = json.loads(out.stdout)
                print(
                    f"{size:>8} {r['nodes']:>7} {r['levels']:>7} {run:>5} {r['import']:>9.2f} {r['compile']:>10.2f} "
                    f"{r['write']:>8.2f} {r['total']:>8.2f} {r['peak_mb']:>8.0f}"
                )
    print()
    for run, meaning in RUNS:
        print(f"{run}: {meaning}")
    print("compile s: load + render + parse + transpile + graph + fingerprints (or the cached plan read back);")
    print("write s: plan.json for `ffc compile`; total s: the process after interpreter start-up")


if __name__ == "__main__":
    main()
