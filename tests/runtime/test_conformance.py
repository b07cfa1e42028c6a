"""The engine conformance suite: one behaviour, written once, on every warehouse the suite can
start (tests/runtime/engines.py: DuckDB, PostgreSQL, a local Spark, and the Snowflake and
BigQuery stand-ins, whose limits are written there). Materializations and their rebuilds, a
failed build that keeps the previous table, every incremental strategy the engine declares
against a full rebuild, every check type, the `_ff_meta` cache, Python models and seeds.

What only one engine does (Snowflake's SWAP statement, BigQuery's job labels, PostgreSQL's
dependent views, Spark's two renames, DuckDB's file lock) stays in that engine's own test file.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.engine_sdk import engine as engine_spec
from flowforge_compiler.errors import ModelBuildError
from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile
from flowforge_compiler.project import load_project
from runtime import NodeResult, open_executor, run_check, run_node
from runtime.cache import CachePolicy
from targets.local import LevelScheduler
from tests.runtime.engines import engine_profile, every_engine
from tests.runtime.helpers import VIEW_CHAIN
from tests.runtime.test_checks import CASES, DATA

PY = "from flowforge_compiler import model\n"


def _plain(value: Any) -> Any:
    """One form for what drivers return differently: a whole decimal as int, another as float."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


@dataclass
class Warehouse:
    """A project on one engine: build it, read rows back."""

    engine: str
    root: Path
    profile: Profile

    def build(self, *, full_refresh: bool = False, cache: bool = False) -> tuple[Plan, list[NodeResult]]:
        plan = compile_project(load_project(self.root), self.profile, environ={})
        with open_executor(self.profile) as executor:
            if cache:
                policy = CachePolicy.for_run(plan, executor, self.root, self.profile.name)
                return plan, LevelScheduler(plan, executor, self.root, cache=policy).run([n.id for n in plan.nodes]).results
            return plan, [run_node(plan, n.id, executor=executor, root=self.root, full_refresh=full_refresh) for n in plan.nodes]

    def rows(self, sql: str) -> list[tuple]:
        """The rows of a query written with plain names (each engine resolves them its way), sorted."""
        with open_executor(self.profile) as executor:
            return sorted((tuple(_plain(v) for v in row) for row in executor.fetch_rows(sql)), key=repr)

    def relations(self) -> set[str]:
        with open_executor(self.profile) as executor:
            return {name.lower() for name in executor.existing_relations()}

    def kind(self, name: str) -> str | None:
        with open_executor(self.profile) as executor:
            return executor.relation_kind(name)

    def write(self, path: str, text: str) -> None:
        (self.root / path).write_text(text, encoding="utf-8")


@pytest.fixture
def on(request: pytest.FixtureRequest, engine: str, make_project, tmp_path: Path) -> Callable[[dict[str, str]], Warehouse]:
    """on(files) -> that project on the test's engine, in a place of its own."""

    def make(files: dict[str, str]) -> Warehouse:
        root = make_project(files)
        return Warehouse(engine, root, engine_profile(request, engine, root, tmp_path))

    return make


@pytest.mark.parametrize("engine", every_engine())
def test_table_view_and_ephemeral_build_rebuild_and_replace_each_other(on) -> None:
    w = on(VIEW_CHAIN)
    _, results = w.build()
    assert {r.node_id: r.status for r in results} == dict.fromkeys(["base.ff", "t.ff", "v.ff", "vv.ff"], "built")
    assert w.rows("select z from vv") == [(22,), (42,)]
    assert w.relations() == {"t", "v", "vv", "_ff_meta"}  # nothing for the ephemeral, no temporary left
    assert (w.kind("t"), w.kind("v"), w.kind("base")) == ("table", "view", None)
    w.write("models/t.ff.sql", "select id * 100 as v from {{ ref('base') }}")  # rebuilt under its views
    w.build()
    assert w.rows("select z from vv") == [(202,), (402,)]
    w.write("models/t.ff.sql", "{{ config(materialized='view') }}select id as v from {{ ref('base') }}")
    w.build()
    assert (w.kind("t"), w.rows("select z from vv")) == ("view", [(4,), (6,)])
    w.write("models/t.ff.sql", "select id * 10 as v from {{ ref('base') }}")  # and a table replaces the view
    w.build()
    assert (w.kind("t"), w.rows("select z from vv")) == ("table", [(22,), (42,)])
    assert w.relations() == {"t", "v", "vv", "_ff_meta"}


@pytest.mark.parametrize("engine", every_engine("view_dependencies"))
def test_a_table_rebuilt_into_a_new_shape_refits_its_views_or_is_refused_with_the_old_table_kept(on) -> None:
    """A view model is created again with the project's SQL in the swap's transaction; a view of
    someone else's that no longer fits refuses the rebuild (DuckDB used to leave it broken)."""
    w = on({"models/a.ff.sql": "select 1 as x, 2 as y", "models/c.ff.sql": "{{ config(materialized='view') }}select y from {{ ref('a') }}"})
    w.build()
    with open_executor(w.profile) as executor, executor.transaction():
        executor.execute("create view mine as select x, y from a")
    w.write("models/a.ff.sql", "select 1 as x, 3 as z")
    w.write("models/c.ff.sql", "{{ config(materialized='view') }}select z from {{ ref('a') }}")
    with pytest.raises(ModelBuildError) as info:
        w.build()
    assert info.value.node == "a.ff" and "mine" in info.value.render() and "the previous a is kept" in info.value.render()
    assert w.rows("select x, y from a") == [(1, 2)] and w.rows("select * from mine") == [(1, 2)]
    with open_executor(w.profile) as executor, executor.transaction():
        executor.execute("drop view mine")
    _, results = w.build()
    assert [r.status for r in results] == ["built", "built"]
    assert w.rows("select z from c") == [(3,)]


@pytest.mark.parametrize("engine", every_engine())
def test_a_failed_build_keeps_the_previous_table_and_its_rows(on) -> None:
    w = on({
        "models/t.ff.sql": "select 1 as id union all select 2",
        "models/p.ff.py": PY + "import pandas as pd\n@model(name='p')\ndef f():\n    return pd.DataFrame({'a': [1, 2, 3]})\n",
    })
    w.build()
    w.write("models/t.ff.sql", "select 1 as id union all select cast('x' as int)")
    with pytest.raises(ModelBuildError) as info:
        w.build()
    assert info.value.node == "t.ff" and w.engine in info.value.render()
    assert w.rows("select id from t") == [(1,), (2,)]
    w.write("models/t.ff.sql", "select 1 as id union all select 2")
    w.write("models/p.ff.py", PY + "@model(name='p')\ndef f():\n    x = {}\n    return x['missing']\n")
    with pytest.raises(ModelBuildError, match="KeyError: 'missing'"):
        w.build()
    assert w.rows("select count(*) from p") == [(3,)]
    assert w.relations() == {"t", "p", "_ff_meta"}  # no temporary left behind


def _incremental_models(strategies: tuple[str, ...]) -> dict[str, str]:
    models = {
        # rows past the newest one kept
        "append": "{{ config(materialized='incremental', incremental_strategy='append') }}"
        "select id, v from {{ ref('src') }}{% if is_incremental() %} where id > (select max(id) from {{ this }}){% endif %}",
        # keys of the new batch replaced, in place
        "merge": "{{ config(materialized='incremental', unique_key='id', incremental_strategy='merge') }}"
        "select id, v from {{ ref('src') }}{% if is_incremental() %} where id >= 2{% endif %}",
        # every key of the batch deleted, then the batch inserted
        "delete+insert": "{{ config(materialized='incremental', unique_key=['id'], incremental_strategy='delete+insert') }}"
        "select id, v from {{ ref('src') }}",
    }
    return {f"models/{s.replace('+', '_')}.ff.sql": models[s] for s in strategies}


@pytest.mark.parametrize("engine", every_engine())
def test_every_incremental_strategy_the_engine_declares_and_a_full_refresh(on, engine: str) -> None:
    strategies = engine_spec(engine).capabilities.incremental_strategies
    assert strategies, engine
    w = on({**_incremental_models(strategies), "seeds/src.csv": "id,v\n1,a\n2,b\n"})
    w.build()
    # new rows, a changed row, and a unique_key twice in the new batch
    w.write("seeds/src.csv", "id,v\n1,A\n2,B\n3,c\n3,c2\n")
    w.build()
    expected = {
        "append": [(1, "a"), (2, "b"), (3, "c"), (3, "c2")],
        "merge": [(1, "a"), (2, "B"), (3, "c"), (3, "c2")],
        "delete+insert": [(1, "A"), (2, "B"), (3, "c"), (3, "c2")],
    }
    for strategy in strategies:
        assert w.rows(f"select id, v from {strategy.replace('+', '_')}") == expected[strategy], strategy
    w.build(full_refresh=True)
    for strategy in strategies:
        assert w.rows(f"select id, v from {strategy.replace('+', '_')}") == [(1, "A"), (2, "B"), (3, "c"), (3, "c2")], strategy


@pytest.mark.parametrize("engine", every_engine())
def test_every_check_type_passes_and_fails_with_its_message(on) -> None:
    tests = "".join(f"  - {check}\n" for check, _, _ in CASES)
    w = on({**DATA, "project.yml": f"name: t\nversion: '1'\ntests:\n{tests}"})
    plan, _ = w.build()
    with open_executor(w.profile) as executor:
        for check, (spec, passes, message) in zip(plan.checks, CASES, strict=True):
            result = run_check(check, executor)
            assert result.status == ("pass" if passes else "fail"), (spec, result.message)
            if message:
                assert message in result.message, (spec, result.message)
                executor.fetch_rows(result.failing_rows_sql)  # the SQL that lists the failing rows runs


@pytest.mark.parametrize("engine", every_engine())
def test_the_cache_skips_what_is_unchanged_and_builds_what_changed(on) -> None:
    w = on({"models/a.ff.sql": "select 1 as id", "models/b.ff.sql": "select id from {{ ref('a') }}"})
    assert [r.status for r in w.build(cache=True)[1]] == ["built", "built"]
    assert [r.status for r in w.build(cache=True)[1]] == ["skipped", "skipped"]
    w.write("models/b.ff.sql", "select id + 1 as id from {{ ref('a') }}")
    assert [(r.node_id, r.status) for r in w.build(cache=True)[1]] == [("a.ff", "skipped"), ("b.ff", "built")]
    assert w.rows("select id from b") == [(2,)]


@pytest.mark.parametrize("engine", every_engine())
def test_a_python_models_pandas_result_lands_with_its_types_and_nulls(on) -> None:
    """A pandas result is accepted on every engine (each engine's own DataFrames are in its file)."""
    model = (
        PY + "import pandas as pd\n@model(name='p')\n"
        "def f():\n    return pd.DataFrame({'id': [1, 2], 'name': ['a', None], 'score': [1.5, None]})\n"
    )
    w = on({"models/p.ff.py": model, "models/q.ff.sql": "select id, name, score from {{ ref('p') }}"})
    _, results = w.build()
    assert {r.node_id: r.rows for r in results}["p"] == 2
    assert w.rows("select id, name, score is null from q") == [(1, "a", False), (2, None, True)]
    assert w.rows("select score from q where id = 1") == [(1.5,)]


@pytest.mark.parametrize("engine", every_engine())
def test_seeds_infer_types_cast_the_declared_ones_and_read_an_empty_field_as_null(on) -> None:
    w = on({
        "seeds/people.csv": "id,name,born,amount\n1,Ann,2001-02-03,1.50\n2,,,\n",
        "seeds/schema.yml": "seeds:\n  people: {column_types: {born: date, amount: 'decimal(10,2)'}}\n",
        "models/ages.ff.sql": "select id, name, born, amount from {{ ref('people') }}",
    })
    w.build()
    assert w.rows("select id, name, born is null, amount is null from ages") == [(1, "Ann", False, False), (2, None, True, True)]
    assert w.rows("select id + 1, born, amount * 2 from ages where id = 1") == [(2, dt.date(2001, 2, 3), 3.0)]
