"""A 1,000-model dbt project as a static Airflow DAG: FlowForge's compile time and Airflow's
parse time of the DAG file, beside what rendering dbt at DAG-parse time costs (Cosmos).

Generates a dbt project (dbt_project.yml, profiles.yml, ten folders, tests in schema.yml) and
compiles it with `ffc compile --target airflow`, cold and with the plan cached, each a fresh
process; then Airflow's DagBag parses the DAG file in fresh processes (median). With `--dbt
PATH` (a dbt executable with dbt-duckdb), it also times `dbt ls` on the same project, the
command Cosmos's default LoadMode.DBT_LS runs while parsing the DAG file on a cache miss.

    python bench/dbt_airflow_parse.py [--models 1000] [--repeat 5] [--dbt /path/to/dbt]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from airflow_parse import dag_parse_runs, print_parse_runs  # noqa: E402
from synthetic import generate_dbt  # noqa: E402

# Published by the Cosmos project (astronomer/astronomer-cosmos), for context; not measured here.
COSMOS_PUBLISHED = [
    ("LoadMode.DBT_LS_CACHE, parse of a cached project (docs/optimize_performance/optimize_rendering.rst, example log)", "0.068 s"),
    ("Variable-backed dbt ls cache on busy deployments (docs/optimize_performance/caching.rst)", "2 to 4 s added per parse"),
    ("task queueing before the dbt ls cache, jaffle_shop (PR #1014)", "~30 s, ~0.5 s with it"),
    ("hashing the dbt folder to validate the cache (cosmos/cache.py)", "0.135 s for 5,000 models"),
]


def timed(command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=cwd, capture_output=True, env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="Compile and Airflow parse time of a dbt project as a static DAG")
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dbt", type=Path, help="a dbt executable (dbt-core with dbt-duckdb) to time `dbt ls` with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate_dbt(Path(tmp) / "project", args.models)
        dags = Path(tmp) / "dags"
        compile_command = [sys.executable, "-m", "flowforge.cli", "compile", str(root), "--target", "airflow", "--out", str(dags), "-q"]
        cold = timed(compile_command)
        cached = statistics.median(timed(compile_command) for _ in range(args.repeat))
        runs = dag_parse_runs(dags, Path(tmp) / "airflow", args.repeat)
        print(f"dbt project of {args.models} models -> {runs[0]['tasks']} Airflow tasks")
        print(f"ffc compile --target airflow (whole process): {cold:.2f} s cold, {cached:.2f} s with the plan cached")
        print_parse_runs(runs)
        if args.dbt is not None:
            dbt_ls = [str(args.dbt), "ls", "--resource-type", "model", "--project-dir", str(root), "--profiles-dir", str(root)]
            timed([*dbt_ls[:1], "parse", *dbt_ls[4:]], cwd=root)  # dbt's own partial-parse file, as a warm Cosmos node has it
            runs_ls = [timed(dbt_ls, cwd=root) for _ in range(args.repeat)]
            print(f"dbt ls on the same project (what LoadMode.DBT_LS runs at DAG parse on a cache miss), median of {args.repeat}: "
                  f"{statistics.median(runs_ls):.2f} s")
    print("Cosmos's published figures (not measured here):")
    for what, figure in COSMOS_PUBLISHED:
        print(f"  {what}: {figure}")


if __name__ == "__main__":
    main()
