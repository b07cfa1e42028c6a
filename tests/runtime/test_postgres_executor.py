"""The PostgreSQL executor on a real server: atomic replace under dependent views, COPY of
Python results, merge with duplicate keys, isolation and error messages (what every engine does
is in test_conformance.py)."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from flowforge_compiler.errors import FlowForgeError, ModelBuildError
from flowforge_compiler.profiles import resolve_profile
from runtime import open_executor, run_node
from tests.compiler.helpers import compile_dir
from tests.runtime.helpers import VIEW_CHAIN

pytestmark = pytest.mark.postgres

PY = "from flowforge_compiler import model\n"


@pytest.fixture
def pg(pg_dsn: str, pg_schema: str):
    """(profile for a fresh schema, a function returning rows of a query in it)."""

    def profile_for(root: Path):
        environ = {"FF_ENGINE": "postgres", "FF_PG_DSN": pg_dsn, "FF_PG_SCHEMA": pg_schema}
        return resolve_profile(root, None, environ=environ)

    def rows(sql: str) -> list[tuple]:
        with psycopg.connect(pg_dsn.replace("postgresql+psycopg://", "postgresql://")) as con:
            con.execute(f'set search_path to "{pg_schema}"')
            return con.execute(sql).fetchall()

    return profile_for, rows


def build(root: Path, profile, *, full_refresh: bool = False):
    plan = compile_dir(root)
    with open_executor(profile) as executor:
        return plan, [run_node(plan, n.id, executor=executor, root=root, full_refresh=full_refresh) for n in plan.nodes]


def test_materializations_and_dependent_views_survive_rebuilds(make_project, pg) -> None:
    profile_for, rows = pg
    root = make_project(VIEW_CHAIN)
    profile = profile_for(root)
    build(root, profile)
    assert rows("select z from vv order by z") == [(22,), (42,)]
    # Rebuilding only the table keeps the views on top of it (PostgreSQL binds views to tables).
    (root / "models/t.ff.sql").write_text("select id * 100 as v from {{ ref('base') }}")
    plan = compile_dir(root)
    with open_executor(profile) as executor:
        run_node(plan, "t.ff", executor=executor, root=root)
        run_node(plan, "v.ff", executor=executor, root=root)
    assert rows("select z from vv order by z") == [(202,), (402,)]
    kinds = dict(rows("select table_name, table_type from information_schema.tables where table_schema = current_schema()"))
    assert kinds == {"t": "BASE TABLE", "v": "VIEW", "vv": "VIEW", "_ff_meta": "BASE TABLE"}


def test_python_results_arrive_through_copy_with_types_and_nulls(make_project, pg) -> None:
    profile_for, rows = pg
    model = (
        PY + "import datetime as dt\nimport pandas as pd\n"
        "@model(name='p', deps=['src.ff'])\ndef f(df):\n"
        "    return df.assign(s=['a', '', None], ts=pd.to_datetime(['2024-01-01 10:00:00.123456', None, '2024-01-03 00:00:00.000000']),"
        " flag=[True, False, None], amount=[1.5, None, 3.0], d=[dt.date(2024, 1, 1), None, dt.date(2024, 1, 3)])\n"
    )
    root = make_project({"models/src.ff.sql": "select 1 as id union all select 2 union all select 3", "models/p.ff.py": model})
    _, results = build(root, profile_for(root))
    assert results[-1].rows == 3
    got = rows("select id, s, ts::text, flag, amount, d::text from p order by id")
    assert got == [
        (1, "a", "2024-01-01 10:00:00.123456", True, 1.5, "2024-01-01"),
        (2, "", None, False, None, None),
        (3, None, "2024-01-03 00:00:00", None, 3.0, "2024-01-03"),
    ]
    types = dict(rows("select column_name, data_type from information_schema.columns where table_name = 'p' and table_schema = current_schema()"))
    assert types == {"id": "integer", "s": "text", "ts": "timestamp without time zone", "flag": "boolean",
                     "amount": "double precision", "d": "date"}


def test_incremental_merge_with_duplicates_on_unique_key(make_project, pg) -> None:
    profile_for, rows = pg
    root = make_project(
        {
            "seeds/src.csv": "id,v\n1,a\n2,b\n",
            "models/m.ff.sql": "{{ config(materialized='incremental', unique_key='id') }}select id, v from {{ ref('src') }}",
        }
    )
    build(root, profile_for(root))
    (root / "seeds/src.csv").write_text("id,v\n1,A\n3,c\n")
    build(root, profile_for(root))
    assert rows("select id, v from m order by id") == [(1, "A"), (2, "b"), (3, "c")]


def test_example_gives_the_same_tables_on_duckdb_and_postgres(example_copy, pg, ffc, pg_dsn: str, pg_schema: str) -> None:
    _, rows = pg
    project = example_copy("simple_duckdb")
    assert ffc("build", project, "--env", "dev").exit_code == 0
    result = ffc("build", project, "--engine", "postgres", env={"FF_PG_DSN": pg_dsn, "FF_PG_SCHEMA": pg_schema})
    assert result.exit_code == 0, result.output
    import duckdb

    with duckdb.connect(str(project / ".local" / "demo.duckdb"), read_only=True) as con:
        for table in ["users", "orders", "users_enriched", "mart_orders_enriched", "mart_users"]:
            query = f"select * from {table} order by 1"
            assert rows(query) == con.execute(query).fetchall(), table


def test_unit_tests_on_postgres_use_a_throwaway_schema_dropped_whatever_happens(
    example_copy, make_project, ffc, pg_dsn: str, pg
) -> None:
    # Tests in the other process may hold throwaway schemas of their own for a moment; one this
    # command left would stay for good, so wait a little for the others to go.
    _, rows = pg

    def left_since(before: set[str]) -> set[str]:
        for _ in range(60):
            left = {name for (name,) in rows("select nspname from pg_namespace where nspname like 'ff_utest_%'")} - before
            if not left:
                break
            time.sleep(0.5)
        return left

    before = {name for (name,) in rows("select nspname from pg_namespace where nspname like 'ff_utest_%'")}
    result = ffc("utest", example_copy("simple_duckdb"), "--engine", "postgres", env={"FF_PG_DSN": pg_dsn})
    assert result.exit_code == 0, result.output
    assert "Unit tests: 4 passed, 0 failed" in result.stdout
    assert left_since(before) == set()
    failing = make_project(
        {
            "models/m.ff.sql": "select 1 / 0 as x",
            "tests/unit/m.yml": "model: m.ff\ncases:\n  - {name: boom, expect: {rows: [{x: 1}]}}\n",
        }
    )
    result = ffc("utest", failing, "--engine", "postgres", env={"FF_PG_DSN": pg_dsn})
    assert result.exit_code == 2 and "division by zero" in result.stdout
    assert left_since(before) == set()


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("postgresql://flowforge:not-the-password@127.0.0.1:5432/flowforge_test", "PostgreSQL authentication failed"),
        ("postgresql://flowforge:not-the-password@127.0.0.1:1/flowforge_test", "PostgreSQL connection refused"),
    ],
)
def test_connection_errors_name_profile_host_database_never_the_password(make_project, ffc, pg_dsn, dsn, message) -> None:
    project = make_project({"models/a.ff.sql": "select 1"})
    result = ffc("run", project, "--engine", "postgres", env={"FF_PG_DSN": dsn})
    assert result.exit_code == 1
    assert message in result.stderr
    assert "profile 'default'" in result.stderr and "database 'flowforge_test'" in result.stderr and "127.0.0.1" in result.stderr
    assert "not-the-password" not in result.output


HOSTILE_PASSWORD = "p@ss:w/rd?x"  # the password of the role ff_hostile (.ci/postgres.sh)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://flowforge:wr@ng:pa/ss@127.0.0.1:5432/flowforge_test",
        "postgresql://flowforge@127.0.0.1:5432/flowforge_test?password=wr@ng:pa/ss",
    ],
)
def test_a_wrong_password_with_at_colon_slash_never_reaches_a_message(make_project, ffc, pg_dsn, dsn) -> None:
    project = make_project({"models/a.ff.sql": "select 1"})
    result = ffc("run", project, "--engine", "postgres", env={"FF_PG_DSN": dsn})
    assert result.exit_code == 1, result.output
    assert "PostgreSQL authentication failed" in result.stderr
    assert "host 127.0.0.1:5432, database 'flowforge_test', user 'flowforge'" in result.stderr
    for fragment in ("wr@ng", "pa/ss", "ng:pa", "wr"):
        assert fragment not in result.output


def test_a_password_with_at_colon_slash_question_mark_connects(make_project, pg_dsn: str) -> None:
    import uuid

    root = make_project({"models/a.ff.sql": "select 1 as x"})
    schema = f"ff_hostile_{uuid.uuid4().hex[:8]}"
    dsn = f"postgresql://ff_hostile:{HOSTILE_PASSWORD}@127.0.0.1:5432/flowforge_test"
    profile = resolve_profile(root, None, environ={"FF_ENGINE": "postgres", "FF_PG_DSN": dsn, "FF_PG_SCHEMA": schema})
    try:
        _, results = build(root, profile)
        assert results[0].rows == 1
    finally:
        with psycopg.connect(
            host="127.0.0.1", user="ff_hostile", password=HOSTILE_PASSWORD, dbname="flowforge_test", autocommit=True
        ) as con:
            con.execute(f'drop schema if exists "{schema}" cascade')


def test_missing_schema_privileges_are_explained(make_project, ffc, pg_dsn: str) -> None:
    # The role may connect to the `postgres` database but not create schemas there.
    dsn = pg_dsn.rsplit("/", 1)[0] + "/postgres"
    project = make_project({"models/a.ff.sql": "select 1"})
    result = ffc("run", project, "--engine", "postgres", env={"FF_PG_DSN": dsn, "FF_PG_SCHEMA": "ff_not_allowed"})
    assert result.exit_code == 1
    assert "cannot use schema 'ff_not_allowed' in database 'postgres'" in result.stderr
    assert "GRANT CREATE ON DATABASE postgres" in result.stderr
    password = pg_dsn.split("@")[0].rsplit(":", 1)[1]
    assert f":{password}@" not in result.output


def test_plain_postgresql_dsn_is_accepted(make_project, pg_dsn: str, pg_schema: str) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as x"})
    plain = pg_dsn.replace("postgresql+psycopg://", "postgresql://")
    profile = resolve_profile(root, None, environ={"FF_ENGINE": "postgres", "FF_PG_DSN": plain, "FF_PG_SCHEMA": pg_schema})
    _, results = build(root, profile)
    assert results[0].rows == 1


def test_engine_error_is_not_a_connection_error(make_project, pg) -> None:
    profile_for, _ = pg
    root = make_project({"models/a.ff.sql": "select no_such_col"})
    with pytest.raises(FlowForgeError) as info:
        build(root, profile_for(root))
    assert isinstance(info.value, ModelBuildError) and "no_such_col" in info.value.engine_message


def test_the_examples_postgres_profile_builds_and_unit_tests(ffc, pg_dsn: str, pg_schema: str, example_copy) -> None:
    project = example_copy("simple_duckdb")
    env = {"FF_PG_DSN": pg_dsn, "FF_PG_SCHEMA": pg_schema}
    built = ffc("build", project, "--env", "postgres", env=env)
    assert built.exit_code == 0, built.output
    assert "7 built, 0 failed, 0 skipped" in built.stdout and "✓ passed: 7" in built.stdout
    assert ffc("utest", project, "--env", "postgres", env=env).exit_code == 0


def test_seeds_and_python_call_conventions_on_postgres(make_project, pg) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    profile_for, rows = pg
    root = make_project(
        {
            "seeds/codes.csv": "zip,amount,day\n00123,1.50,2024-02-03\n99999,2,2024-02-04\n",
            "seeds/schema.yml": "seeds:\n  codes: {column_types: {zip: VARCHAR, amount: 'DECIMAL(10,2)', day: DATE}}\n",
            "seeds/q.sql": "select 42 as answer",
            "models/zero.ff.py": PY + "import pandas as pd\n@model(name='zero')\ndef f():\n    return pd.DataFrame({'n': [7]})\n",
            "models/one.ff.py": PY + "@model(name='one', deps=['codes'])\ndef f(df):\n    return df.assign(n=len(df))\n",
            "models/two.ff.py": PY + "@model(name='two', deps=['codes', 'q'])\ndef f(frames):\n"
            "    assert sorted(frames) == ['codes', 'q']\n    return frames['q'].assign(k=len(frames['codes']))\n",
        }
    )
    pq.write_table(pa.table({"x": [1, 2, 3]}), root / "seeds" / "p.parquet")
    _, results = build(root, profile_for(root))
    assert {r.node_id: r.rows for r in results}["codes"] == 2
    assert rows("select zip, amount::text, day::text from codes order by zip") == [("00123", "1.50", "2024-02-03"), ("99999", "2.00", "2024-02-04")]
    assert rows("select sum(x) from p") == [(6,)]
    assert rows("select n from zero") == [(7,)] and rows("select answer, k from two") == [(42, 2)]
    assert rows("select zip, n from one order by zip") == [("00123", 2), ("99999", 2)]


def test_switching_db_schema_and_back_never_serves_the_other_schemas_build(make_project, ffc, pg_dsn: str, pg_schema: str) -> None:
    other = pg_schema + "_b"
    project = make_project({"models/a.ff.sql": "select 1 as v"})

    def run(schema: str) -> str:
        result = ffc("run", project, "--engine", "postgres", env={"FF_PG_DSN": pg_dsn, "FF_PG_SCHEMA": schema})
        assert result.exit_code == 0, result.output
        return "cached" if "SKIP  a.ff" in result.stdout else "built"

    try:
        assert run(pg_schema) == "built"
        assert run(other) == "built"
        (project / "models/a.ff.sql").write_text("select 2 as v")
        assert run(other) == "built"
        assert run(pg_schema) == "built"  # this schema still holds `select 1`
        assert run(pg_schema) == "cached"
        with psycopg.connect(pg_dsn.replace("postgresql+psycopg://", "postgresql://")) as con:
            assert con.execute(f'select v from "{pg_schema}".a').fetchall() == [(2,)]
    finally:
        with psycopg.connect(pg_dsn.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
            con.execute(f'drop schema if exists "{other}" cascade')


def test_a_task_that_loses_the_race_to_create_the_schema_and_ff_meta_goes_on(make_project, pg_dsn: str, pg_schema: str) -> None:
    """Two first tasks start together: the other one creates the schema and `_ff_meta` while
    this one waits on `create ... if not exists`, which then fails with a duplicate key. That
    must count as success, not as a missing privilege."""
    import threading
    import time

    root = make_project({"models/a.ff.sql": "select 1 as v"})
    profile = resolve_profile(root, None, environ={"FF_ENGINE": "postgres", "FF_PG_DSN": pg_dsn, "FF_PG_SCHEMA": pg_schema})
    plan = compile_dir(root)
    plain = pg_dsn.replace("postgresql+psycopg://", "postgresql://")
    for winner_creates in (
        [f'create schema "{pg_schema}"'],
        [f'create schema if not exists "{pg_schema}"', "commit", f'create table "{pg_schema}"._ff_meta (node_name varchar, relation varchar, fingerprint varchar, engine varchar, built_at timestamp)'],
    ):
        with psycopg.connect(plain, autocommit=True) as con:
            con.execute(f'drop schema if exists "{pg_schema}" cascade')
        winner = psycopg.connect(plain)
        for statement in winner_creates:
            winner.commit() if statement == "commit" else winner.execute(statement)  # left uncommitted
        outcome: list[object] = []

        def first_task() -> None:
            try:
                with open_executor(profile) as executor:
                    outcome.append(run_node(plan, "a.ff", executor=executor, root=root).status)
            except Exception as exc:  # noqa: BLE001 - recorded for the assertion
                outcome.append(exc)

        task = threading.Thread(target=first_task)
        task.start()
        time.sleep(0.5)  # the task now waits on the winner's uncommitted catalog rows
        winner.commit()
        winner.close()
        task.join(30)
        assert outcome == ["built"], outcome


def test_show_reads_rows_through_the_postgres_executor(make_project, ffc, pg_dsn: str, pg_schema: str) -> None:
    project = make_project({"models/a.ff.sql": "select 1 as id, 'x' as v union all select 2, 'y'"})
    env = {"FF_PG_DSN": pg_dsn, "FF_PG_SCHEMA": pg_schema}
    assert ffc("run", project, "--engine", "postgres", env=env).exit_code == 0
    result = ffc("show", project, "a", "--engine", "postgres", "--format", "csv", env=env)
    assert result.exit_code == 0 and sorted(result.stdout.splitlines()[1:]) == ['1,"x"', '2,"y"']


def test_a_run_with_jobs_keeps_one_connection_per_worker_across_its_levels(make_project, pg) -> None:
    """Six levels of four models at --jobs 4: the run's one pool of workers, each with its
    connection, plus the scheduling thread's (a pool per level opened 4 more on every level:
    a 2,000-model run reached "too many clients")."""
    from targets.local import LevelScheduler

    profile_for, rows = pg
    files = {
        f"models/l{level}_{i}.ff.sql": "select 1 as x" if level == 0 else f"select x + 1 as x from {{{{ ref('l{level - 1}_{i}') }}}}"
        for level in range(6)
        for i in range(4)
    }
    root = make_project(files)
    profile = profile_for(root)
    plan = compile_dir(root)
    assert len(plan.levels) == 6
    with open_executor(profile) as executor:
        summary = LevelScheduler(plan, executor, root, jobs=4).run([n.id for n in plan.nodes])
        assert {r.status for r in summary.results} == {"built"}
        assert len(executor._connections) <= 4 + 1
    assert rows("select x from l5_3") == [(6,)]
