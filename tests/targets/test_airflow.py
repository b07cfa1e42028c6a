"""The Airflow target against real Airflow 3: DagBag import, edges, dag.test() runs, safety."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.compiler.golden import assert_golden
from tests.compiler.helpers import compile_dir
from tests.conftest import EXAMPLES, require_extra
from tests.targets.generated_code import SELECTABLE, STREAMING, append_events, assert_same_as_ffc_run, compile_target, imported_modules
from tests.targets.airflow_env import configure_once

pytestmark = pytest.mark.airflow
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def dags_folder() -> Path:
    dags = configure_once()
    require_extra("airflow", "airflow")
    from airflow.utils import db

    db.initdb()
    return dags


def compile_airflow(project: Path, dags: Path, *args: str, env: str | None = None) -> Path:
    return compile_target('airflow', project, dags, *args, env=env)


def load_dag(dags: Path, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags / f"{dag_id}.py"))
    assert bag.import_errors == {}, bag.import_errors
    return bag.get_dag(dag_id)


def task_states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_generated_dag_imports_and_matches_the_plan(dags_folder: Path) -> None:
    compile_airflow(EXAMPLES / "simple_duckdb", dags_folder, "--dag-id", "ff_shape", env="dev")
    dag = load_dag(dags_folder, "ff_shape")
    plan = compile_dir(EXAMPLES / "simple_duckdb")
    nodes = {n.id: n for n in plan.nodes}
    models = {n.relation for n in plan.nodes if n.kind != "seed"} | {f"seeds.{n.relation}" for n in plan.nodes if n.kind == "seed"}
    checks = {f"test_{nodes[c.node].relation}" for c in plan.checks if c.node}
    assert set(dag.task_ids) == models | checks | {"flowforge_plan"}
    task_of = {n.id: (f"seeds.{n.relation}" if n.kind == "seed" else n.relation) for n in plan.nodes}
    guarded = {c.node for c in plan.checks if c.node}

    def producer(node_id: str) -> str:
        return f"test_{nodes[node_id].relation}" if node_id in guarded else task_of[node_id]

    for node in plan.nodes:
        upstream = dag.get_task(task_of[node.id]).upstream_task_ids
        assert upstream == {producer(p) for p in node.depends_on} | {"flowforge_plan"}  # the plan branches to it
        assert dag.get_task(task_of[node.id]).trigger_rule == "none_failed"  # a cached parent is no failure
    relationships = next(c for c in plan.checks if c.type == "relationships")
    assert dag.get_task("test_orders").upstream_task_ids == {task_of[n] for n in relationships.nodes}
    assert (dag.schedule if hasattr(dag, "schedule") else dag.timetable) is not None
    assert not dag.catchup and dag.max_active_tasks == 1
    assert "flowforge" in dag.tags
    outlets = {o.uri for t in dag.tasks for o in t.outlets}
    warehouse = "duckdb:.local/demo.duckdb/main"  # the file as the project names it, no path of this machine
    assert f"{warehouse}/mart_users" in outlets and f"{warehouse}/users" in outlets
    assert {i.uri for i in dag.get_task("mart_users").inlets} == {f"{warehouse}/users_enriched"}
    assert dag.get_task("users").retries == 2 and dag.get_task("test_users").retries == 0
    assert dag.get_task("users").pool == "flowforge_ff_shape"
    dag_file = (dags_folder / "ff_shape.py").read_text(encoding="utf-8")
    assert str(EXAMPLES.resolve()) not in dag_file  # no path of the compiling machine in the DAG file


def test_every_schedule_ffc_accepts_is_one_airflow_accepts(dags_folder: Path, make_project, tmp_path: Path, monkeypatch) -> None:
    from flowforge_compiler.schedule import PRESETS

    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    project = make_project({"models/a.ff.sql": "select 1"})
    for index, schedule in enumerate([*PRESETS, "*/15 6-18 * * MON-FRI", "0 0 1 JAN,JUL *"]):
        compile_airflow(project, dags_folder, "--dag-id", f"ff_schedule_{index}", "--schedule", schedule)
        dag = load_dag(dags_folder, f"ff_schedule_{index}")
        assert dag.timetable is not None, schedule


def test_golden_dag_for_the_example(tmp_path: Path) -> None:
    from targets.airflow import AirflowOptions, render_dag

    plan = compile_dir(EXAMPLES / "simple_duckdb")
    assert_golden(GOLDEN / "simple_duckdb_dag.py.txt", render_dag(plan, AirflowOptions(dag_id="simple_duckdb")))


def test_dag_test_builds_the_same_tables_as_ffc_run(dags_folder: Path, tmp_path: Path, monkeypatch, ffc, example_copy) -> None:
    airflow_db = tmp_path / "airflow_built.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(airflow_db))  # read by the compile: fixed in the bundle
    compile_airflow(EXAMPLES / "simple_duckdb", dags_folder, "--dag-id", "ff_run", env="dev")
    monkeypatch.delenv("FF_DUCKDB_PATH")
    dag = load_dag(dags_folder, "ff_run")
    run = dag.test()
    assert str(run.state) == "success", task_states(run)

    assert_same_as_ffc_run(airflow_db, ffc, example_copy)


def test_failing_model_fails_its_task_and_descendants_do_not_run(dags_folder: Path, make_project, tmp_path: Path, monkeypatch) -> None:
    project = make_project(
        {
            "project.yml": "name: failing\nversion: '1'\n",
            "models/good.ff.sql": "select 1 as id",
            "models/bad.ff.sql": "select missing_column from {{ ref('good') }}",
            "models/after_bad.ff.sql": "select * from {{ ref('bad') }}",
            "models/other.ff.sql": "select * from {{ ref('good') }}",
        }
    )
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "fail.duckdb"))
    compile_airflow(project, dags_folder, "--dag-id", "ff_fail")  # --retries 2, the default
    run = load_dag(dags_folder, "ff_fail").test()
    states = task_states(run)
    assert str(run.state) == "failed"
    assert states["bad"] == "failed"  # a binder error is not retried: not up_for_retry
    assert {ti.task_id: ti.try_number for ti in run.get_task_instances()}["bad"] == 1
    assert states["after_bad"] == "upstream_failed"
    assert states["good"] == "success" and states["other"] == "success"


def test_failing_check_fails_its_task_and_blocks_downstream(dags_folder: Path, make_project, tmp_path: Path, monkeypatch) -> None:
    project = make_project(
        {
            "project.yml": "name: checked\nversion: '1'\ntests:\n  - {type: unique, table: dup, column: id}\n"
            "  - {type: not_null, table: fine, column: id}\n",
            "models/dup.ff.sql": "select 1 as id union all select 1",
            "models/after_dup.ff.sql": "select * from {{ ref('dup') }}",
            "models/fine.ff.sql": "select 2 as id",
        }
    )
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "check.duckdb"))
    compile_airflow(project, dags_folder, "--dag-id", "ff_check")
    run = load_dag(dags_folder, "ff_check").test()
    states = task_states(run)
    assert states["dup"] == "success"
    assert states["test_dup"] == "failed"
    assert states["after_dup"] == "upstream_failed"
    assert states["test_fine"] == "success"


@pytest.mark.parametrize("tests", ["after_all", "none"])
def test_check_placement_options(dags_folder: Path, tests: str) -> None:
    compile_airflow(EXAMPLES / "simple_duckdb", dags_folder, "--dag-id", f"ff_{tests}", "--tests", tests, env="dev")
    dag = load_dag(dags_folder, f"ff_{tests}")
    check_tasks = [t for t in dag.task_ids if "check" in t or t.startswith("test_")]
    assert check_tasks == (["run_all_checks"] if tests == "after_all" else [])
    if tests == "after_all":
        assert dag.get_task("run_all_checks").upstream_task_ids == {"mart_orders_enriched", "mart_users"}


def test_hostile_names_stay_inert(dags_folder: Path, make_project, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    marker = tmp_path / "pwned"
    evil = f"x'); open({str(marker)!r}, 'w'); ('"
    project = make_project(
        {
            "project.yml": "name: 'evil\"; import os #'\nversion: '1'\n",
            "models/ok.ff.sql": "select 1 as id",
            "models/evil.ff.py": "from flowforge_compiler import model\n"
            f"@model(name={evil!r}, deps=['ok.ff'])\ndef f(df):\n    return df\n",
            "models/weird/q\"uote.ff.sql": "select * from {{ ref('ok') }}",
        }
    )
    compile_airflow(project, dags_folder, "--dag-id", "ff_evil")
    dag = load_dag(dags_folder, "ff_evil")
    assert len(dag.task_ids) == 4  # the plan task and three nodes
    assert not marker.exists()
    imported = imported_modules(dags_folder / "ff_evil.py")
    # the hostile text stays inside string literals: the module imports only what every DAG imports
    assert imported == {
        "__future__", "datetime", "pathlib", "airflow.providers.standard.operators.python", "airflow.sdk",
        "airflow.sdk.exceptions", "runtime.bundle", "runtime.failures", "targets.airflow_connection", "targets.local",
    }


PG_PROFILE = """
pg:
  engine: postgres
  postgres:
    dsn: "{{ env_var('WAREHOUSE_DSN') }}"
    db_schema: "{{ env_var('WAREHOUSE_SCHEMA') }}"
"""


@pytest.mark.postgres
def test_dag_runs_on_postgres_with_checks(dags_folder: Path, example_copy, monkeypatch, pg_dsn: str, pg_schema: str) -> None:
    import psycopg

    project = example_copy("simple_duckdb")
    (project / "profiles.yml").write_text(PG_PROFILE)
    monkeypatch.setenv("WAREHOUSE_DSN", pg_dsn)
    monkeypatch.setenv("WAREHOUSE_SCHEMA", pg_schema)
    compile_airflow(project, dags_folder, "--dag-id", "ff_pg", "--jobs", "4", env="pg")
    assert pg_dsn.split("@")[0] not in (dags_folder / "ff_pg" / "profiles.yml").read_text()
    dag = load_dag(dags_folder, "ff_pg")
    assert dag.max_active_tasks == 4 and dag.get_task("users").pool == "default_pool"
    run = dag.test()
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["test_users"] == "success" and states["test_orders"] == "success"
    with psycopg.connect(pg_dsn.replace("postgresql+psycopg://", "postgresql://")) as con:
        rows = con.execute(f'select order_id, valid_amt from "{pg_schema}".mart_orders_enriched order by 1').fetchall()
    assert rows == [(100, True), (101, False)]


@pytest.mark.spark
def test_dag_runs_the_spark_example_with_the_rows_of_duckdb(
    dags_folder: Path, example_copy, monkeypatch, ffc, spark_warehouse: Path, spark_database: str
) -> None:
    """Tasks run the Spark example (Python models on Spark DataFrames) on the test process's
    session: one task at a time, since the warehouse's Derby catalog admits one process."""
    from tests.conftest import spark_environ
    from tests.targets.generated_code import example_tables_from_ffc_run, spark_example_tables

    environ = spark_environ(spark_warehouse, spark_database)
    for key, value in {**environ, "FF_DBR_MASTER": "local[1]"}.items():
        monkeypatch.setenv(key, value)  # read by the compile: fixed in the bundle
    project = example_copy("spark")
    compile_airflow(project, dags_folder, "--dag-id", "ff_spark", "--jobs", "4", "--airflow-conn", "ff_spark_local")
    for key in environ:
        monkeypatch.delenv(key)
    # the connection's master is the one the session runs on (the bundle's local[1] would be refused)
    monkeypatch.setenv("AIRFLOW_CONN_FF_SPARK_LOCAL", '{"conn_type": "spark", "host": "local[2]"}')
    dag = load_dag(dags_folder, "ff_spark")
    assert dag.max_active_tasks == 1
    run = dag.test()
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["test_users"] == "success"
    expected = {t: sorted(rows, key=repr) for t, rows in example_tables_from_ffc_run(ffc, example_copy).items()}
    assert spark_example_tables(project, environ) == expected
    rerun = task_states(load_dag(dags_folder, "ff_spark").test())
    assert rerun["users"] == "skipped" and rerun["mart_orders_enriched"] == "skipped"


def test_a_spark_connection_maps_onto_the_spark_profile(make_project, monkeypatch) -> None:
    from flowforge_compiler.errors import ProfileError
    from flowforge_compiler.profiles import resolve_profile
    from targets.airflow_connection import apply_airflow_connection

    root = make_project({"profiles.yml": "default:\n  engine: databricks_spark\n  databricks_spark: {database: raw}\n"})
    profile = resolve_profile(root, None, environ={})
    monkeypatch.setenv(
        "AIRFLOW_CONN_FF_CLUSTER",
        '{"conn_type": "spark", "host": "spark://master.example", "port": 7077, "extra": {"database": "marts", "deploy-mode": "client"}}',
    )
    settings = apply_airflow_connection(profile, "ff_cluster").engine_settings
    assert (settings.master, settings.database, settings.warehouse_dir) == ("spark://master.example:7077", "marts", str(root / ".local/spark-warehouse"))
    monkeypatch.setenv("AIRFLOW_CONN_FF_NO_HOST", '{"conn_type": "spark"}')
    with pytest.raises(ProfileError, match="has no Spark master"):
        apply_airflow_connection(profile, "ff_no_host")


@pytest.mark.bigquery
def test_dag_runs_the_example_on_a_recorded_bigquery_api_with_a_gcp_connection(
    dags_folder: Path, example_copy, monkeypatch, recorded_bigquery
) -> None:
    """What the tasks send to BigQuery (through the real client, on the recorded API: not
    BigQuery itself): the DAG file imports no Google library, the connection's project is the
    one the jobs run in, its key never reaches the bundle, and every node is built once."""
    project = example_copy("simple_duckdb")
    (project / "profiles.yml").write_text("bq:\n  engine: bigquery\n  bigquery: {project: placeholder, dataset: marts, location: EU}\n")
    compile_airflow(project, dags_folder, "--dag-id", "ff_bq", "--jobs", "4", "--airflow-conn", "ff_gcp", env="bq")
    assert not {m for m in imported_modules(dags_folder / "ff_bq.py") if m.startswith("google")}
    key = {"type": "service_account", "private_key": "secret-key-material"}  # read by the worker only
    monkeypatch.setenv("AIRFLOW_CONN_FF_GCP", json.dumps({"conn_type": "google_cloud_platform", "extra": {"project": "ff-test-project", "keyfile_dict": key}}))
    dag = load_dag(dags_folder, "ff_bq")
    assert dag.max_active_tasks == 4
    run = dag.test()
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["test_users"] == "success"
    built = {j.destination for j in recorded_bigquery.jobs if j.destination}
    assert {"marts.users", "marts.mart_orders_enriched", "marts.users_enriched"} <= built
    assert all(j.configuration["query"]["defaultDataset"]["projectId"] == "ff-test-project" for j in recorded_bigquery.queries())
    assert {j.labels["flowforge_node"] for j in recorded_bigquery.jobs if j.destination == "marts.users"} == {"users_ff"}
    written = [p for p in (dags_folder / "ff_bq").rglob("*") if p.is_file()] + [dags_folder / "ff_bq.py"]
    assert not [p for p in written if b"secret-key-material" in p.read_bytes()]


def test_a_service_account_key_in_profiles_yml_never_reaches_the_bundle(dags_folder: Path, make_project) -> None:
    key = json.dumps({"type": "service_account", "private_key": "secret-key-material"})
    profiles = "bq:\n  engine: bigquery\n  bigquery: {project: p1, dataset: marts, keyfile_json: '" + key + "'}\n"
    project = make_project({"models/a.ff.sql": "select 1 as v", "profiles.yml": profiles})
    compile_airflow(project, dags_folder, "--dag-id", "ff_bq_key", env="bq")
    import yaml

    bundle_profile = (dags_folder / "ff_bq_key" / "profiles.yml").read_text()
    assert "secret-key-material" not in bundle_profile
    assert yaml.safe_load(bundle_profile)["bq"]["bigquery"]["keyfile_json"] == "{{ env_var('FF_BQ_BIGQUERY_KEYFILE_JSON') }}"


def test_a_gcp_connection_maps_onto_the_bigquery_profile(make_project, monkeypatch) -> None:
    from flowforge_compiler.errors import ProfileError
    from flowforge_compiler.profiles import resolve_profile
    from targets.airflow_connection import apply_airflow_connection

    root = make_project({"profiles.yml": "default:\n  engine: bigquery\n  bigquery: {dataset: marts}\n"})
    profile = resolve_profile(root, None, environ={})
    key = {"type": "service_account", "project_id": "p1", "private_key": "secret-key-material"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_FF_GCP",
        json.dumps({"conn_type": "google_cloud_platform", "extra": {"project": "p1", "keyfile_dict": key, "location": "EU"}}),
    )
    settings = apply_airflow_connection(profile, "ff_gcp").engine_settings
    assert (settings.project, settings.dataset, settings.location) == ("p1", "marts", "EU")
    assert json.loads(settings.keyfile_json) == key
    monkeypatch.setenv(
        "AIRFLOW_CONN_FF_OLD", json.dumps({"conn_type": "google_cloud_platform", "extra": {"extra__google_cloud_platform__key_path": "/k.json", "extra__google_cloud_platform__project": "p2"}})
    )
    settings = apply_airflow_connection(profile, "ff_old").engine_settings
    assert (settings.project, settings.keyfile) == ("p2", "/k.json")
    monkeypatch.setenv("AIRFLOW_CONN_FF_EMPTY", '{"conn_type": "google_cloud_platform"}')
    with pytest.raises(ProfileError, match="names no Google Cloud project or key"):
        apply_airflow_connection(profile, "ff_empty")


@pytest.mark.snowflake
def test_dag_runs_on_a_fakesnow_server_with_a_snowflake_connection(dags_folder: Path, make_project, monkeypatch, fakesnow_server) -> None:
    """Tasks build through Snowpark on the suite's fakesnow server (not Snowflake): the DAG
    file imports no Snowflake library, the connection's login and password are the ones used,
    and the password never reaches the bundle."""
    import uuid

    from tests.conftest import snowflake_profiles_yml

    schema = f"ff_dag_{uuid.uuid4().hex[:8]}"
    profiles = snowflake_profiles_yml(fakesnow_server, schema, name="sf").replace('"user": "fake", "password": "snow"', '"user": "placeholder"')
    project = make_project({**SELECTABLE, "profiles.yml": profiles})
    compile_airflow(project, dags_folder, "--dag-id", "ff_sf", "--jobs", "2", "--airflow-conn", "ff_snowflake", env="sf")
    assert not {m for m in imported_modules(dags_folder / "ff_sf.py") if m.startswith("snowflake")}
    monkeypatch.setenv(
        "AIRFLOW_CONN_FF_SNOWFLAKE",
        json.dumps({"conn_type": "snowflake", "login": "fake", "password": "snow", "schema": schema, "extra": {"account": "fakesnow"}}),
    )
    run = load_dag(dags_folder, "ff_sf").test()
    assert str(run.state) == "success", task_states(run)
    written = [p for p in (dags_folder / "ff_sf").rglob("*") if p.is_file()] + [dags_folder / "ff_sf.py"]
    assert not [p for p in written if b'"snow"' in p.read_bytes()]
    from flowforge_compiler.profiles import resolve_profile
    from runtime import open_executor

    with open_executor(resolve_profile(project, "sf").with_engine_settings(user="fake", password="snow")) as executor:
        assert executor.fetch_rows("select v from b") == [(1,)] and executor.fetch_rows("select v from inc") == [(1,)]


def test_a_snowflake_connection_maps_onto_the_snowflake_profile(make_project, monkeypatch) -> None:
    from flowforge_compiler.errors import ProfileError
    from flowforge_compiler.profiles import resolve_profile
    from targets.airflow_connection import apply_airflow_connection

    root = make_project({"profiles.yml": "default:\n  engine: snowflake_snowpark\n  snowflake_snowpark: {account: a0, user: u0, database: DB}\n"})
    profile = resolve_profile(root, None, environ={})
    monkeypatch.setenv(
        "AIRFLOW_CONN_FF_SF",
        json.dumps({"conn_type": "snowflake", "login": "etl", "password": "pw", "schema": "MARTS",
                    "extra": {"account": "xy12345", "warehouse": "WH", "role": "ETL", "database": "PROD"}}),
    )
    settings = apply_airflow_connection(profile, "ff_sf").engine_settings
    assert (settings.account, settings.user, settings.password, settings.db_schema) == ("xy12345", "etl", "pw", "MARTS")
    assert (settings.warehouse, settings.role, settings.database) == ("WH", "ETL", "PROD")
    monkeypatch.setenv("AIRFLOW_CONN_FF_OLD", json.dumps({"conn_type": "snowflake", "login": "etl", "extra": {"extra__snowflake__account": "old1"}}))
    assert apply_airflow_connection(profile, "ff_old").engine_settings.account == "old1"
    bare = make_project({"profiles.yml": "default:\n  engine: snowflake_snowpark\n  snowflake_snowpark: {account: '', user: '', database: DB}\n"})
    monkeypatch.setenv("AIRFLOW_CONN_FF_EMPTY", '{"conn_type": "snowflake"}')
    with pytest.raises(ProfileError, match="names no Snowflake account or login"):
        apply_airflow_connection(resolve_profile(bare, None, environ={}), "ff_empty")


def test_rerun_of_an_unchanged_dag_skips_every_node_and_a_change_rebuilds_only_downstream(
    dags_folder: Path, example_copy, tmp_path: Path, monkeypatch
) -> None:
    project = example_copy("simple_duckdb")
    db = tmp_path / "rerun.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(db))

    runs = []

    def run_and_count_builds() -> dict[str, int]:  # FF_DUCKDB_PATH is read by each compile
        compile_airflow(project, dags_folder, "--dag-id", "ff_rerun", env="dev")
        run = load_dag(dags_folder, "ff_rerun").test()
        assert str(run.state) == "success", task_states(run)
        runs.append(task_states(run))
        with duckdb.connect(str(db), read_only=True) as con:
            return dict(con.execute("select node_name, count(*) from _ff_meta group by 1").fetchall())

    first = run_and_count_builds()
    assert set(first.values()) == {1} and len(first) == 7
    assert run_and_count_builds() == first  # nothing rebuilt
    # the plan task asked the warehouse once; node tasks finished as skipped, checks still ran
    node_tasks = {"users", "orders", "users_enriched", "mart_orders_enriched", "mart_users", "seeds.seed_users", "seeds.seed_orders"}
    assert {runs[1][t] for t in node_tasks} == {"skipped"} and runs[1]["flowforge_plan"] == "success"
    # checks still ran (and passed), then ended skipped: their nodes were not built, so no Asset event
    assert {s for t, s in runs[1].items() if t.startswith("test_")} == {"skipped"}
    model = project / "models" / "users.ff.sql"
    model.write_text(model.read_text().replace("lower(trim(email))", "lower(email)"))
    third = run_and_count_builds()
    rebuilt = {node for node, count in third.items() if count == 2}
    assert rebuilt == {"users.ff", "users_enriched", "mart_orders_enriched", "mart_users.ff"}


@pytest.mark.postgres
def test_airflow_connection_supplies_the_credentials_in_the_worker(
    dags_folder: Path, example_copy, monkeypatch, pg_dsn: str, pg_schema: str
) -> None:
    import psycopg

    from targets.airflow_connection import apply_airflow_connection
    from flowforge_compiler.errors import ProfileError
    from flowforge_compiler.profiles import resolve_profile

    project = example_copy("simple_duckdb")
    (project / "profiles.yml").write_text(
        f"viaconn:\n  engine: postgres\n  postgres: {{dsn: 'postgresql://nobody@placeholder/none', db_schema: {pg_schema}}}\n"
    )
    compile_airflow(project, dags_folder, "--dag-id", "ff_conn", "--airflow-conn", "ff_test_pg", env="viaconn")
    source = (dags_folder / "ff_conn.py").read_text()
    assert "AIRFLOW_CONN = 'ff_test_pg'" in source and "flowforge@" not in source
    monkeypatch.setenv("AIRFLOW_CONN_FF_TEST_PG", pg_dsn.replace("postgresql+psycopg://", "postgresql://"))
    run = load_dag(dags_folder, "ff_conn").test()
    assert str(run.state) == "success", task_states(run)
    with psycopg.connect(pg_dsn.replace("postgresql+psycopg://", "postgresql://")) as con:
        assert con.execute(f'select count(*) from "{pg_schema}".mart_users').fetchone() == (3,)

    profile = resolve_profile(dags_folder / "ff_conn", "viaconn")
    with pytest.raises(ProfileError, match="Airflow connection 'no_such_conn' cannot be read"):
        apply_airflow_connection(profile, "no_such_conn")


def test_the_dag_processor_skips_bundle_folders(dags_folder: Path, make_project, tmp_path: Path, monkeypatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    project = make_project(
        {
            "models/a.ff.sql": "select 1 as v",
            # words the DAG processor looks for, and an import only the worker can satisfy
            "models/py.ff.py": '"""Not an Airflow DAG."""\nimport ff_worker_only_module\nfrom flowforge import model\n\n\n'
            '@model(name="py")\ndef build():\n    return ff_worker_only_module.frame()\n',
        }
    )
    dags = tmp_path / "dags"
    (dags / ".airflowignore").parent.mkdir()
    (dags / ".airflowignore").write_text("# mine\nscratch/\n")
    compile_airflow(project, dags, "--dag-id", "shop")
    compile_airflow(project, dags, "--dag-id", "shop")
    assert (dags / ".airflowignore").read_text() == "# mine\nscratch/\nshop/\n"  # kept, one line added once
    bag = DagBag(dag_folder=str(dags))
    assert bag.import_errors == {} and bag.dag_ids == ["shop"]
    (dags / ".airflowignore").unlink()
    bag = DagBag(dag_folder=str(dags))
    assert any("py.ff.py" in path for path in bag.import_errors)  # what the ignore file prevents


def test_airflow_conn_works_with_a_profile_variable_that_has_no_default(
    dags_folder: Path, make_project, tmp_path: Path, monkeypatch
) -> None:
    from runtime.bundle import bundle_profile, load_bundle_plan
    from targets.airflow_connection import airflow_settings

    project = make_project(
        {
            "models/a.ff.sql": "select 1 as v",
            "profiles.yml": "prod:\n  engine: postgres\n  postgres:\n    dsn: \"{{ env_var('FF_TEST_NEVER_SET_DSN') }}\"\n    db_schema: marts\n",
        }
    )
    compile_airflow(project, tmp_path / "dags", "--dag-id", "conn", "--airflow-conn", "ff_conn_nodefault", env="prod")
    bundle = tmp_path / "dags" / "conn"
    monkeypatch.setenv("AIRFLOW_CONN_FF_CONN_NODEFAULT", "postgresql://app:pw@warehouse.internal:5433/analytics")
    profile = bundle_profile(bundle, load_bundle_plan(bundle), airflow_settings("ff_conn_nodefault"))
    profile.require_resolved()
    assert profile.engine_settings.dsn.endswith("@warehouse.internal:5433/analytics")
    assert profile.engine_settings.db_schema == "marts"


def test_task_timeout_and_backoff_reach_every_task(dags_folder: Path, tmp_path: Path, monkeypatch) -> None:
    from datetime import timedelta

    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    compile_airflow(EXAMPLES / "simple_duckdb", dags_folder, "--dag-id", "ff_timeout", "--task-timeout", "90")
    dag = load_dag(dags_folder, "ff_timeout")
    for task in dag.tasks:
        assert task.execution_timeout == timedelta(seconds=90)
        assert task.retry_exponential_backoff == 2.0 and task.max_retry_delay == timedelta(minutes=10)


def test_assets_name_the_warehouse_object_so_other_schemas_never_collide(dags_folder: Path, make_project, tmp_path: Path) -> None:
    project = make_project(
        {
            "models/orders.ff.sql": "select 1 as id",
            "profiles.yml": "".join(
                f"{name}:\n  engine: postgres\n  postgres: {{dsn: 'postgresql://app@db.internal:5433/shop', db_schema: {name}}}\n"
                for name in ("staging", "prod")
            ),
        }
    )
    uris = {}
    for env in ("staging", "prod"):
        compile_airflow(project, dags_folder, "--dag-id", f"ff_assets_{env}", env=env)
        uris[env] = {o.uri for t in load_dag(dags_folder, f"ff_assets_{env}").tasks for o in t.outlets}
    assert uris == {env: {f"postgres://db.internal:5433/shop/{env}/orders"} for env in ("staging", "prod")}


def test_a_cached_run_fires_no_asset_event(dags_folder: Path, make_project, tmp_path: Path, monkeypatch) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "events.duckdb"))
    project = make_project(
        {
            "project.yml": "name: events\nversion: '1'\ntests:\n  - {type: not_null, table: b, column: v}\n",
            "models/a.ff.sql": "select 1 as v",
            "models/b.ff.sql": "select v from {{ ref('a') }}",  # its Asset is published by its check task
        }
    )
    compile_airflow(project, dags_folder, "--dag-id", "ff_events")
    uri = f"duckdb:{(tmp_path / 'events.duckdb').resolve()}/main/b"

    def events() -> int:
        with create_session() as session:
            return session.query(AssetEvent).filter(AssetEvent.source_dag_id == "ff_events").count()

    assert str(load_dag(dags_folder, "ff_events").test().state) == "success"
    assert events() == 2 and uri in {o.uri for t in load_dag(dags_folder, "ff_events").tasks for o in t.outlets}
    second = load_dag(dags_folder, "ff_events").test()
    assert str(second.state) == "success"
    assert task_states(second)["test_b"] == "skipped"  # its checks ran and passed; b was not built
    assert events() == 2  # both nodes cached: nothing published, not even by the check task


def test_project_airflow_settings_and_model_docs_reach_the_dag(dags_folder: Path, make_project, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    project = make_project(
        {
            "project.yml": "name: shop\nversion: '1'\nairflow:\n  owner: data-team\n  tags: [finance]\n  depends_on_past: true\n",
            "models/a.ff.sql": "{{ config(description='Orders, one row each') }}\nselect '```' as fence, 1 as v",
        }
    )
    compile_airflow(project, dags_folder, "--dag-id", "ff_settings")
    dag = load_dag(dags_folder, "ff_settings")
    task = dag.get_task("a")
    assert "finance" in dag.tags and task.owner == "data-team"
    assert task.depends_on_past
    assert "Orders, one row each" in task.doc_md
    assert "````sql\nselect '```' as fence, 1 as v\n````" in task.doc_md  # the SQL cannot close its fence


@pytest.mark.parametrize("granularity", ["group", "dag"])
def test_group_and_dag_granularity_build_the_same_tables(
    dags_folder: Path, tmp_path: Path, monkeypatch, ffc, example_copy, granularity: str
) -> None:
    db = tmp_path / f"{granularity}.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(db))
    compile_airflow(EXAMPLES / "simple_duckdb", dags_folder, "--dag-id", f"ff_{granularity}", "--granularity", granularity, env="dev")
    dag = load_dag(dags_folder, f"ff_{granularity}")
    if granularity == "group":
        assert set(dag.task_ids) == {"seeds", "models"} and dag.get_task("models").upstream_task_ids == {"seeds"}
    else:
        assert dag.task_ids == ["flowforge_build"]
    run = dag.test()
    assert str(run.state) == "success", task_states(run)
    assert_same_as_ffc_run(db, ffc, example_copy)
    assert str(load_dag(dags_folder, f"ff_{granularity}").test().state) == "success"  # all cached
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from _ff_meta").fetchone() == (7,)  # nothing built twice


def test_a_failing_check_fails_its_group_task(dags_folder: Path, make_project, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "g.duckdb"))
    project = make_project(
        {
            "project.yml": "name: grouped\nversion: '1'\ntests:\n  - {type: unique, table: dup, column: id}\n",
            "models/dup.ff.sql": "select 1 as id union all select 1",
            "models/marts/after.ff.sql": "select * from {{ ref('dup') }}",
        }
    )
    compile_airflow(project, dags_folder, "--dag-id", "ff_group_fail", "--granularity", "group")
    dag = load_dag(dags_folder, "ff_group_fail")
    states = task_states(dag.test())
    marts = next(t for t in dag.task_ids if t.startswith("models_marts"))
    assert states["models"] == "failed" and states[marts] == "upstream_failed"


def test_groups_that_read_each_other_become_one_task(make_project, tmp_path: Path) -> None:
    from targets.task_graph import group_graph
    from tests.compiler.helpers import compile_dir

    project = make_project(
        {
            "models/a/one.ff.sql": "select 1 as v",
            "models/b/two.ff.sql": "select v from {{ ref('one') }}",
            "models/a/three.ff.sql": "select v from {{ ref('two') }}",
            "models/c/four.ff.sql": "select v from {{ ref('three') }}",
        }
    )
    tasks = group_graph(compile_dir(project), "group")
    assert [set(t.nodes) for t in tasks] == [{"one.ff", "two.ff", "three.ff"}, {"four.ff"}]
    assert tasks[1].upstream == (tasks[0].key,)


def test_trigger_time_select_and_full_refresh(dags_folder: Path, make_project, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "params.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(db))
    project = make_project(SELECTABLE)
    compile_airflow(project, dags_folder, "--dag-id", "ff_params")

    def run(conf: dict) -> dict[str, str]:
        dag_run = load_dag(dags_folder, "ff_params").test(run_conf=conf)
        assert str(dag_run.state) == "success", task_states(dag_run)
        return task_states(dag_run)

    assert run({"select": ["a"]}) == {"flowforge_plan": "success", "a": "success", "b": "skipped", "inc": "skipped"}
    with duckdb.connect(str(db), read_only=True) as con:
        assert {r[0] for r in con.execute("select node_name from _ff_meta").fetchall()} == {"a.ff"}
    assert run({})["inc"] == "success" and run({})["inc"] == "skipped"  # built, then cached
    assert run({"full_refresh": True})["inc"] == "success"  # an incremental model rebuilt whole


def test_a_stream_runs_as_a_micro_batch_task_with_its_streaming_checks_after_it(
    dags_folder: Path, make_project, tmp_path: Path, monkeypatch
) -> None:
    """Each DAG run takes in what the file gained since the last (a stream is never cached);
    its checks and the model reading its table run after it."""
    project = make_project(STREAMING)
    append_events(project, 0, 90)
    db = tmp_path / "clicks.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(db))
    compile_airflow(project, dags_folder, "--dag-id", "ff_clicks")
    dag = load_dag(dags_folder, "ff_clicks")
    assert dag.get_task("test_fct_sessions_streaming").upstream_task_ids == {"fct_sessions_streaming"}
    assert "test_fct_sessions_streaming" in dag.get_task("daily_revenue").upstream_task_ids  # its checks gate the readers
    run = dag.test()
    assert str(run.state) == "success", task_states(run)
    append_events(project, 90, 30)
    run = load_dag(dags_folder, "ff_clicks").test()
    assert str(run.state) == "success", task_states(run)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*), sum(pageviews) from fct_sessions_streaming").fetchone() == (3, 120)
        assert con.execute("select pageviews, revenue from daily_revenue").fetchone() == (120, 180)


def test_an_unmodified_dbt_project_compiles_to_a_dag_that_imports_and_builds_dbts_rows(dags_folder: Path, tmp_path: Path) -> None:
    from tests.e2e.test_dbt_projects import FIXTURES, TABLES, as_csv, jaffle_shop

    project = jaffle_shop(tmp_path)  # with a dbt profiles.yml: DuckDB at jaffle.duckdb
    compile_airflow(project, dags_folder, "--dag-id", "ff_jaffle_shop")
    dag = load_dag(dags_folder, "ff_jaffle_shop")
    assert {"customers", "orders", "staging.stg_orders", "staging.test_stg_orders", "seeds.raw_orders", "test_orders"} <= set(dag.task_ids)
    run = dag.test()
    assert str(run.state) == "success", task_states(run)
    for table in TABLES:
        expected = (FIXTURES / "jaffle_shop_expected" / f"{table}.csv").read_text()
        assert as_csv(project / "jaffle.duckdb", table, tmp_path / f"{table}.csv") == expected, table


def test_a_dbt_project_with_dbt_utils_installed_runs_as_a_dag_with_dbts_rows(dags_folder: Path, tmp_path: Path) -> None:
    from tests.e2e.test_dbt_projects import FIXTURES, UTILS_TABLES, as_csv, utils_shop

    project = utils_shop(tmp_path)  # dbt_utils in dbt_packages/, as dbt deps leaves it
    compile_airflow(project, dags_folder, "--dag-id", "ff_utils_shop")
    run = load_dag(dags_folder, "ff_utils_shop").test()
    assert str(run.state) == "success", task_states(run)  # its warn-severity test warns, it does not fail the run
    for table in UTILS_TABLES:
        expected = (FIXTURES / "utils_shop_expected" / f"{table}.csv").read_text()
        assert as_csv(project / "utils_shop.duckdb", table, tmp_path / f"{table}.csv") == expected, table


def test_a_dbt_model_rendered_at_run_time_and_a_failing_one_run_as_dbt_runs_them(dags_folder: Path, tmp_path: Path) -> None:
    """tests/fixtures/dbt/edge_cases/run_time_rendering as a DAG: the models that read the
    warehouse while rendering render in their tasks; the one that fails when it renders fails its
    task, its child is upstream_failed, every other task succeeds, with dbt-core's recorded rows."""
    import shutil

    from tests.e2e.test_dbt_edge_cases import FIXTURES, dbt_did, relations

    project = tmp_path / "run_time"
    shutil.copytree(FIXTURES / "edge_cases" / "run_time_rendering", project)
    compile_airflow(project, dags_folder, "--dag-id", "ff_run_time")
    run = load_dag(dags_folder, "ff_run_time").test()
    states = task_states(run)
    assert states["fails_when_run"] == "failed" and states["after_failure"] == "upstream_failed", states
    assert {states[t] for t in ("kinds_pivot", "numeric_columns", "found_relations", "pivot_child", "independent")} == {"success"}, states
    assert states["test_kinds_pivot"] == "success", states  # its tests, two of them rendered in the task with the warehouse
    assert relations(project / "edge.duckdb") == dbt_did("run_time_rendering")["relations"]


@pytest.mark.slow
def test_the_dbt_date_package_suite_runs_as_a_dag_as_dbt_built_it(dags_folder: Path, tmp_path: Path) -> None:
    """godatadriven/dbt-date's own integration tests (tests/fixtures/dbt/suites) as a generated
    DAG run with dag.test(): every task succeeds and every table equals what dbt-core built."""
    from tests.fixtures.dbt.suites.record_suites import duckdb_relations, installed, suite_profiles
    from tests.fixtures.dbt.suites.run_suites import compare_table, expected

    project = installed("dbt_date", tmp_path)
    profiles = suite_profiles(tmp_path / "profiles", tmp_path / "suite.duckdb", "unused")
    compile_airflow(project, dags_folder, "--dag-id", "ff_dbt_date", "--profiles-dir", str(profiles))
    run = load_dag(dags_folder, "ff_dbt_date").test()
    assert str(run.state) == "success", task_states(run)
    recorded = expected("dbt_date", "duckdb")["relations"]
    built = duckdb_relations(tmp_path / "suite.duckdb")
    assert {name: compare_table(recorded[name], built[name]) for name in recorded} == dict.fromkeys(recorded, "equal")


@pytest.mark.slow
def test_the_dbt_utils_package_suite_runs_as_a_dag_as_dbt_built_it(dags_folder: Path, tmp_path: Path) -> None:
    """dbt-labs/dbt-utils' own integration tests as a generated DAG run with dag.test(): the
    three models dbt-duckdb fails on fail their tasks, every other model task succeeds, and the
    tables are dbt's but for the differences tests/e2e/test_dbt_suites.py lists."""
    from tests.e2e.test_dbt_suites import KNOWN
    from tests.fixtures.dbt.suites.record_suites import duckdb_relations, installed, suite_profiles
    from tests.fixtures.dbt.suites.run_suites import compare_table, expected

    project = installed("dbt_utils", tmp_path)
    profiles = suite_profiles(tmp_path / "profiles", tmp_path / "suite.duckdb", "unused")
    compile_airflow(project, dags_folder, "--dag-id", "ff_dbt_utils", "--profiles-dir", str(profiles))
    dag = load_dag(dags_folder, "ff_dbt_utils")
    states = {task.rsplit(".", 1)[-1]: state for task, state in task_states(dag.test()).items()}  # a task id is its folder, then the node
    dbt = expected("dbt_utils", "duckdb")
    assert {name for name, status in dbt["nodes"].items() if status == "error"} == {t for t, state in states.items() if state == "failed" and t in dbt["nodes"]}
    assert {states[name] for name, status in dbt["nodes"].items() if status == "success"} == {"success"}
    built = duckdb_relations(tmp_path / "suite.duckdb")
    differing = {name for name in dbt["relations"] if name not in built or compare_table(dbt["relations"][name], built[name]) != "equal"}
    assert differing == set(KNOWN[("dbt_utils", "duckdb")])
