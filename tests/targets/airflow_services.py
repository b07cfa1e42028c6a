"""A real Airflow 3 deployment for a test or a benchmark: metadata in PostgreSQL, LocalExecutor.

`airflow db migrate`, then `api-server`, `scheduler` and `dag-processor` as background processes
(logs in AIRFLOW_HOME), all stopped on exit, with the metadata database dropped. Runs are
triggered with the `airflow` command and read from the metadata database (an `airflow` call per
poll would cost a 2-core machine more than the scheduler does).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


def _libpq(dsn: str) -> str:
    return dsn.replace("postgresql+psycopg://", "postgresql://")


def _execute(dsn: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(_libpq(dsn), autocommit=True) as con:
        con.execute(statement)


@dataclass
class Airflow:
    home: Path
    env: dict[str, str]
    meta_dsn: str

    @property
    def dags(self) -> Path:
        return self.home / "dags"

    def cli(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run([str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def wait_for_dags(self, *dag_ids: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not all(d in self.cli("dags", "list", "-o", "plain") for d in dag_ids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the DAG processor never listed {dag_ids} (logs in {self.home})")
            time.sleep(3)

    def trigger(self, dag_id: str, timeout: float = 1800) -> tuple[str, str, float]:
        """Trigger a run and wait for it: (run id, final state, seconds from its start to its end)."""
        import psycopg

        run_id = f"ff_{uuid.uuid4().hex[:8]}"
        self.cli("dags", "trigger", dag_id, "--run-id", run_id)
        deadline = time.monotonic() + timeout
        with psycopg.connect(_libpq(self.meta_dsn), autocommit=True) as con:
            while time.monotonic() < deadline:
                row = con.execute("select state, start_date, end_date from dag_run where run_id = %s", [run_id]).fetchone()
                if row and row[0] in ("success", "failed") and row[2] is not None:
                    return run_id, row[0], (row[2] - row[1]).total_seconds()
                time.sleep(1)
        raise RuntimeError(f"run {run_id} did not finish in {timeout:.0f}s (logs in {self.home})")

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        import psycopg

        with psycopg.connect(_libpq(self.meta_dsn), autocommit=True) as con:
            rows = con.execute("select task_id, state from task_instance where dag_id = %s and run_id = %s", [dag_id, run_id])
            return {task: str(state) for task, state in rows.fetchall()}


@contextmanager
def airflow_services(home: Path, server_dsn: str, extra_env: dict[str, str] | None = None) -> Iterator[Airflow]:
    """Airflow running against a fresh metadata database on the server of `server_dsn`."""
    meta_db = f"ff_airflow_meta_{uuid.uuid4().hex[:8]}"
    meta_dsn = f"{server_dsn.rpartition('/')[0]}/{meta_db}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (home / "dags").mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FF_"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_dsn if "+psycopg" in meta_dsn else meta_dsn.replace("postgresql://", "postgresql+psycopg://"),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    _execute(server_dsn, f'create database "{meta_db}"')
    processes: list[subprocess.Popen[bytes]] = []
    airflow = Airflow(home, env, meta_dsn)
    try:
        airflow.cli("db", "migrate", timeout=600)
        for service in ("api-server", "scheduler", "dag-processor"):
            log = (home / f"{service}.log").open("wb")
            processes.append(subprocess.Popen([str(BIN / "airflow"), service], env=env, stdout=log, stderr=log, start_new_session=True))
        yield airflow
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
                process.wait()
        _execute(server_dsn, f'drop database if exists "{meta_db}" with (force)')
