"""Shared fixtures: small projects written to disk, the CLI in-process and as a subprocess."""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


REPO = Path(__file__).resolve().parent.parent
# tests/runtime/bigframes_env runs in the bigframes environment only (tests/runtime/test_bigquery_bigframes.py)
collect_ignore = [] if os.environ.get("FF_IN_BIGFRAMES_ENV") else ["runtime/bigframes_env"]
EXAMPLES = REPO / "examples"
# Read once, before any test clears FF_* variables: where the PostgreSQL tests may run.
PG_DSN = os.environ.get("FF_TEST_PG_DSN")


def pytest_configure(config: pytest.Config) -> None:
    """Airflow's environment before anything can import airflow (see tests/targets/airflow_env.py)."""
    from tests.targets import airflow_env

    airflow_env.configure_once()
    config.add_cleanup(airflow_env.remove)


# Under `-n 2`, tests that share an expensive per-process resource go to one worker, so it
# starts once: a module's Prefect server, Airflow metadata database, corpus builds (Spark's takes
# a minute and a half) or browser, and the session's fakesnow server (every Snowflake test, the
# Prefect module's among them). Every other test is scheduled on its own, as `--dist load` does.
_SHARED_RESOURCE = {
    "tests/targets/test_prefect.py": "fakesnow",
    "tests/runtime/test_snowflake_executor.py": "fakesnow",
    "tests/e2e/test_snowflake_cli.py": "fakesnow",
    "tests/targets/test_airflow.py": "airflow",
    "tests/compiler/test_corpus.py": "corpus",
    "tests/targets/docs/test_browser.py": "chromium",
}


def shared_resource(nodeid: str) -> str | None:
    """The group a test belongs to for scheduling (None: schedule it alone)."""
    module, _, name = nodeid.partition("::")
    return _SHARED_RESOURCE.get(module) or ("fakesnow" if "[snowflake_snowpark" in name else None)


@pytest.hookimpl(optionalhook=True)  # an environment without xdist (the bigframes one) has no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's `loadgroup` no longer groups under pytest 9 (it renames node ids, which
    pytest 9 no longer lets a plugin do), so the groups are a scope of `loadscope`."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedResourceScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return shared_resource(nodeid) or nodeid

    return SharedResourceScheduling(config, log)


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Write a project from {relative path: text}; a project.yml is added when missing (give it
    as None for a project without one: a dbt project)."""
    files = {"project.yml": "name: t\nversion: '1'\n", **files}
    for rel, text in files.items():
        if text is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(files: dict[str, str]) -> Path:
        return write_project(tmp_path / f"p{next(counter)}", files)

    return make


@pytest.fixture
def example_copy(tmp_path: Path) -> Callable[[str], Path]:
    """A fresh copy of an example project, without generated state."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns(".local", ".flowforge", "*.duckdb*", "docs"))
        return target

    return copy


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def ffc(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., CliResult]]:
    """Run `ffc` as a subprocess, the way users run it; env additions per call."""

    def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> CliResult:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("FF_", "FLOWFORGE_", "DBT_"))}
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "flowforge.cli", *map(str, args)],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=cwd,
            timeout=300,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    yield run


def require_extra(module: str, extra: str) -> Any:
    """The module of an optional extra the `dev` extra installs: without it a test skips, except
    under CI=true, where a missing dev extra is a broken install and fails the test."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs the dev extra, which holds {extra}, but {module} cannot be imported: {exc}")
        pytest.skip(f"the {extra} extra is not installed ({module})", allow_module_level=True)


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The test server's DSN. Without one the PostgreSQL tests skip, except in CI, where they fail."""
    if not PG_DSN:
        if os.environ.get("CI"):
            pytest.fail("CI must provide a PostgreSQL server: FF_TEST_PG_DSN is not set (see .ci/postgres.sh)")
        pytest.skip("no PostgreSQL server configured: set FF_TEST_PG_DSN to run these tests")
    return PG_DSN


@pytest.fixture
def pg_schema(pg_dsn: str) -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards."""
    import uuid

    import psycopg

    schema = f"ff_test_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(pg_dsn.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
        con.execute(f'drop schema if exists "{schema}" cascade')


@pytest.fixture(scope="session")
def spark_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Spark warehouse per test process, so one session (a JVM) serves all its Spark tests;
    each test takes a database of its own. Without pyspark or Java the Spark tests skip, except
    in CI, where they fail."""
    import importlib.util

    missing = [what for what, ok in (("pyspark", importlib.util.find_spec("pyspark")), ("java", shutil.which("java"))) if not ok]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Spark tests: {' and '.join(missing)} missing (see .ci/run)")
        pytest.skip(f"Spark tests need {' and '.join(missing)}: pip install -e '.[spark]' and a Java 17+ runtime")
    return tmp_path_factory.mktemp("spark") / "warehouse"


def spark_environ(warehouse: Path, database: str) -> dict[str, str]:
    """The FF_* settings of a Spark test profile (two local cores)."""
    return {"FF_ENGINE": "databricks_spark", "FF_DBR_MASTER": "local[2]", "FF_DBR_WAREHOUSE_DIR": str(warehouse), "FF_DBR_DATABASE": database}


@pytest.fixture
def spark_database(spark_warehouse: Path, tmp_path: Path) -> Iterator[str]:
    """A fresh database in the process's warehouse for one test, dropped afterwards."""
    import uuid

    from flowforge_compiler.profiles import resolve_profile
    from runtime import open_executor

    database = f"ff_test_{uuid.uuid4().hex[:10]}"
    yield database
    with open_executor(resolve_profile(tmp_path, None, environ=spark_environ(spark_warehouse, database))) as executor:
        executor.execute(executor.statements.drop_schema(database))


FAKESNOW_REQUIREMENTS = Path(__file__).parent / "fakesnow-requirements.txt"
BIGFRAMES_REQUIREMENTS = Path(__file__).parent / "bigframes-requirements.txt"


def tool_python(name: str, requirements: Path, *, with_flowforge: bool = False) -> Path:
    """The Python of `.venv-<name>`, an environment of its own for a tool whose pins FlowForge's
    cannot share; made on first use (under a lock, since test processes run side by side) and
    made again when its requirements change. `with_flowforge`: FlowForge from this repo too."""
    import fcntl
    import hashlib

    given = os.environ.get(f"FF_TEST_{name.upper()}_PYTHON")
    if given:
        return Path(given)
    venv = REPO / f".venv-{name}"
    python, ready = venv / "bin" / "python", venv / "ff-ready"
    digest = hashlib.sha256(requirements.read_bytes() + str(with_flowforge).encode()).hexdigest()
    with open(str(venv) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (ready.is_file() and ready.read_text() == digest):
            shutil.rmtree(venv, ignore_errors=True)
            _make_environment(venv, python, requirements, with_flowforge)
            ready.write_text(digest)
    return python


def _make_environment(venv: Path, python: Path, requirements: Path, with_flowforge: bool) -> None:
    """With uv (the dev extra's) in a few seconds; with pip, where uv is missing, in about a minute."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is not None:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        install = [uv, "pip", "install", "-q", "--python", str(python)]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*install, "-r", str(requirements)], check=True)
    if with_flowforge:
        subprocess.run([*install, "--no-deps", "-e", str(REPO)], check=True)


@pytest.fixture(scope="session")
def fakesnow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A fakesnow server (Snowflake's HTTP API on DuckDB, tests/runtime/fakesnow_server.py) for
    this test process: the connection options a Snowflake profile needs to reach it."""
    import socket

    require_extra("snowflake.snowpark", "snowflake")
    try:
        python = tool_python("fakesnow", FAKESNOW_REQUIREMENTS)
    except (OSError, subprocess.CalledProcessError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Snowflake tests: the fakesnow environment cannot be made ({exc})")
        pytest.skip(f"the fakesnow environment cannot be made: {exc}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("fakesnow") / "server.log"  # its output, to read when a test fails
    with log.open("w") as out:  # (a pipe nobody reads would fill up and stop the server)
        server = subprocess.Popen(
            [str(python), "-X", "faulthandler", str(Path(__file__).parent / "runtime" / "fakesnow_server.py"), str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )
    # stopped at exit, after the connector's own exit handlers (registered later, run first) let go
    atexit.register(server.terminate)
    try:
        _wait_for_port(port, server, log)
        options = {"host": "127.0.0.1", "port": port, "protocol": "http", "network_timeout": 10,
                   "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False}}
        import snowflake.connector

        with snowflake.connector.connect(account="fakesnow", user="fake", password="snow", **options) as con:
            con.cursor().execute("create database if not exists FFDB")
        yield options
    except BaseException:
        server.terminate()
        raise


def _wait_for_port(port: int, server: subprocess.Popen, log: Path) -> None:
    import socket
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the fakesnow server stopped: {log.read_text()[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"the fakesnow server did not start in 60 s: {log.read_text()[-2000:]}")


def snowflake_profiles_yml(server: dict[str, object], schema: str, *, name: str = "default") -> str:
    """profiles.yml for a Snowflake profile on the test's fakesnow server and schema."""
    import json

    settings = {"account": "fakesnow", "user": "fake", "password": "snow", "database": "FFDB", "db_schema": schema, "options": server}
    return f"{name}:\n  engine: snowflake_snowpark\n  snowflake_snowpark: {json.dumps(settings)}\n"


@pytest.fixture
def recorded_bigquery(monkeypatch: pytest.MonkeyPatch):
    """A recorded BigQuery API (tests/runtime/bigquery_api.py), which every BigQuery executor
    opened in the test talks to through the real client: no test reaches BigQuery."""
    require_extra("google.cloud.bigquery", "bigquery")
    from runtime.executors import bigquery
    from tests.runtime.bigquery_api import RecordedBigQuery

    service = RecordedBigQuery("ff-test-project")
    monkeypatch.setattr(bigquery, "make_client", lambda settings, profile: service.client(settings.location))
    return service


@pytest.fixture(autouse=True)
def _clean_ff_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not see the developer's FF_* settings."""
    for key in list(os.environ):
        if key.startswith(("FF_", "FLOWFORGE_")):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture(autouse=True)
def _reset_flowforge_logging() -> Iterator[None]:
    """The CLI configures the `flowforge` loggers when run in-process; undo it after each test."""
    import logging

    yield
    for name in ("flowforge", "flowforge.sql"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


@pytest.fixture
def kafka_mock() -> Iterator[tuple[object, str]]:
    """librdkafka's mock Kafka cluster, which lives inside a producer made with
    `test.mock.num.brokers`: a Kafka protocol server on localhost that consumers in other
    processes reach too. Not a Kafka broker: what it leaves unverified is said in the README."""
    kafka = require_extra("confluent_kafka", "kafka")
    producer = kafka.Producer({"bootstrap.servers": "unused:9092", "test.mock.num.brokers": 1, "log_level": 0})
    brokers = producer.list_topics(timeout=10).brokers.values()
    yield producer, ",".join(f"{b.host}:{b.port}" for b in brokers)
    producer.flush(10)
