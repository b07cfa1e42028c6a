"""The plan is the targets' one contract: they read plan.json's model and the project folder's
files the plan lists, never the compiler's Project or its stages."""

from __future__ import annotations

import ast

from tests.conftest import REPO
from tests.compiler.helpers import compile_dir

COMPILER_STAGES = {"flowforge_compiler.project", "flowforge_compiler.compile", "flowforge_compiler.dsl", "flowforge_compiler.sql_models"}


def test_targets_import_no_compiler_stage() -> None:
    found = []
    for path in sorted((REPO / "targets").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in COMPILER_STAGES:
                found.append(f"{path.name}: {node.module}")
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
