"""The Prefect target against real Prefect 3 (a temporary local server, no external one)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.compiler.golden import assert_golden
from tests.compiler.helpers import compile_dir
from tests.conftest import EXAMPLES, require_extra
from tests.targets.generated_code import SELECTABLE, STREAMING, append_events, assert_same_as_ffc_run, compile_target, imported_modules

pytestmark = pytest.mark.prefect
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory) -> str:
    home = tmp_path_factory.mktemp("prefect")
    os.environ.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "results"),
            "PREFECT_SERVER_MEMO_STORE_PATH": str(home / "memo.toml"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
    )
    require_extra("prefect", "prefect")
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


def compile_prefect(project: Path, out: Path, *args: str, env: str | None = None) -> Path:
    return compile_target('prefect', project, out, *args, env=env)


def load_flow_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"ff_flow_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_counts(flow_state) -> dict[str, int]:
    """Task name -> how many times it ran (1: never retried)."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read() -> dict[str, int]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_state.state_details.flow_run_id]))
            )
            return {r.name.rsplit("-", 1)[0]: r.run_count for r in runs}

    return asyncio.run(read())


def run_example_flow(path: Path, *, workers: int):
    """Run a compiled example flow that must complete, its checks included, with `workers` threads."""
    module = load_flow_module(path)
    assert module.MAX_WORKERS == workers
    state = module.flow(return_state=True)
    assert state.is_completed(), state.message
    assert task_states(state)["test_users"] == "COMPLETED"
    return state


def task_states(flow_state) -> dict[str, str]:
    """Task name -> final state type, read back from the API (the server's view).

    The server records task states a moment after the flow returns, so read until none is
    still RUNNING (a task that never ran stays PENDING, which is final here).
    """
    import asyncio
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read() -> dict[str, str]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_state.state_details.flow_run_id]))
            )
            # a task run's state may not be written yet just after its flow run ends: still running
            return {r.name.rsplit("-", 1)[0]: r.state.type.value if r.state is not None else "RUNNING" for r in runs}

    deadline = time.monotonic() + 30
    states = asyncio.run(read())
    while "RUNNING" in states.values() and time.monotonic() < deadline:
        time.sleep(0.2)
        states = asyncio.run(read())
    return states


def test_golden_flow_for_the_example() -> None:
    from targets.prefect import PrefectOptions, render_flow

    plan = compile_dir(EXAMPLES / "simple_duckdb")
    assert_golden(GOLDEN / "simple_duckdb_flow.py.txt", render_flow(plan, PrefectOptions(flow_name="simple_duckdb")))


def test_flow_builds_the_same_tables_as_ffc_run(prefect_api: str, tmp_path: Path, monkeypatch, ffc, example_copy) -> None:
    flow_db = tmp_path / "prefect_built.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(flow_db))  # read by the compile: fixed in the bundle
    out = compile_prefect(EXAMPLES / "simple_duckdb", tmp_path / "flows", env="dev")
    monkeypatch.delenv("FF_DUCKDB_PATH")
    module = load_flow_module(out / "simple_duckdb.py")
    state = module.flow(return_state=True)
    assert state.is_completed(), state.message
    states = task_states(state)
    assert set(states.values()) == {"COMPLETED"} and len(states) == 12  # the plan, 7 nodes, 4 check tasks

    assert_same_as_ffc_run(flow_db, ffc, example_copy)


def test_failed_model_fails_the_run_and_skips_only_its_descendants(prefect_api: str, make_project, tmp_path: Path, monkeypatch) -> None:
    project = make_project(
        {
            "project.yml": "name: failing\nversion: '1'\ntests:\n  - {type: unique, table: dup, column: id}\n",
            "models/good.ff.sql": "select 1 as id",
            "models/bad.ff.sql": "select missing_column from {{ ref('good') }}",
            "models/after_bad.ff.sql": "select * from {{ ref('bad') }}",
            "models/other.ff.sql": "select * from {{ ref('good') }}",
            "models/dup.ff.sql": "select 1 as id union all select 1",
            "models/after_dup.ff.sql": "select * from {{ ref('dup') }}",
        }
    )
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "fail.duckdb"))
    out = compile_prefect(project, tmp_path / "flows")  # --retries 2, the default
    state = load_flow_module(out / "failing.py").flow(return_state=True)
    assert state.is_failed()
    states = task_states(state)
    assert states["bad"] == "FAILED" and states["test_dup"] == "FAILED"
    assert run_counts(state)["bad"] == 1  # a binder error is not retried
    assert states["after_bad"] != "COMPLETED" and states["after_dup"] != "COMPLETED"
    assert states["good"] == states["other"] == states["dup"] == "COMPLETED"
    with duckdb.connect(str(tmp_path / "fail.duckdb"), read_only=True) as con:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    assert tables == {"good", "other", "dup", "_ff_meta"}


def test_running_the_module_runs_the_flow_once(prefect_api: str, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "script.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(db))
    out = compile_prefect(EXAMPLES / "simple_duckdb", tmp_path / "flows", "--flow-name", "as_script", env="dev")
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "FF_DUCKDB_PATH": str(tmp_path / "ignored.duckdb")}
    proc = subprocess.run([sys.executable, str(out / "as_script.py")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from mart_orders_enriched").fetchone() == (2,)
    assert not (tmp_path / "ignored.duckdb").exists()  # the worker's FF_* variables redirect nothing


def test_running_the_module_exits_non_zero_when_the_flow_run_fails(prefect_api: str, make_project, tmp_path: Path, monkeypatch) -> None:
    project = make_project({"models/good.ff.sql": "select 1 as id", "models/bad.ff.sql": "select nope from {{ ref('good') }}"})
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "f.duckdb"))
    out = compile_prefect(project, tmp_path / "flows", "--retries", "0", "--flow-name", "fails")
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    proc = subprocess.run([sys.executable, str(out / "fails.py")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]


def test_hostile_names_stay_inert(make_project, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    marker = tmp_path / "pwned"
    evil = f"x'); open({str(marker)!r}, 'w'); ('"
    project = make_project(
        {
            "project.yml": "name: 'evil\"; import os #'\nversion: '1'\n",
            "models/ok.ff.sql": "select 1 as id",
            "models/evil.ff.py": "from flowforge_compiler import model\n"
            f"@model(name={evil!r}, deps=['ok.ff'])\ndef f(df):\n    return df\n",
        }
    )
    out = compile_prefect(project, tmp_path / "flows", "--flow-name", "evil_flow")
    module_path = out / "evil_flow.py"
    imported = imported_modules(module_path)
    assert imported == {
        "__future__", "sys", "contextlib", "pathlib", "prefect", "prefect.cache_policies", "prefect.task_runners", "prefect.tasks",
        "prefect.logging", "logging", "threading", "runtime.bundle", "runtime.failures",
    }
    module = load_flow_module(module_path)
    assert [row[1] for row in module.TASKS if row[0] == "node"] == ["ok.ff", evil]
    assert module.FLOW_NAME == "evil_flow" and not marker.exists()


@pytest.mark.postgres
def test_flow_runs_on_postgres_with_checks(prefect_api: str, example_copy, tmp_path: Path, monkeypatch, pg_dsn: str, pg_schema: str) -> None:
    import psycopg

    from tests.targets.test_airflow import PG_PROFILE

    project = example_copy("simple_duckdb")
    (project / "profiles.yml").write_text(PG_PROFILE)
    monkeypatch.setenv("WAREHOUSE_DSN", pg_dsn)
    monkeypatch.setenv("WAREHOUSE_SCHEMA", pg_schema)
    out = compile_prefect(project, tmp_path / "flows", "--jobs", "3", "--flow-name", "pg_flow", env="pg")
    run_example_flow(out / "pg_flow.py", workers=3)
    with psycopg.connect(pg_dsn.replace("postgresql+psycopg://", "postgresql://")) as con:
        rows = con.execute(f'select id, is_gmail from "{pg_schema}".users_enriched order by 1').fetchall()
    assert rows == [(1, False), (2, True), (3, True)]


@pytest.mark.spark
def test_flow_runs_the_spark_example_with_the_rows_of_duckdb(
    prefect_api: str, example_copy, tmp_path: Path, monkeypatch, ffc, spark_warehouse: Path, spark_database: str
) -> None:
    from tests.conftest import spark_environ
    from tests.targets.generated_code import example_tables_from_ffc_run, spark_example_tables

    environ = spark_environ(spark_warehouse, spark_database)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)  # read by the compile: fixed in the bundle
    project = example_copy("spark")
    out = compile_prefect(project, tmp_path / "flows", "--jobs", "3", "--flow-name", "spark_flow")
    for key in environ:
        monkeypatch.delenv(key)
    run_example_flow(out / "spark_flow.py", workers=1)  # one process at a time on the warehouse's Derby catalog
    expected = {t: sorted(rows, key=repr) for t, rows in example_tables_from_ffc_run(ffc, example_copy).items()}
    assert spark_example_tables(project, environ) == expected


@pytest.mark.bigquery
def test_flow_runs_the_example_on_a_recorded_bigquery_api(prefect_api: str, example_copy, tmp_path: Path, recorded_bigquery) -> None:
    """Tasks run in threads of this process, so they talk to the recorded API (not BigQuery):
    every node is one job writing its table, labelled with its node, several at once."""
    project = example_copy("simple_duckdb")
    (project / "profiles.yml").write_text("bq:\n  engine: bigquery\n  bigquery: {project: ff-test-project, dataset: marts}\n")
    out = compile_prefect(project, tmp_path / "flows", "--jobs", "3", "--flow-name", "bq_flow", env="bq")
    run_example_flow(out / "bq_flow.py", workers=3)
    writes = {j.destination: j.labels["flowforge_node"] for j in recorded_bigquery.jobs if j.destination and j.write_disposition == "WRITE_TRUNCATE"}
    assert writes["marts.users"] == "users_ff" and writes["marts.users_enriched"] == "users_enriched"
    assert sorted(recorded_bigquery.rows("marts", "users_enriched")) == [(1, "a@example.com", False), (2, "b@gmail.com", True), (3, "c@gmail.com", True)]


@pytest.mark.snowflake
def test_flow_runs_on_a_fakesnow_server(prefect_api: str, make_project, tmp_path: Path, monkeypatch, fakesnow_server) -> None:
    """Snowpark sessions on the suite's fakesnow server (not Snowflake), one per task thread."""
    import uuid

    from flowforge_compiler.profiles import resolve_profile
    from runtime import open_executor
    from tests.conftest import snowflake_profiles_yml
    from tests.targets.generated_code import SELECTABLE

    project = make_project({**SELECTABLE, "profiles.yml": snowflake_profiles_yml(fakesnow_server, f"ff_flow_{uuid.uuid4().hex[:8]}")})
    out = compile_prefect(project, tmp_path / "flows", "--jobs", "2", "--flow-name", "sf_flow")
    assert not [p for p in out.rglob("*") if p.is_file() and b'"snow"' in p.read_bytes()]  # the password stays out
    monkeypatch.setenv("FF_DEFAULT_SNOWFLAKE_SNOWPARK_PASSWORD", "snow")  # where the bundle's profile reads it
    state = load_flow_module(out / "sf_flow.py").flow(return_state=True)
    assert state.is_completed(), state.message
    with open_executor(resolve_profile(project, None)) as executor:
        assert executor.fetch_rows("select v from b") == [(1,)] and executor.fetch_rows("select count(*) from _ff_meta") == [(3,)]


def test_rerun_of_an_unchanged_flow_skips_every_node(prefect_api: str, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "rerun.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(db))
    out = compile_prefect(EXAMPLES / "simple_duckdb", tmp_path / "flows", "--flow-name", "rerun", env="dev")
    module = load_flow_module(out / "rerun.py")
    assert module.flow(return_state=True).is_completed()
    second = module.flow(return_state=True)
    assert second.is_completed()
    statuses = [f.result()["status"] for f in second.result() if isinstance(f.result(), dict) and "status" in f.result()]
    assert statuses == ["skipped"] * 7
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from _ff_meta").fetchone() == (7,)


def test_task_timeout_and_transient_only_retries(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    out = compile_prefect(EXAMPLES / "simple_duckdb", tmp_path / "flows", "--flow-name", "timed", "--task-timeout", "90")
    module = load_flow_module(out / "timed.py")
    assert module.run_node.timeout_seconds == 90 and module.run_checks.timeout_seconds == 90
    assert module.run_node.retries == 2 and module.run_node.retry_delay_seconds == [30, 60]
    assert module.run_node.retry_condition_fn is module.retry_when_transient


def test_project_tags_and_logs_reach_prefect(prefect_api: str, make_project, tmp_path: Path, monkeypatch) -> None:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    project = make_project({"project.yml": "name: shop\nversion: '1'\nprefect: {tags: [nightly]}\n", "models/a.ff.sql": "select 1 as v"})
    module = load_flow_module(compile_prefect(project, tmp_path / "flows", "--flow-name", "logged") / "logged.py")
    assert "nightly" in module.TAGS and "nightly" in module.run_node.tags
    import logging

    task_runs = logging.getLogger("prefect.task_runs")
    monkeypatch.setattr(task_runs, "level", logging.INFO)  # the harness logs at WARNING
    state = module.flow(return_state=True)
    assert state.is_completed()

    async def messages() -> list[str]:
        async with get_client() as client:
            logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id])))
            return [log.message for log in logs]

    import time

    deadline, found = time.monotonic() + 30, []
    while time.monotonic() < deadline and not any("built a.ff" in m for m in found):
        time.sleep(0.5)
        found = asyncio.run(messages())
    assert any("built a.ff as table a: 1 rows" in m for m in found), found


def test_flow_parameters_select_and_full_refresh(prefect_api: str, make_project, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "params.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(db))
    project = make_project(SELECTABLE)
    module = load_flow_module(compile_prefect(project, tmp_path / "flows", "--flow-name", "params") / "params.py")

    def statuses(**parameters) -> dict[str, str]:
        state = module.flow(return_state=True, **parameters)
        assert state.is_completed()
        return {f.result()["node_id"]: f.result()["status"] for f in state.result() if "status" in (f.result() or {})}

    assert statuses(select=["a"]) == {"a.ff": "built", "b.ff": "skipped", "inc.ff": "skipped"}
    assert statuses()["inc.ff"] == "built" and statuses()["inc.ff"] == "skipped"
    assert statuses(full_refresh=True)["inc.ff"] == "built"


def test_deploy_uses_the_project_schedule_and_a_real_worker_runs_it(prefect_api: str, tmp_path: Path, monkeypatch) -> None:
    import asyncio
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    db = tmp_path / "deployed.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(db))
    out = compile_prefect(EXAMPLES / "simple_duckdb", tmp_path / "flows", "--flow-name", "deployed", env="dev")
    module = load_flow_module(out / "deployed.py")

    async def create_pool() -> None:
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name="ff-test-pool", type="process"), overwrite=True)

    asyncio.run(create_pool())
    deployment_id = module.deploy("ff-test-pool")

    async def deployment_and_run():
        async with get_client() as client:
            deployment = await client.read_deployment(deployment_id)
            flow_run = await client.create_flow_run_from_deployment(deployment_id)
            return deployment, flow_run

    deployment, flow_run = asyncio.run(deployment_and_run())
    assert [s.schedule.cron for s in deployment.schedules] == ["0 0 * * *"]  # project.yml's @daily
    assert "flowforge" in deployment.tags
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    worker = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", "ff-test-pool", "--run-once"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        output, _ = worker.communicate(timeout=300)
    finally:
        worker.kill()

    async def final_state():
        async with get_client() as client:
            return (await client.read_flow_run(flow_run.id)).state

    deadline, state = time.monotonic() + 60, asyncio.run(final_state())
    while not state.is_final() and time.monotonic() < deadline:
        time.sleep(1)
        state = asyncio.run(final_state())
    assert state.is_completed(), output[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from mart_orders_enriched").fetchone() == (2,)


def test_a_stream_runs_as_a_micro_batch_task_in_each_flow_run(prefect_api: str, make_project, tmp_path: Path, monkeypatch) -> None:
    project = make_project(STREAMING)
    append_events(project, 0, 60)
    db = tmp_path / "clicks.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(db))
    out = compile_prefect(project, tmp_path / "flows")
    module = load_flow_module(out / "clicks.py")
    assert module.flow(return_state=True).is_completed()
    append_events(project, 60, 60)
    state = module.flow(return_state=True)
    assert state.is_completed()
    assert task_states(state)["fct_sessions_streaming"] == "COMPLETED"
    assert task_states(state)["test_fct_sessions_streaming"] == "COMPLETED"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*), sum(pageviews), sum(revenue) from fct_sessions_streaming").fetchone() == (3, 120, 180)


def test_an_unmodified_dbt_project_runs_as_a_prefect_flow_with_dbts_rows(prefect_api: str, tmp_path: Path) -> None:
    from tests.e2e.test_dbt_projects import FIXTURES, TABLES, as_csv, jaffle_shop

    project = jaffle_shop(tmp_path)  # with a dbt profiles.yml: DuckDB at jaffle.duckdb
    out = compile_prefect(project, tmp_path / "flows")
    state = load_flow_module(out / "jaffle_shop.py").flow(return_state=True)
    assert state.is_completed(), state.message
    states = task_states(state)
    assert set(states.values()) == {"COMPLETED"} and "test_orders" in states
    for table in TABLES:
        expected = (FIXTURES / "jaffle_shop_expected" / f"{table}.csv").read_text()
        assert as_csv(project / "jaffle.duckdb", table, tmp_path / f"{table}.csv") == expected, table


def test_a_dbt_project_with_dbt_utils_installed_runs_as_a_prefect_flow_with_dbts_rows(prefect_api: str, tmp_path: Path) -> None:
    from tests.e2e.test_dbt_projects import FIXTURES, UTILS_TABLES, as_csv, utils_shop

    project = utils_shop(tmp_path)
    out = compile_prefect(project, tmp_path / "flows")
    state = load_flow_module(out / "utils_shop.py").flow(return_state=True)
    assert state.is_completed(), state.message
    for table in UTILS_TABLES:
        expected = (FIXTURES / "utils_shop_expected" / f"{table}.csv").read_text()
        assert as_csv(project / "utils_shop.duckdb", table, tmp_path / f"{table}.csv") == expected, table


def test_a_dbt_model_rendered_at_run_time_and_a_failing_one_run_as_a_prefect_flow_as_dbt_runs_them(prefect_api: str, tmp_path: Path) -> None:
    """tests/fixtures/dbt/edge_cases/run_time_rendering as a flow: run-time rendering in the
    tasks; the model that fails when it renders fails, its child does not run, the rest
    completes with dbt-core's recorded rows."""
    import shutil

    from tests.e2e.test_dbt_edge_cases import FIXTURES, dbt_did, relations

    project = tmp_path / "run_time"
    shutil.copytree(FIXTURES / "edge_cases" / "run_time_rendering", project)
    out = compile_prefect(project, tmp_path / "flows")
    state = load_flow_module(out / "run_time.py").flow(return_state=True)
    assert state.is_failed()
    states = task_states(state)
    assert states["fails_when_run"] == "FAILED" and states["after_failure"] != "COMPLETED", states
    assert {states[t] for t in ("kinds_pivot", "numeric_columns", "found_relations", "pivot_child", "independent")} == {"COMPLETED"}, states
    assert states["test_kinds_pivot"] == "COMPLETED", states  # its tests, two of them rendered in the task with the warehouse
    assert relations(project / "edge.duckdb") == dbt_did("run_time_rendering")["relations"]
