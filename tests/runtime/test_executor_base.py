"""The build lifecycle every engine shares (runtime/executors/base.py): how a table is replaced
when the catalog may have changed since this executor last looked."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.errors import ModelBuildError
from flowforge_compiler.project import load_project
from runtime import open_executor
from tests.runtime.engines import ENGINES, engine_profile

MODELS = {f"models/m{i}.ff.sql": f"select {i} as v" for i in range(3)}


def _values(ex, relation: str) -> list[tuple]:
    return ex.fetch_rows(ex.statements.sql(ex.statements.select_all(relation)))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_first_run_reads_the_catalog_once_not_once_a_node(engine, request, make_project, tmp_path: Path, monkeypatch) -> None:
    """The first table is looked up by name (all an orchestrator's one-node task needs); from
    the second on, the catalog read once answers."""
    root = make_project(MODELS | {f"models/n{i}.ff.sql": f"select {i} as v" for i in range(3)})
    profile = engine_profile(request, engine, root, tmp_path)
    plan = compile_project(load_project(root), profile)
    relations = {node.relation for node in plan.nodes}
    with open_executor(profile) as ex:
        asked: list[str] = []
        catalogs: list[int] = []
        kind, existing = ex.relation_kind, ex.existing_relations
        monkeypatch.setattr(ex, "relation_kind", lambda name: asked.append(name) or kind(name))
        monkeypatch.setattr(ex, "existing_relations", lambda: catalogs.append(1) or existing())
        for node in plan.nodes:
            ex.build(plan, node, root)
        assert [name for name in asked if name in relations] == [plan.nodes[0].relation]
        assert len(catalogs) == 1
        assert [_values(ex, f"m{i}") for i in range(3)] == [[(0,)], [(1,)], [(2,)]]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_task_that_builds_one_table_never_reads_the_whole_catalog(engine, request, make_project, tmp_path: Path, monkeypatch) -> None:
    root = make_project(MODELS)
    profile = engine_profile(request, engine, root, tmp_path)
    plan = compile_project(load_project(root), profile)
    with open_executor(profile) as ex:
        monkeypatch.setattr(ex, "existing_relations", lambda: pytest.fail("read the whole catalog for one table"))
        assert ex.build(plan, plan.node("m1.ff"), root).status == "built"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_table_made_after_the_catalog_was_read_is_replaced_not_failed(engine, request, make_project, tmp_path: Path) -> None:
    root = make_project(MODELS)
    profile = engine_profile(request, engine, root, tmp_path)
    plan = compile_project(load_project(root), profile)
    with open_executor(profile) as ex:
        ex.build(plan, plan.node("m0.ff"), root)
        ex.build(plan, plan.node("m1.ff"), root)  # the catalog is read here: m2 is absent
        ex.execute(ex.statements.create_table_as("m2", "select 99 as v"))  # another writer makes it
        result = ex.build(plan, plan.node("m2.ff"), root)
        assert (result.status, _values(ex, "m2")) == ("built", [(2,)])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_table_made_between_its_look_up_and_its_create_is_replaced_not_failed(engine, request, make_project, tmp_path: Path, monkeypatch) -> None:
    """Two first runs on a fresh schema: both look the table up, find nothing, and create it;
    the loser's create fails (PostgreSQL: duplicate key in pg_type) and must replace instead."""
    root = make_project(MODELS)
    profile = engine_profile(request, engine, root, tmp_path)
    plan = compile_project(load_project(root), profile)
    with open_executor(profile) as ex:
        ex.prepare_run(plan)
        ex.execute(ex.statements.create_table_as("m0", "select 99 as v"))  # the other run won
        # the look-up saw nothing, a moment before the other run committed
        monkeypatch.setattr(ex, "relation_kind", _first_answer_none(ex.relation_kind, "m0"))
        result = ex.build(plan, plan.node("m0.ff"), root)
        assert (result.status, _values(ex, "m0")) == ("built", [(0,)])


def _first_answer_none(kind, name: str):
    seen = []

    def relation_kind(asked: str):
        if asked == name and not seen:
            seen.append(asked)
            return None
        return kind(asked)

    return relation_kind


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failed_first_build_reports_the_engine_and_leaves_no_table(engine, request, make_project, tmp_path: Path) -> None:
    root = make_project({"models/bad.ff.sql": "select cast('x' as integer) as v", "models/good.ff.sql": "select 1 as v"})
    profile = engine_profile(request, engine, root, tmp_path)
    plan = compile_project(load_project(root), profile)
    with open_executor(profile) as ex:
        for first in ("bad.ff", "good.ff", "bad.ff"):  # looked up by name, then from the catalog read
            if first == "good.ff":
                ex.build(plan, plan.node(first), root)
                continue
            with pytest.raises(ModelBuildError) as info:
                ex.build(plan, plan.node(first), root)
            assert info.value.node == "bad.ff" and info.value.engine_message
            assert ex.relation_kind("bad") is None
