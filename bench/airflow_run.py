"""Generated DAGs on a real Airflow scheduler: a full build, then a run where every node is cached.

Starts Airflow 3 for real (metadata in a PostgreSQL database of its own, `airflow db migrate`,
then `api-server`, `scheduler` and `dag-processor` with the LocalExecutor: the test suite's
harness, `tests/targets/airflow_services.py`), compiles a synthetic project of 200 SQL models
onto PostgreSQL into the DAGs folder once per `--granularity` (each DAG in a schema of its own,
fixed in its bundle at compile time), triggers each DAG twice and reads each run's start and end
from Airflow's metadata; `ffc run` on the same project is measured for comparison. Everything
started is stopped, and the databases and schemas dropped.
Goals: the all-cached run under 10% of the full build; `group` within 3x of `ffc run`.

    FF_TEST_PG_DSN=postgresql+psycopg://USER:PASSWORD@HOST:5432/DB python bench/airflow_run.py [--models 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from synthetic import generate  # noqa: E402

from tests.targets.airflow_services import airflow_services  # noqa: E402

GRANULARITIES = ("node", "group", "dag")


def _drop_schema(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
        con.execute(f'drop schema if exists "{schema}" cascade')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--dsn", default=os.environ.get("FF_TEST_PG_DSN"))
    args = parser.parse_args()
    if not args.dsn:
        raise SystemExit("set FF_TEST_PG_DSN or pass --dsn")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so the services are stopped
    schema = f"ff_bench_{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="ff_airflow_run_"))
    ffc = [sys.executable, "-m", "flowforge.cli"]
    try:
        project = generate(tmp / "project", args.models, python_share=0.0)
        (project / "profiles.yml").write_text(
            "default:\n  engine: postgres\n  postgres:\n    dsn: \"{{ env_var('BENCH_PG_DSN') }}\"\n"
            "    db_schema: \"{{ env_var('BENCH_SCHEMA') }}\"\n"
        )
        started = time.perf_counter()
        with airflow_services(tmp / "airflow", args.dsn, {"BENCH_PG_DSN": args.dsn}) as airflow:
            migrated = time.perf_counter() - started
            for granularity in GRANULARITIES:
                subprocess.run(
                    [*ffc, "compile", str(project), "--target", "airflow", "--out", str(airflow.dags),
                     "--dag-id", f"bench_{granularity}", "--granularity", granularity, "-q"],
                    env={**airflow.env, "BENCH_SCHEMA": f"{schema}_{granularity}"}, check=True,
                )
            airflow.wait_for_dags(*(f"bench_{g}" for g in GRANULARITIES))
            results = {}
            for granularity in GRANULARITIES:
                airflow.cli("dags", "unpause", f"bench_{granularity}")
                full, cached = (airflow.trigger(f"bench_{granularity}") for _ in range(2))
                results[granularity] = (full, cached)
            version = airflow.cli("version").strip()
        local_env = {**os.environ, "BENCH_PG_DSN": args.dsn, "BENCH_SCHEMA": schema}
        local = []
        for _ in range(2):
            t = time.perf_counter()
            subprocess.run([*ffc, "run", str(project), "-q", "--cache-store", "warehouse"], env=local_env, check=True)
            local.append(time.perf_counter() - t)
        print(f"{args.models} SQL models + 1 seed on PostgreSQL, Airflow {version} "
              f"(LocalExecutor, parallelism 8; start-up incl. db migrate {migrated:.0f} s):")
        print(f"  {'':<22}{'full build':>12}{'all cached':>12}{'cached/full':>13}{'full/ffc run':>14}")
        for granularity, ((_, full_state, full), (_, cached_state, cached)) in results.items():
            states = "" if full_state == cached_state == "success" else f"  ({full_state}, {cached_state})"
            print(f"  {'--granularity ' + granularity:<22}{full:>11.1f}s{cached:>11.1f}s{100 * cached / full:>12.0f}%"
                  f"{full / local[0]:>13.1f}x{states}")
        print(f"  {'ffc run':<22}{local[0]:>11.1f}s{local[1]:>11.1f}s{100 * local[1] / local[0]:>12.0f}%")
        print("  goals: all cached under 10% of the full build; group within 3x of ffc run")
    finally:
        for name in (schema, *(f"{schema}_{g}" for g in GRANULARITIES)):
            _drop_schema(args.dsn, name)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
