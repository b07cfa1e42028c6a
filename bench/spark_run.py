"""`ffc run` on a local Spark: the Spark example, and a synthetic project of SQL models, each a
fresh process (so every figure includes starting the JVM): a full build at `--jobs 1` and
`--jobs 4`, then a no-op re-run (every node skipped by the fingerprint cache).

    python bench/spark_run.py [--models 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def ffc(*args: str, environ: dict[str, str]) -> float:
    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FF_")} | environ
    subprocess.run([sys.executable, "-m", "flowforge.cli", *args, "-q"], check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=100)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        example = Path(tmp) / "spark"
        shutil.copytree(REPO / "examples" / "spark", example, ignore=shutil.ignore_patterns(".local"))
        print("the Spark example (7 nodes, 7 checks), `ffc build` then `ffc run`:")
        print(f"  build {ffc('build', str(example), environ={}):6.1f} s   no-op re-run {ffc('run', str(example), environ={}):6.1f} s")
        project = generate(Path(tmp) / "synthetic", options.models, python_share=0.0)
        print(f"{options.models} SQL models over one seed, `ffc run`:")
        for jobs in (1, 4):
            environ = {"FF_ENGINE": "databricks_spark", "FF_DBR_MASTER": "local[2]", "FF_DBR_WAREHOUSE_DIR": str(Path(tmp) / f"wh{jobs}")}
            full = ffc("run", str(project), "--jobs", str(jobs), environ=environ)
            again = ffc("run", str(project), "--jobs", str(jobs), environ=environ)
            print(f"  --jobs {jobs}: build {full:6.1f} s ({full / (options.models + 1) * 1000:4.0f} ms a node)   no-op re-run {again:6.1f} s")


if __name__ == "__main__":
    main()
