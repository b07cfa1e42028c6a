"""Generated DAGs on a real Airflow scheduler: a full build, then a run where every node is cached.

Starts Airflow 3 for real (metadata in a PostgreSQL database of its own, `airflow db migrate`,
then `api-server`, `scheduler` and `dag-processor` with the LocalExecutor), compiles a synthetic
project of 200 SQL models onto PostgreSQL into the DAGs folder once per `--granularity` (each
DAG in a schema of its own, fixed in its bundle at compile time), triggers each DAG twice and
reads each run's start and end from Airflow; `ffc run` on the same project is measured for
comparison. Everything started is stopped, and the database and schemas dropped.
Goals: the all-cached run under 10% of the full build; `group` within 3x of `ffc run`.

    FF_TEST_PG_DSN=postgresql+psycopg://USER:PASSWORD@HOST:5432/DB python bench/airflow_run.py [--models 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate  # noqa: E402

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _psql(dsn: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(dsn.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
        con.execute(statement)


def _airflow(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise SystemExit(f"airflow {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _wait_for_run(meta_dsn: str, run_id: str, timeout: float = 1800) -> tuple[str, float]:
    """Read the run from Airflow's metadata database (an `airflow` CLI call per poll would cost
    the two cores more than the scheduler)."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(meta_dsn.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
        while time.monotonic() < deadline:
            row = con.execute("select state, start_date, end_date from dag_run where run_id = %s", [run_id]).fetchone()
            if row and row[0] in ("success", "failed") and row[2] is not None:
                return row[0], (row[2] - row[1]).total_seconds()
            time.sleep(1)
    raise SystemExit(f"run {run_id} did not finish in {timeout:.0f}s")


def _trigger(env: dict[str, str], meta_dsn: str, dag_id: str) -> tuple[str, float]:
    run_id = f"bench_{uuid.uuid4().hex[:8]}"
    _airflow(env, "dags", "trigger", dag_id, "--run-id", run_id)
    return _wait_for_run(meta_dsn, run_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--dsn", default=os.environ.get("FF_TEST_PG_DSN"))
    args = parser.parse_args()
    if not args.dsn:
        raise SystemExit("set FF_TEST_PG_DSN or pass --dsn")
    tag = uuid.uuid4().hex[:8]
    meta_db, schema = f"ff_airflow_meta_{tag}", f"ff_bench_{tag}"
    granularities = ("node", "group", "dag")
    schemas = [f"{schema}_{g}" for g in granularities] + [schema]
    base, _, _ = args.dsn.rpartition("/")
    meta_dsn = f"{base}/{meta_db}".replace("postgresql+psycopg://", "postgresql+psycopg://")
    _psql(args.dsn, f'create database "{meta_db}"')
    processes: list[subprocess.Popen[bytes]] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so `finally` stops the services
    tmp = Path(tempfile.mkdtemp(prefix="ff_airflow_run_"))
    try:
        home, dags = tmp / "airflow", tmp / "airflow" / "dags"
        dags.mkdir(parents=True)
        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FF_"))},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_dsn,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
        project = generate(tmp / "project", args.models, python_share=0.0)
        (project / "profiles.yml").write_text(
            "default:\n  engine: postgres\n  postgres:\n    dsn: \"{{ env_var('BENCH_PG_DSN') }}\"\n"
            "    db_schema: \"{{ env_var('BENCH_SCHEMA') }}\"\n"
        )
        env["BENCH_PG_DSN"] = args.dsn
        started = time.perf_counter()
        _airflow(env, "db", "migrate", timeout=600)
        migrated = time.perf_counter() - started
        for service in ("api-server", "scheduler", "dag-processor"):
            log = (home / f"{service}.log").open("wb")
            processes.append(subprocess.Popen([str(BIN / "airflow"), service], env=env, stdout=log, stderr=log, start_new_session=True))
        ffc = [sys.executable, "-m", "flowforge_compiler.cli"]
        for granularity in granularities:
            subprocess.run(
                [*ffc, "compile", str(project), "--target", "airflow", "--out", str(dags), "--dag-id", f"bench_{granularity}",
                 "--granularity", granularity, "-q"],
                env={**env, "BENCH_SCHEMA": f"{schema}_{granularity}"}, check=True,
            )
        deadline = time.monotonic() + 300
        while not all(f"bench_{g}" in _airflow(env, "dags", "list", "-o", "plain") for g in granularities):
            if time.monotonic() > deadline:
                raise SystemExit("the DAG processor never listed the DAGs (see the logs in " + str(home) + ")")
            time.sleep(3)
        results = {}
        for granularity in granularities:
            _airflow(env, "dags", "unpause", f"bench_{granularity}")
            results[granularity] = (_trigger(env, meta_dsn, f"bench_{granularity}"), _trigger(env, meta_dsn, f"bench_{granularity}"))
        local_env = {**env, "BENCH_SCHEMA": schema}
        t = time.perf_counter()
        subprocess.run([*ffc, "run", str(project), "-q", "--cache-store", "warehouse"], env=local_env, check=True)
        local_full = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([*ffc, "run", str(project), "-q", "--cache-store", "warehouse"], env=local_env, check=True)
        local_cached = time.perf_counter() - t
        print(f"{args.models} SQL models + 1 seed on PostgreSQL, Airflow {_airflow(env, 'version').strip()} "
              f"(LocalExecutor, parallelism 8; db migrate took {migrated:.0f} s):")
        print(f"  {'':<22}{'full build':>12}{'all cached':>12}{'cached/full':>13}{'full/ffc run':>14}")
        for granularity, ((full_state, full), (cached_state, cached)) in results.items():
            states = "" if full_state == cached_state == "success" else f"  ({full_state}, {cached_state})"
            print(f"  {'--granularity ' + granularity:<22}{full:>11.1f}s{cached:>11.1f}s{100 * cached / full:>12.0f}%"
                  f"{full / local_full:>13.1f}x{states}")
        print(f"  {'ffc run':<22}{local_full:>11.1f}s{local_cached:>11.1f}s{100 * local_cached / local_full:>12.0f}%")
        print("  goals: all cached under 10% of the full build; group within 3x of ffc run")
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for name in schemas:
            _psql(args.dsn, f'drop schema if exists "{name}" cascade')
        _psql(args.dsn, f'drop database if exists "{meta_db}" with (force)')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
