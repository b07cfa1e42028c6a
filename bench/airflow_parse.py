"""How long Airflow takes to import a generated 1,000-model DAG (target: under 1 s).

Generates a synthetic project (10% Python models), compiles it with `--target airflow`, then,
in several fresh processes, lets Airflow's DagBag parse the file and reports the median of
DagBag's own parse time for the file (what the DAG processor's timeout applies to) and of the
whole process (interpreter + Airflow import + parse).

    python bench/airflow_parse.py [--models 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate  # noqa: E402

PARSE = r"""
import json, sys, time
started = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
parsed = time.perf_counter()
assert not bag.import_errors, bag.import_errors
dag = next(iter(bag.dags.values()))
stats = [s for s in bag.dagbag_stats]
print(json.dumps({"airflow_import": imported - started, "dagbag": parsed - imported,
                  "file": sum(s.duration.total_seconds() if hasattr(s.duration, "total_seconds") else s.duration for s in stats),
                  "tasks": len(dag.tasks)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description="Airflow parse time of a generated DAG")
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "project", args.models)
        dags = Path(tmp) / "dags"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "flowforge.cli", "compile", str(root), "--target", "airflow", "--out", str(dags), "-q"],
            check=True,
            env={**os.environ, "FF_DUCKDB_PATH": str(Path(tmp) / "warehouse.duckdb")},  # tasks need a lasting database
        )
        compile_seconds = time.perf_counter() - started
        runs = dag_parse_runs(dags, Path(tmp) / "airflow", args.repeat)
        print(f"{args.models} models -> {runs[0]['tasks']} Airflow tasks; compile (--target airflow): {compile_seconds:.2f} s")
        print_parse_runs(runs)


def dag_parse_runs(dags: Path, airflow_home: Path, repeat: int) -> list[dict[str, float]]:
    """Airflow's DagBag parsing the one DAG file in `dags`, in `repeat` fresh processes."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
    }
    dag_file = next(dags.glob("*.py"))
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PARSE, str(dag_file)], capture_output=True, text=True, env=env, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["process"] = time.perf_counter() - started
        runs.append(result)
    return runs


def print_parse_runs(runs: list[dict[str, float]]) -> None:
    print(f"median of {len(runs)} fresh processes:")
    for key, label in [
        ("file", "DagBag parse of the DAG file (DAG processor's measure)"),
        ("dagbag", "DagBag construction incl. parse"),
        ("airflow_import", "importing Airflow itself"),
        ("process", "whole process"),
    ]:
        print(f"  {label}: {statistics.median(r[key] for r in runs):.3f} s")


if __name__ == "__main__":
    main()
