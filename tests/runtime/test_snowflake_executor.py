"""The Snowflake executor through the real Snowpark client, on a fakesnow server (Snowflake's
HTTP API run on DuckDB, tests/runtime/fakesnow_server.py): no test here reaches Snowflake. The
rows read back are DuckDB's; what the tests prove is the SQL FlowForge sends, that Snowpark and
the connector carry it, and how FlowForge handles the answers. fakesnow cannot run
`ALTER TABLE ... SWAP WITH`; its server carries that statement out as three renames, and the
tests that rely on it say `swap_statement` in their names. One test runs a Snowpark model's
DataFrame code on Snowpark's own local_testing session, with no server. `test_live_*` runs on a real account
when FF_TEST_SF_ACCOUNT (and FF_TEST_SF_USER, FF_TEST_SF_PASSWORD, FF_TEST_SF_DATABASE) are set."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import pytest

from flowforge_compiler.errors import ModelBuildError, ProfileError, ProjectFileError, RequiredColumnsError
from flowforge_compiler.profiles import resolve_profile
from runtime import open_executor, run_node
from runtime.cache import CachePolicy
from targets.local import LevelScheduler
from tests.compiler.helpers import compile_dir
from tests.conftest import snowflake_profiles_yml
from tests.runtime.helpers import VIEW_CHAIN

pytestmark = pytest.mark.snowflake
PY = "from flowforge_compiler import model\n"


@pytest.fixture
def sf(fakesnow_server, make_project):
    """make(files) -> a project whose default profile is a fresh schema on the fakesnow server."""
    schema = f"ff_test_{uuid.uuid4().hex[:8]}"

    def make(files: dict[str, str]) -> Path:
        return make_project({**files, "profiles.yml": snowflake_profiles_yml(fakesnow_server, schema)})

    return make


def build(root: Path, *, full_refresh: bool = False, cache: bool = False, jobs: int = 1):
    plan = compile_dir(root)
    with open_executor(resolve_profile(root, None)) as executor:
        if cache or jobs > 1:
            policy = CachePolicy.for_run(plan, executor, root, "default") if cache else None
            return plan, LevelScheduler(plan, executor, root, cache=policy, jobs=jobs).run([n.id for n in plan.nodes]).results
        return plan, [run_node(plan, n.id, executor=executor, root=root, full_refresh=full_refresh) for n in plan.nodes]


def rows(root: Path, sql: str) -> list[tuple]:
    with open_executor(resolve_profile(root, None)) as executor:
        return sorted(executor.fetch_rows(sql), key=repr)


def test_materializations_build_and_rebuild_through_the_swap_statement(sf, caplog) -> None:
    root = sf(VIEW_CHAIN)
    build(root)
    assert rows(root, "select z from vv") == [(22,), (42,)]
    caplog.set_level(logging.DEBUG, logger="flowforge.sql")
    (root / "models/t.ff.sql").write_text("select id * 100 as v from {{ ref('base') }}")
    build(root)
    assert rows(root, "select z from vv") == [(202,), (402,)]
    sent = [r.getMessage() for r in caplog.records if r.name == "flowforge.sql"]
    assert 'ALTER TABLE "T__FF_TMP" SWAP WITH "T"' in sent and 'DROP TABLE "T__FF_TMP"' in sent
    with open_executor(resolve_profile(root, None)) as executor:
        assert executor.existing_relations() == {"T", "V", "VV", "_FF_META"}
        assert (executor.relation_kind("t"), executor.relation_kind("v"), executor.relation_kind("base")) == ("table", "view", None)
    (root / "models/t.ff.sql").write_text("{{ config(materialized='view') }}select id as v from {{ ref('base') }}")
    build(root)
    assert rows(root, "select z from vv") == [(4,), (6,)]
    (root / "models/t.ff.sql").write_text("select id * 10 as v from {{ ref('base') }}")  # and a table replaces the view
    build(root)
    assert rows(root, "select z from vv") == [(22,), (42,)]
    with open_executor(resolve_profile(root, None)) as executor:
        assert executor.relation_kind("t") == "table" and "T__FF_TMP" not in executor.existing_relations()


def _incremental(strategy: str) -> str:
    return (
        f"{{{{ config(materialized='incremental', unique_key='id', incremental_strategy='{strategy}') }}}}\n"
        "select id, v from {{ source('raw', 'events') }}"
    )


SOURCES = "sources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: events\n"


def _events(root: Path, sql: str) -> None:
    with open_executor(resolve_profile(root, None)) as executor:
        executor.execute("create schema if not exists raw")
        executor.execute(f"create or replace table raw.events as {sql}")


@pytest.mark.parametrize("strategy", ["merge", "delete+insert", "append"])
def test_incremental_strategies_send_merge_or_one_transaction_with_the_meta_row(sf, caplog, strategy: str) -> None:
    root = sf({"models/inc.ff.sql": _incremental(strategy), "sources.yml": SOURCES})
    _events(root, "select 1 as id, 'a' as v union all select 2, 'b'")
    build(root)
    _events(root, "select 2 as id, 'B' as v union all select 3, 'c'")
    caplog.set_level(logging.DEBUG, logger="flowforge.sql")
    build(root)
    sent = [r.getMessage() for r in caplog.records if r.name == "flowforge.sql"]
    if strategy == "merge":  # atomic by itself and the same if applied twice: no transaction
        (merge,) = [s for s in sent if s.startswith("MERGE")]
        assert merge.startswith('MERGE INTO "INC" AS "FF_OLD" USING "INC__FF_TMP" AS "FF_NEW" ON "FF_OLD"."ID" = "FF_NEW"."ID"')
        assert "BEGIN" not in sent and sent.index(merge) < max(i for i, s in enumerate(sent) if s.startswith('INSERT INTO "_FF_META"'))
    else:
        begin, commit = sent.index("BEGIN"), sent.index("COMMIT")
        inside = sent[begin + 1:commit]
        assert inside[-1].startswith('INSERT INTO "_FF_META" VALUES')
        if strategy == "delete+insert":
            assert inside[0].startswith('DELETE FROM "INC" AS "FF_OLD" WHERE EXISTS') and inside[1].startswith('INSERT INTO "INC"')
        else:
            assert len(inside) == 2 and inside[0].startswith('INSERT INTO "INC" ("ID", "V")')
    expected = [(1, "a"), (2, "B"), (3, "c")] if strategy != "append" else [(1, "a"), (2, "B"), (2, "b"), (3, "c")]
    assert rows(root, "select id, v from inc") == expected


def test_a_failed_incremental_transaction_applies_nothing_and_publishes_nothing(sf, monkeypatch, caplog) -> None:
    """The ROLLBACK must be sent before anything else: on Snowflake the next DDL (dropping the
    temporary table) would commit the open transaction (fakesnow would not)."""
    from runtime.meta_store import MetaStore

    root = sf({"models/inc.ff.sql": _incremental("delete+insert"), "sources.yml": SOURCES})
    _events(root, "select 1 as id, 'a' as v")
    build(root)
    meta = rows(root, "select count(*) from _ff_meta")
    _events(root, "select 1 as id, 'A' as v union all select 2, 'b'")
    publish = MetaStore.publish

    def fails_after_the_delete_and_the_insert(self, node) -> None:
        raise RuntimeError("lost the connection")

    monkeypatch.setattr(MetaStore, "publish", fails_after_the_delete_and_the_insert)
    caplog.set_level(logging.DEBUG, logger="flowforge.sql")
    with pytest.raises(ModelBuildError, match="lost the connection"):
        build(root)
    sent = [r.getMessage() for r in caplog.records if r.name == "flowforge.sql"]
    after_insert = sent[max(i for i, s in enumerate(sent) if s.startswith('INSERT INTO "INC"')) + 1:]
    assert after_insert[:2] == ["ROLLBACK", 'DROP TABLE "INC__FF_TMP"'], after_insert
    monkeypatch.setattr(MetaStore, "publish", publish)
    assert rows(root, "select id, v from inc") == [(1, "a")]  # the DELETE and the INSERT were rolled back
    assert rows(root, "select count(*) from _ff_meta") == meta


def test_python_models_receive_and_return_snowpark_dataframes(sf) -> None:
    model = (
        PY + "from snowflake.snowpark import DataFrame\nfrom snowflake.snowpark.functions import col\n"
        "@model(name='p', deps=['src.ff'], requires={'src': {'id'}})\n"
        "def f(src):\n"
        "    assert isinstance(src, DataFrame), type(src)\n"
        "    return src.with_column('double', col('id') * 2)\n"
    )
    root = sf({"models/src.ff.sql": "select 1 as id union all select 2", "models/p.ff.py": model})
    build(root)
    assert rows(root, "select id, double from p") == [(1, 2), (2, 4)]
    # a pandas result is accepted too, written as VALUES
    (root / "models/p.ff.py").write_text(model.replace("return src.with_column('double', col('id') * 2)", "import pandas as pd; return pd.DataFrame({'id': [7]})"))
    build(root)
    assert rows(root, "select id from p") == [(7,)]


def test_a_python_model_missing_a_required_column_names_it(sf) -> None:
    model = PY + "@model(name='p', deps=['src.ff'], requires={'src': {'id', 'nope'}})\ndef f(src):\n    return src\n"
    root = sf({"models/src.ff.sql": "select 1 as id", "models/p.ff.py": model})
    with pytest.raises(RequiredColumnsError, match="nope") as info:
        build(root)
    assert "'id'" not in str(info.value).split("missing")[-1].split("present")[0]  # id is found as ID


def test_seeds_are_written_as_values_and_typed_seeds_cast(sf) -> None:
    root = sf({
        "seeds/plain.csv": "id,name,seen\n1,a,2024-01-01 10:00:00\n2,,\n",
        "seeds/typed.csv": "id,amount\n1,1.50\n",
        "seeds/schema.yml": "seeds:\n  typed:\n    column_types:\n      amount: decimal(10,2)\n",
    })
    build(root)
    import datetime as dt
    import decimal

    # (fakesnow returns a NULL timestamp as 1970-01-01, so NULL is asked in SQL)
    assert rows(root, "select id, name, seen is null from plain") == [(1, "a", False), (2, None, True)]
    assert rows(root, "select seen from plain where id = 1") == [(dt.datetime(2024, 1, 1, 10),)]
    assert rows(root, "select id, amount from typed") == [(1, decimal.Decimal("1.50"))]


def test_jobs_build_in_parallel_each_thread_on_its_own_session(sf) -> None:
    root = sf({f"models/m{i}.ff.sql": f"select {i} as id" for i in range(6)})
    _, results = build(root, jobs=3)
    assert sorted(r.status for r in results) == ["built"] * 6
    assert rows(root, "select count(*) from _ff_meta") == [(6,)]


def test_unit_tests_run_in_a_throwaway_schema_that_is_dropped(sf) -> None:
    from runtime.unit_tests import isolated_executor

    root = sf({"models/t.ff.sql": "select 1 as id"})
    with isolated_executor(resolve_profile(root, None)) as executor:
        scratch = executor.schema
        assert scratch.startswith("FF_UTEST_")
        executor.execute("create table probe as select 1 as x")
    with open_executor(resolve_profile(root, None)) as executor:
        assert not executor.fetch_rows(f"select schema_name from information_schema.schemata where schema_name = '{scratch}'")


def test_names_snowflake_cannot_hold_are_refused_at_compile_time(sf) -> None:
    root = sf({'models/a"b.ff.sql': "select 1 as id"})
    with pytest.raises(ProjectFileError, match="Snowflake names may not hold a double quote"):
        compile_dir(root)


def test_a_refused_connection_names_the_account_and_user_but_not_the_password(make_project) -> None:
    settings = {"account": "fakesnow", "user": "fake", "password": "s3cret-pw", "database": "FFDB",
                "options": {"host": "127.0.0.1", "port": 9, "protocol": "http", "login_timeout": 2, "network_timeout": 2}}
    import json

    root = make_project({"profiles.yml": "default:\n  engine: snowflake_snowpark\n  snowflake_snowpark: " + json.dumps(settings) + "\n"})
    with pytest.raises(ProfileError) as info:
        open_executor(resolve_profile(root, None))
    text = info.value.render()
    assert "'fakesnow'" in text and "'fake'" in text and "s3cret-pw" not in text


@pytest.mark.skipif(not os.environ.get("FF_TEST_SF_ACCOUNT"), reason="live Snowflake: set FF_TEST_SF_ACCOUNT, _USER, _PASSWORD, _DATABASE")
def test_live_build_on_a_real_snowflake_account(make_project) -> None:
    """Opt-in: builds a table under two views in a throw-away schema, rebuilds it with SWAP WITH."""
    environ = {"FF_ENGINE": "snowflake_snowpark", "FF_SF_SCHEMA": f"ff_live_{uuid.uuid4().hex[:8]}"}
    environ |= {f"FF_SF_{k}": os.environ[f"FF_TEST_SF_{k}"] for k in ("ACCOUNT", "USER", "PASSWORD", "DATABASE")}
    root = make_project(VIEW_CHAIN)
    for _ in range(2):
        plan = compile_dir(root, environ=environ)
        with open_executor(resolve_profile(root, None, environ=environ)) as executor:
            for node in plan.nodes:
                run_node(plan, node.id, executor=executor, root=root)
    with open_executor(resolve_profile(root, None, environ=environ)) as executor:
        assert sorted(executor.fetch_rows("select z from vv")) == [(22,), (42,)]
        executor.execute(executor.statements.drop_schema(executor.schema))


def test_a_snowpark_model_runs_through_flowforges_call_path_on_snowparks_local_testing_session(make_project) -> None:
    """Snowpark's local_testing session runs DataFrame code without any server: the model is
    loaded, its `requires` checked (with Snowflake's folding: `id` is `ID`) and called the way the
    executor does it, and its Snowpark result computed locally."""
    from snowflake.snowpark import DataFrame, Session

    from flowforge_compiler.engines.snowflake_snowpark import fold
    from runtime import python_models

    model = (
        PY + "from snowflake.snowpark.functions import col, lower\n"
        "@model(name='enriched', deps=['users.ff'], requires={'users': {'id', 'email'}})\n"
        "def enriched(users):\n"
        "    clean = users.with_column('email', lower(col('email')))\n"
        "    return clean.with_column('is_gmail', col('email').endswith('@gmail.com'))\n"
    )
    environ = {"FF_ENGINE": "snowflake_snowpark", "FF_SF_ACCOUNT": "a", "FF_SF_USER": "u", "FF_SF_DATABASE": "DB"}
    root = make_project({"models/users.ff.sql": "select 1 as id, 'x' as email", "models/enriched.ff.py": model})
    node = compile_dir(root, environ=environ).node("enriched")
    session = Session.builder.config("local_testing", True).create()
    try:
        users = session.create_dataframe([[1, "A@Gmail.com"], [2, "b@x.io"]], schema=["id", "email"])
        python_models.check_required_columns(node, {"users": users.columns}, fold=fold)
        result = python_models.call_model(python_models.load_function(node, root), {"users": users})
        assert isinstance(result, DataFrame)
        assert sorted(tuple(r) for r in result.collect()) == [(1, "a@gmail.com", True), (2, "b@x.io", False)]
        with pytest.raises(RequiredColumnsError, match="email"):
            python_models.check_required_columns(node, {"users": ["ID"]}, fold=fold)
    finally:
        session.close()


def test_hostile_names_and_seed_values_stay_data(sf) -> None:
    """A quote, a backslash, a newline and `;` in a seed's values, and `;`, `--` and spaces in a
    model's name, reach Snowflake as data (escaped literals, quoted identifiers), not as SQL. (A
    quote in a table name is sent quoted too, but fakesnow's own status message breaks on it, so
    that one is checked in the statement.)"""
    from flowforge_compiler.engines.snowflake_snowpark import FoldNamesToSnowflake
    from runtime.statements import Statements

    hostile = "it's \\ a;\n-- drop"
    root = sf({
        "seeds/raw.csv": 'id,note\n1,"' + hostile + '"\n',
        "models/x; drop me -- now.ff.sql": "select id, note from {{ ref('raw') }}",
    })
    build(root)
    assert rows(root, 'select id, note from "x; drop me -- now"') == [(1, hostile)]
    with open_executor(resolve_profile(root, None)) as executor:
        assert executor.existing_relations() == {"RAW", "x; drop me -- now", "_FF_META"}
    statements = Statements("snowflake", (FoldNamesToSnowflake(),))
    assert statements.drop("table", "it's; drop") == 'DROP TABLE "it\'s; drop"'
