"""Materializations are registered classes with typed configs and traits: a new one is one config
plus one runtime class, in one module (this one), and no product code compares their names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

import duckdb
import pytest

from flowforge_compiler.materializations import MaterializationConfig
from flowforge_compiler.plan import Plan, PlanNode
from runtime.materializations import MATERIALIZATIONS, Materialization, new_rows
from tests.conftest import REPO
from tests.runtime.helpers import build_all


@pytest.fixture
def toy() -> Iterator[type[MaterializationConfig]]:
    """A table whose rows are written twice over: what a new materialization looks like. Defined
    here, registered while the test runs (the registries are the process's), then removed."""

    class ToyMaterialization(MaterializationConfig):
        type: Literal["toy_twice"] = "toy_twice"
        copies: int = 2
        allows_python: ClassVar[bool] = True

    class ToyTwice(Materialization):
        config = ToyMaterialization

        def build(self, ex, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
            assert isinstance(node.materialization, ToyMaterialization)
            create = new_rows(ex, plan, node, root, incremental=False)
            copies = node.materialization.copies

            def twice(tmp: str) -> int | None:
                create(tmp)
                for _ in range(copies - 1):
                    ex.execute(ex.statements.insert_all(tmp, tmp, ex.columns(tmp)))
                return None

            return ex.replace_table(node.relation, twice)

    try:
        yield ToyMaterialization
    finally:
        MaterializationConfig.registry.pop("toy_twice", None)
        MATERIALIZATIONS.pop(ToyMaterialization, None)


def test_a_materialization_defined_in_one_module_compiles_plans_and_builds(toy, make_project, tmp_path: Path) -> None:
    root = make_project({"models/a.ff.sql": "{{ config(materialized='toy_twice') }}select 1 as x union all select 2"})
    db = tmp_path / "w.duckdb"
    plan, results = build_all(root, db)
    assert [r.rows for r in results] == [4]
    node = plan.node("a.ff")
    assert isinstance(node.materialization, toy) and node.materialization.copies == 2
    assert Plan.model_validate_json(plan.to_json()).node("a.ff").materialization == node.materialization  # round trip
    with duckdb.connect(str(db)) as con:
        assert sorted(con.sql("select x from a").fetchall()) == [(1,), (1,), (2,), (2,)]


def test_an_unknown_materialization_names_the_known_ones(make_project) -> None:
    from flowforge_compiler.errors import FlowForgeError
    from tests.compiler.helpers import compile_dir

    with pytest.raises(FlowForgeError, match="use one of: .*ephemeral.*incremental.*table.*view"):
        compile_dir(make_project({"models/a.ff.sql": "{{ config(materialized='tabel') }}select 1 as x"}))


def test_a_plan_holds_the_incremental_config_typed() -> None:
    from flowforge_compiler.materializations import IncrementalMaterialization

    with pytest.raises(ValueError, match="needs a unique_key"):
        IncrementalMaterialization(strategy="merge")
    assert IncrementalMaterialization.from_settings(["id"], None).strategy == "merge"  # type: ignore[attr-defined]
    assert IncrementalMaterialization.from_settings([], None).strategy == "append"  # type: ignore[attr-defined]


_NAMES = {"table", "view", "incremental", "ephemeral", "seed", "stream"}


def _names_materialization(node: ast.expr) -> bool:
    """`x.materialization`, `x.materialization.type`, `x.materialized`, or a name holding one."""
    if isinstance(node, ast.Attribute):
        if node.attr in ("materialization", "materialized"):
            return True
        return node.attr == "type" and _names_materialization(node.value)
    return isinstance(node, ast.Name) and node.id in ("materialization", "materialized")


def _strings(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def test_no_product_code_compares_a_materialization_name() -> None:
    """Traits (`builds_relation`, `cacheable`, ...) and the registry decide; a name compared
    anywhere would have to learn every new materialization."""
    found = []
    for package in ("flowforge", "flowforge_compiler", "runtime", "targets"):
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Compare):
                    sides = [node.left, *node.comparators]
                    if any(_names_materialization(s) for s in sides) and any(_strings(s) & _NAMES for s in sides):
                        found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == []


def test_the_name_compare_check_finds_one(tmp_path: Path) -> None:
    """The check above would see `node.materialization == "ephemeral"`."""
    tree = ast.parse('if node.materialization == "ephemeral": pass\nif m.materialization.type in ("view", "x"): pass')
    compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert all(any(_names_materialization(s) for s in [c.left, *c.comparators]) for c in compares)
    assert all(any(_strings(s) & _NAMES for s in [c.left, *c.comparators]) for c in compares)
