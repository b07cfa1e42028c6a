"""The plan is the targets' one contract: they read plan.json's model and the project folder's
files the plan lists, never the compiler's Project or its stages."""

from __future__ import annotations

import ast

from tests.conftest import REPO
from tests.compiler.helpers import compile_dir

# The compiler's stages: what turns a project into a plan. The runtime and the targets start from
# the plan; they share with the compiler only the plan, the authoring API, queries on a plan
# (selection: a trigger-time `select` is evaluated in the plan task) and the settings and errors
# both sides need (profiles, the engine SDK, errors, paths).
COMPILER_STAGES = {
    f"flowforge_compiler.{name}"
    for name in ("project", "compile", "dsl", "sql_models", "drafts", "transpile", "lineage", "checks", "python_models", "cli")
}


def test_runtime_and_targets_import_no_compiler_stage() -> None:
    files = [path for package in ("runtime", "targets") for path in sorted((REPO / package).rglob("*.py"))]
    files.append(REPO / "flowforge_compiler" / "selection.py")  # the plan task runs it: it must stay stage-free
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[:2] in [s.split(".") for s in COMPILER_STAGES]:
                found.append(f"{path.relative_to(REPO)}: {node.module}")
    assert found == []


def test_graph_queries_live_on_the_plan(make_project) -> None:
    plan = compile_dir(
        make_project(
            {
                "models/a.ff.sql": "select 1 as id",
                "models/e.ff.sql": "{{ config(materialized='ephemeral') }}select * from {{ ref('a') }}",
                "models/f.ff.sql": "{{ config(materialized='ephemeral') }}select * from {{ ref('e') }}",
                "models/b.ff.sql": "select * from {{ ref('f') }} join {{ ref('a') }} using (id)",
            }
        )
    )
    assert plan.built_parents("b.ff") == ["a.ff"]  # through two ephemerals, once
    assert plan.built_parents("b.ff", among={"b.ff"}) == []  # a parent outside a selection is no task
    assert plan.deps()["b.ff"] == ["a.ff", "f.ff"]
