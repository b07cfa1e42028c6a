"""BigQuery DataFrames models (`use_bigframes: true`), run in the bigframes environment by
tests/runtime/test_bigquery_bigframes.py. No test here reaches BigQuery: SQL models go through
the real client to the recorded API (tests/runtime/bigquery_api.py); the DataFrame logic runs on
bigframes' polars test session, and what `to_gbq` would send is read from bigframes' mock session."""

from __future__ import annotations




import pytest

from flowforge_compiler.profiles import resolve_profile
from runtime import open_executor, run_node
from tests.compiler.helpers import compile_dir

pytestmark = pytest.mark.bigquery
PROJECT, DATASET = "ff-test-project", "analytics"
ENVIRON = {"FF_ENGINE": "bigquery", "FF_BQ_PROJECT": PROJECT, "FF_BQ_DATASET": DATASET, "FF_BQ_USE_BIGFRAMES": "1"}
MODEL = (
    "from flowforge_compiler import model\n"
    "import bigframes.dataframe\n"
    "@model(name='p', deps=['users.ff'], requires={'users': {'id', 'email'}})\n"
    "def p(users):\n"
    "    assert isinstance(users, bigframes.dataframe.DataFrame), type(users)\n"
    "    return users.assign(is_gmail=users['email'].str.endswith('@gmail.com'))\n"
)
USERS = "select 1 as id, 'a@gmail.com' as email union all select 2, 'b@x.io'"


def test_models_receive_and_return_bigframes_dataframes_computed_on_the_polars_test_session(make_project, recorded_bigquery, monkeypatch) -> None:
    """The SQL model builds through the recorded API; the Python model gets its table as a
    bigframes DataFrame (here from the polars test session, which reads no BigQuery), and what
    it returns goes to `to_gbq` with the table, `replace` and FlowForge's labels."""
    import bigframes.dataframe
    from bigframes.testing.polars_session import TestSession

    from runtime.executors import bigquery

    class LocalFrames(TestSession):
        def read_gbq(self, table_id: str, **_: object):
            project, dataset, table = table_id.split(".")
            assert project == PROJECT
            return self.read_pandas(recorded_bigquery.arrow(dataset, table).to_pandas())

    written: list[tuple[str, dict]] = []

    def to_gbq(frame, destination: str, **options):  # the polars session cannot write BigQuery
        written.append((destination, options))
        project, dataset, table = destination.split(".")
        import pyarrow as pa

        recorded_bigquery.put(dataset, table, pa.Table.from_pandas(frame.to_pandas(), preserve_index=False))
        return destination

    monkeypatch.setattr(bigquery, "make_bigframes_session", lambda settings, client: LocalFrames())
    monkeypatch.setattr(bigframes.dataframe.DataFrame, "to_gbq", to_gbq)
    root = make_project({"models/users.ff.sql": USERS, "models/p.ff.py": MODEL})
    plan = compile_dir(root, environ=ENVIRON)
    with open_executor(resolve_profile(root, None, environ=ENVIRON)) as executor:
        results = [run_node(plan, n.id, executor=executor, root=root) for n in plan.nodes]
    assert [r.rows for r in results] == [2, 2]
    ((destination, options),) = written
    assert destination == f"{PROJECT}.{DATASET}.p" and options["if_exists"] == "replace" and options["index"] is False
    assert options["labels"]["flowforge_node"] == "p" and options["labels"]["flowforge"] == "true"
    assert sorted(recorded_bigquery.rows(DATASET, "p")) == [(1, "a@gmail.com", True), (2, "b@x.io", False)]


def test_to_gbq_sends_one_query_job_writing_the_table_with_write_truncate_on_the_mock_session(make_project, recorded_bigquery, monkeypatch) -> None:
    """bigframes' mock session records the SQL and job configuration `to_gbq` would send."""
    import google.cloud.bigquery as bq
    from bigframes.testing import mocks

    from runtime.executors import bigquery

    schema = [bq.SchemaField("id", "INTEGER"), bq.SchemaField("email", "STRING")]
    session = mocks.create_bigquery_session(table_schema=schema, table_name="users", anonymous_dataset=bq.DatasetReference(PROJECT, DATASET))
    monkeypatch.setattr(bigquery, "make_bigframes_session", lambda settings, client: session)
    root = make_project({"models/users.ff.sql": USERS, "models/p.ff.py": MODEL})
    plan = compile_dir(root, environ=ENVIRON)
    with open_executor(resolve_profile(root, None, environ=ENVIRON)) as executor:
        users = executor.input_frame(plan.node("users.ff"))
        executor.write_bigframes("p", users.assign(is_gmail=users["email"].str.endswith("@gmail.com")))
    sql, config = session._queries[-1], session._job_configs[-1]
    assert "ENDS_WITH(`email`, '@gmail.com') AS `is_gmail`" in sql and f"`{PROJECT}`.`{DATASET}`.`users`" in sql
    assert (config.destination.project, config.destination.dataset_id, config.destination.table_id) == (PROJECT, DATASET, "p")
    assert config.write_disposition == "WRITE_TRUNCATE"


def test_an_ephemeral_input_is_refused_by_name(make_project, recorded_bigquery, monkeypatch) -> None:
    from flowforge_compiler.errors import ModelBuildError
    from runtime.executors import bigquery

    monkeypatch.setattr(bigquery, "make_bigframes_session", lambda settings, client: pytest.fail("no session needed"))
    root = make_project({"models/users.ff.sql": "{{ config(materialized='ephemeral') }}" + USERS, "models/p.ff.py": MODEL})
    plan = compile_dir(root, environ=ENVIRON)
    with open_executor(resolve_profile(root, None, environ=ENVIRON)) as executor, pytest.raises(ModelBuildError, match="make it a view"):
        run_node(plan, "p", executor=executor, root=root)



