"""What the BigQuery executor sends to BigQuery, through the real google-cloud-bigquery client
handed a recorded HTTP session (tests/runtime/bigquery_api.py): no test here reaches BigQuery.
They prove the jobs FlowForge submits (SQL, destination, write disposition, labels, default
dataset) and how it handles BigQuery's answers; the rows they read back are computed by DuckDB
from the submitted GoogleSQL, so they are not evidence of what BigQuery would compute.
`test_live_*` runs against a real BigQuery project when FF_TEST_BQ_PROJECT is set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flowforge_compiler.errors import ModelBuildError, ProfileError, ProjectFileError, RequiredColumnsError
from flowforge_compiler.profiles import resolve_profile
from runtime import open_executor, run_check, run_node
from runtime.cache import CachePolicy
from targets.local import LevelScheduler
from tests.compiler.helpers import compile_dir
from tests.runtime.bigquery_api import RecordedBigQuery
from tests.runtime.helpers import VIEW_CHAIN
from tests.conftest import require_extra
from tests.runtime.test_checks import CASES, DATA

pytestmark = pytest.mark.bigquery
require_extra("google.cloud.bigquery", "bigquery")

PROJECT, DATASET = "ff-test-project", "analytics"
ENVIRON = {"FF_ENGINE": "bigquery", "FF_BQ_PROJECT": PROJECT, "FF_BQ_DATASET": DATASET}
PY = "from flowforge_compiler import model\n"


@pytest.fixture
def bq(recorded_bigquery: RecordedBigQuery) -> RecordedBigQuery:
    return recorded_bigquery


def build(root: Path, *, full_refresh: bool = False, cache: bool = False, jobs: int = 1):
    plan = compile_dir(root, environ=ENVIRON)
    with open_executor(resolve_profile(root, None, environ=ENVIRON)) as executor:
        if cache or jobs > 1:
            policy = CachePolicy.for_run(plan, executor, root, "default") if cache else None
            return plan, LevelScheduler(plan, executor, root, cache=policy, jobs=jobs).run([n.id for n in plan.nodes]).results
        return plan, [run_node(plan, n.id, executor=executor, root=root, full_refresh=full_refresh) for n in plan.nodes]


def test_a_table_is_one_query_job_writing_its_destination_with_write_truncate(make_project, bq) -> None:
    root = make_project({"models/t.ff.sql": "select 1 as id union all select 2"})
    build(root)
    (job,) = [j for j in bq.queries() if j.destination]
    assert job.destination == f"{DATASET}.t" and job.write_disposition == "WRITE_TRUNCATE"
    assert job.default_dataset == DATASET
    assert job.configuration["query"]["useLegacySql"] is False
    assert bq.rows(DATASET, "t") == [(1,), (2,)]
    # A rebuild is the same one job: BigQuery replaces the table atomically, no temporary table or rename.
    build(root)
    rebuilt = [j for j in bq.queries() if j.destination]
    assert len(rebuilt) == 2 and all("__ff_tmp" not in (j.sql or "") and "RENAME" not in (j.sql or "") for j in bq.queries())


def test_every_job_is_labelled_with_the_project_and_the_node(make_project, bq) -> None:
    root = make_project({"models/Orders-Daily.ff.sql": "select 1 as id", "seeds/s.csv": "a\n1\n"})
    plan, _ = build(root)
    (model,) = [j for j in bq.jobs if j.destination == f"{DATASET}.Orders-Daily"]
    assert model.labels == {"flowforge": "true", "flowforge_project": plan.project.name, "flowforge_node": "orders-daily_ff"}
    (seed,) = bq.loads()
    assert seed.labels["flowforge_node"] == "s" and seed.write_disposition == "WRITE_TRUNCATE"
    assert all(j.labels.get("flowforge") == "true" for j in bq.jobs)


def test_generated_sql_is_googlesql_with_backticked_names(make_project, bq) -> None:
    root = make_project({"models/t.ff.sql": "select 1 as id", "models/v.ff.sql": "{{ config(materialized='view') }}select id from {{ ref('t') }}"})
    build(root)
    sql = "\n".join(j.sql or "" for j in bq.queries())
    assert "CREATE TABLE IF NOT EXISTS `_ff_meta`" in sql and "built_at TIMESTAMP" in sql
    assert "INSERT INTO `_ff_meta` VALUES ('t.ff', 't'," in sql
    assert "CREATE OR REPLACE VIEW `v` AS" in sql and '"' not in sql


def test_materializations_send_the_jobs_that_build_and_rebuild_tables_and_views(make_project, bq) -> None:
    root = make_project(VIEW_CHAIN)
    build(root)
    assert sorted(bq.rows(DATASET, "vv")) == [(22,), (42,)]
    assert bq.tables(DATASET) == {"t": "TABLE", "v": "VIEW", "vv": "VIEW", "_ff_meta": "TABLE"}
    # A view may replace a table of its name, and a table a view.
    (root / "models/t.ff.sql").write_text("{{ config(materialized='view') }}select id as v from {{ ref('base') }}")
    build(root)
    assert bq.tables(DATASET)["t"] == "VIEW" and sorted(bq.rows(DATASET, "vv")) == [(4,), (6,)]
    (root / "models/t.ff.sql").write_text("select id as v from {{ ref('base') }}")
    build(root)
    assert bq.tables(DATASET)["t"] == "TABLE"


def test_a_failed_query_job_leaves_the_previous_table_and_its_rows(make_project, bq) -> None:
    root = make_project({"models/t.ff.sql": "select 1 as id union all select 2"})
    build(root)
    (root / "models/t.ff.sql").write_text("select 3 as id")
    bq.fail_next["SELECT 3 AS id"] = "Bad int64 value: x"  # what BigQuery would answer for a failing query
    with pytest.raises(ModelBuildError, match="Bad int64 value"):
        build(root)
    assert bq.rows(DATASET, "t") == [(1,), (2,)]
    assert set(bq.tables(DATASET)) == {"t", "_ff_meta"}


def _incremental(strategy: str) -> str:
    """An incremental model reading all of `raw.events`, which each test replaces between runs."""
    return (
        f"{{{{ config(materialized='incremental', unique_key='id', incremental_strategy='{strategy}') }}}}\n"
        "select id, v from {{ source('raw', 'events') }}"
    )


SOURCES = "sources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: events\n"


@pytest.mark.parametrize("strategy", ["merge", "delete+insert", "append"])
def test_incremental_sends_one_transaction_script_with_the_nodes_meta_row(make_project, bq, strategy: str) -> None:
    root = make_project({"models/inc.ff.sql": _incremental(strategy), "sources.yml": SOURCES})
    client = bq.client()
    client.query("create schema raw; create table raw.events as select 1 as id, 'a' as v union all select 2, 'b'").result()
    build(root)
    client.query("create or replace table raw.events as select 2 as id, 'B' as v union all select 3, 'c'").result()
    build(root)
    script = bq.queries()[-2].sql  # then the temporary table is dropped
    assert script.startswith("BEGIN TRANSACTION;") and script.endswith("COMMIT TRANSACTION;")
    assert "INSERT INTO `_ff_meta`" in script
    if strategy == "merge":
        assert "MERGE INTO `inc` AS `ff_old` USING `inc__ff_tmp` AS `ff_new` ON `ff_old`.`id` = `ff_new`.`id`" in script
        assert "WHEN MATCHED THEN UPDATE SET `v` = `ff_new`.`v`" in script
    elif strategy == "delete+insert":
        assert "DELETE FROM `inc` AS `ff_old` WHERE EXISTS" in script and "MERGE" not in script
    else:
        assert "DELETE" not in script and "MERGE" not in script
    expected = [(1, "a"), (2, "B"), (3, "c")] if strategy != "append" else [(1, "a"), (2, "B"), (2, "b"), (3, "c")]
    assert sorted(bq.rows(DATASET, "inc")) == expected
    assert "inc__ff_tmp" not in bq.tables(DATASET)


def test_a_failed_incremental_script_is_one_job_so_nothing_is_applied_or_published(make_project, bq) -> None:
    root = make_project({"models/inc.ff.sql": _incremental("merge"), "sources.yml": SOURCES})
    client = bq.client()
    client.query("create schema raw; create table raw.events as select 1 as id, 'a' as v").result()
    build(root)
    meta_rows = len(bq.rows(DATASET, "_ff_meta"))
    client.query("create or replace table raw.events as select 2 as id, 'b' as v").result()
    bq.fail_next["BEGIN TRANSACTION"] = "Transaction is aborted due to concurrent update"
    with pytest.raises(ModelBuildError, match="concurrent update"):
        build(root)
    assert bq.rows(DATASET, "inc") == [(1, "a")] and len(bq.rows(DATASET, "_ff_meta")) == meta_rows


def test_incremental_columns_are_read_from_tables_get_not_a_query(make_project, bq) -> None:
    root = make_project({"models/inc.ff.sql": _incremental("append"), "sources.yml": SOURCES})
    client = bq.client()
    client.query("create schema raw; create table raw.events as select 1 as id, 'a' as v").result()
    build(root)
    (root / "models/inc.ff.sql").write_text(_incremental("append").replace("select id, v", "select id, v, 1 as extra"))
    with pytest.raises(ModelBuildError, match="--full-refresh"):
        build(root)
    assert not any("LIMIT 0" in (j.sql or "") for j in bq.queries())  # read from tables.get, not a query


def test_python_models_receive_pandas_and_their_result_loads_as_parquet(make_project, bq) -> None:
    model = (
        PY + "import pandas as pd\n"
        "@model(name='p', deps=['src.ff'], requires={'src': {'id'}})\n"
        "def f(src):\n"
        "    assert isinstance(src, pd.DataFrame), type(src)\n"
        "    out = src.copy()\n"
        "    out['double'] = out['id'] * 2\n"
        "    return out\n"
    )
    root = make_project({"models/src.ff.sql": "select 1 as id union all select 2", "models/p.ff.py": model})
    build(root)
    (load,) = bq.loads()
    config = load.configuration["load"]
    assert load.destination == f"{DATASET}.p" and config["sourceFormat"] == "PARQUET" and config["writeDisposition"] == "WRITE_TRUNCATE"
    assert load.labels["flowforge_node"] == "p"
    assert sorted(bq.rows(DATASET, "p")) == [(1, 2), (2, 4)]


def test_python_model_missing_a_required_column_names_it(make_project, bq) -> None:
    model = PY + "@model(name='p', deps=['src.ff'], requires={'src': {'nope'}})\ndef f(src):\n    return src\n"
    root = make_project({"models/src.ff.sql": "select 1 as id", "models/p.ff.py": model})
    with pytest.raises(RequiredColumnsError, match="nope"):
        build(root)


def test_seeds_load_as_parquet_and_typed_seeds_cast_in_one_query_job(make_project, bq) -> None:
    root = make_project({
        "seeds/plain.csv": "id,name\n1,a\n2,b\n",
        "seeds/typed.csv": "id,amount\n1,1.50\n",
        "seeds/schema.yml": "seeds:\n  typed:\n    column_types:\n      amount: decimal(10,2)\n",
    })
    build(root)
    assert {j.destination for j in bq.loads()} == {f"{DATASET}.plain", f"{DATASET}.typed__ff_seed"}
    (typed,) = [j for j in bq.queries() if j.destination == f"{DATASET}.typed"]
    assert "CAST(`amount` AS NUMERIC)" in typed.sql and typed.write_disposition == "WRITE_TRUNCATE"
    assert "typed__ff_seed" not in bq.tables(DATASET)
    assert sorted(bq.rows(DATASET, "plain")) == [(1, "a"), (2, "b")]


def test_checks_run_as_googlesql_queries_and_report_each_failure(make_project, bq) -> None:
    tests = "".join(f"  - {check}\n" for check, _, _ in CASES)
    root = make_project({**DATA, "project.yml": f"name: t\nversion: '1'\ntests:\n{tests}"})
    plan, _ = build(root)
    before = len(bq.queries())
    with open_executor(resolve_profile(root, None, environ=ENVIRON)) as executor:
        for check, (spec, passes, message) in zip(plan.checks, CASES, strict=True):
            result = run_check(check, executor)
            assert result.status == ("pass" if passes else "fail"), (spec, result.message)
            if message:
                assert message in result.message, (spec, result.message)
    sql = "\n".join(j.sql or "" for j in bq.queries()[before:])
    assert "UNIX_MICROS(CAST(CURRENT_TIMESTAMP() AS TIMESTAMP))" in sql and '"' not in sql


def test_the_cache_reads_meta_in_one_query_and_skips_unchanged_nodes(make_project, bq) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as id", "models/b.ff.sql": "select id from {{ ref('a') }}"})
    _, first = build(root, cache=True)
    assert [r.status for r in first] == ["built", "built"]
    before = len(bq.queries())
    _, second = build(root, cache=True)
    assert [r.status for r in second] == ["skipped", "skipped"]
    new = bq.queries()[before:]
    assert [j.sql for j in new if "_ff_meta" in (j.sql or "")] and not [j for j in new if j.destination]
    assert any("UNIX_MICROS(CAST(built_at AS TIMESTAMP)) / 1000000" in (j.sql or "") for j in new)


def test_jobs_submits_jobs_from_several_threads_and_publishes_each_node(make_project, bq) -> None:
    root = make_project({f"models/m{i}.ff.sql": f"select {i} as id" for i in range(6)})
    _, results = build(root, jobs=4)
    assert sorted(r.status for r in results) == ["built"] * 6
    assert len(bq.rows(DATASET, "_ff_meta")) == 6


def test_unit_tests_create_a_throwaway_dataset_and_send_its_drop(make_project, bq) -> None:
    from runtime.unit_tests import isolated_executor

    root = make_project({"models/t.ff.sql": "select 1 as id"})
    with isolated_executor(resolve_profile(root, None, environ=ENVIRON)) as executor:
        scratch = executor.dataset.dataset_id
        assert scratch.startswith("ff_utest_") and scratch in bq.datasets()
    assert scratch not in bq.datasets()
    assert any(j.sql == f"DROP SCHEMA IF EXISTS `{scratch}` CASCADE" for j in bq.queries())


def test_names_bigquery_cannot_hold_are_refused_at_compile_time(make_project) -> None:
    root = make_project({"models/a`b.ff.sql": "select 1 as id"})
    with pytest.raises(ProjectFileError, match="BigQuery table names take letters, digits, underscores, dashes and spaces, not '`'"):
        compile_dir(root, environ=ENVIRON)


def test_dataset_names_and_project_ids_are_checked_in_the_profile(make_project) -> None:
    root = make_project({"models/t.ff.sql": "select 1 as id"})
    with pytest.raises(ProjectFileError, match="not a BigQuery dataset name"):
        resolve_profile(root, None, environ={**ENVIRON, "FF_BQ_DATASET": "a`; drop"})
    with pytest.raises(ProjectFileError, match="not a Google Cloud project id"):
        resolve_profile(root, None, environ={**ENVIRON, "FF_BQ_PROJECT": "p/../x"})


@pytest.mark.skipif(__import__("importlib").util.find_spec("bigframes") is not None, reason="bigframes is installed here")
def test_use_bigframes_without_bigframes_says_what_to_install(make_project, bq) -> None:
    root = make_project({"models/t.ff.sql": "select 1 as id"})
    with pytest.raises(ProfileError, match=r"use_bigframes needs BigQuery DataFrames"):
        open_executor(resolve_profile(root, None, environ={**ENVIRON, "FF_BQ_USE_BIGFRAMES": "1"}))
    assert not bq.jobs


def test_missing_credentials_say_what_to_set(make_project, monkeypatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")
    root = make_project({"models/t.ff.sql": "select 1 as id"})
    with pytest.raises(ProfileError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        open_executor(resolve_profile(root, None, environ=ENVIRON))


def _service_account_key(project: str) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "type": "service_account", "project_id": project, "private_key_id": "k1", "private_key": pem.decode(),
        "client_email": f"flowforge@{project}.iam.gserviceaccount.com", "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token",
    }


def test_a_service_account_key_from_a_file_or_a_connection_makes_the_clients_credentials(tmp_path: Path) -> None:
    """The client is built from the key alone (no request is sent until a job runs)."""
    from flowforge_compiler.engines.bigquery import BigQuerySettings
    from runtime.executors.bigquery import make_client

    key = _service_account_key("p1")
    client = make_client(BigQuerySettings(project="p1", dataset="d", keyfile_json=json.dumps(key)), "prod")
    assert client.project == "p1" and client._credentials.service_account_email == "flowforge@p1.iam.gserviceaccount.com"
    (tmp_path / "key.json").write_text(json.dumps(key))
    client = make_client(BigQuerySettings(project="p1", dataset="d", location="EU", keyfile=str(tmp_path / "key.json")), "prod")
    assert client.location == "EU" and client._credentials.service_account_email == "flowforge@p1.iam.gserviceaccount.com"
    with pytest.raises(ProfileError, match="profile 'prod': no usable Google credentials"):
        make_client(BigQuerySettings(project="p1", dataset="d", keyfile=str(tmp_path / "missing.json")), "prod")
    with pytest.raises(ProfileError, match="no usable Google credentials"):
        make_client(BigQuerySettings(project="p1", dataset="d", keyfile_json='{"type": "service_account"}'), "prod")


@pytest.mark.skipif(not os.environ.get("FF_TEST_BQ_PROJECT"), reason="live BigQuery: set FF_TEST_BQ_PROJECT and credentials")
def test_live_build_on_a_real_bigquery_project(make_project) -> None:
    """Opt-in: builds a table, a view and an incremental model in a throw-away dataset."""
    environ = {"FF_ENGINE": "bigquery", "FF_BQ_PROJECT": os.environ["FF_TEST_BQ_PROJECT"], "FF_BQ_DATASET": "ff_live_test"}
    root = make_project(VIEW_CHAIN)
    plan = compile_dir(root, environ=environ)
    with open_executor(resolve_profile(root, None, environ=environ)) as executor:
        for node in plan.nodes:
            run_node(plan, node.id, executor=executor, root=root)
        assert sorted(executor.fetch_rows("select z from vv")) == [(22,), (42,)]
        executor.execute(executor.statements.drop_schema("ff_live_test"))

