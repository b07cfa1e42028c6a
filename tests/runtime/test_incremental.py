"""Incremental models on the engines whose rows are their own: a Python model's is_incremental(),
and rows that only arrive giving what a full rebuild gives (every strategy on every engine, with
--full-refresh, is in test_conformance.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import open_executor, run_node
from tests.compiler.helpers import compile_dir
from tests.runtime.engines import ENGINES, engine_profile

SQL_MODELS = {
    "models/app.ff.sql": "{{ config(materialized='incremental', incremental_strategy='append') }}"
    "select id, v from {{ ref('src') }}{% if is_incremental() %} where id > (select max(id) from {{ this }}){% endif %}",
    "models/mrg.ff.sql": "{{ config(materialized='incremental', unique_key='id') }}"
    "select id, v from {{ ref('src') }}{% if is_incremental() %} where id >= 2{% endif %}",
    "models/dins.ff.sql": "{{ config(materialized='incremental', unique_key=['id'], incremental_strategy='delete+insert') }}"
    "select id, v from {{ ref('src') }}",
    "models/py.ff.py": "from flowforge_compiler import model, is_incremental\n"
    "@model(name='py', deps=['src'])\ndef f(df):\n    return df[df.id >= 2] if is_incremental() else df\n",
    "project.yml": "name: t\nversion: '1'\nmodels:\n  py: {materialized: incremental, unique_key: id}\n",
}


def build(root: Path, profile, *, full_refresh: bool = False) -> None:
    plan = compile_dir(root)
    with open_executor(profile) as executor:
        for node in plan.nodes:
            run_node(plan, node.id, executor=executor, root=root, full_refresh=full_refresh)


def table(profile, relation: str) -> list[tuple]:
    with open_executor(profile) as executor:
        data = executor.read_arrow(f"select * from {executor.quote(relation)} order by 1, 2").to_pylist()
    return [tuple(r.values()) for r in data]


@pytest.mark.parametrize("engine", ENGINES)
def test_is_incremental_in_a_python_model(engine: str, make_project, tmp_path: Path, request) -> None:
    """A Python model's `is_incremental()` (its frame is the engine's own: pandas, or Spark's);
    the SQL strategies on every engine are in test_conformance.py."""
    root = make_project({"models/py.ff.py": SQL_MODELS["models/py.ff.py"], "project.yml": SQL_MODELS["project.yml"], "seeds/src.csv": "id,v\n1,a\n2,b\n"})
    profile = engine_profile(request, engine, root, tmp_path)
    build(root, profile)
    (root / "seeds/src.csv").write_text("id,v\n1,A\n2,B\n3,c\n3,c2\n")
    build(root, profile)
    assert table(profile, "py") == [(1, "a"), (2, "B"), (3, "c"), (3, "c2")]  # only rows with id >= 2 merged
    build(root, profile, full_refresh=True)
    assert table(profile, "py") == [(1, "A"), (2, "B"), (3, "c"), (3, "c2")]


@pytest.mark.parametrize("engine", ENGINES)
def test_incremental_equals_a_full_rebuild_when_rows_only_arrive(engine: str, make_project, tmp_path: Path, request) -> None:
    root = make_project({**SQL_MODELS, "seeds/src.csv": "id,v\n1,a\n"})
    profile = engine_profile(request, engine, root, tmp_path)
    build(root, profile)
    for batch in ["id,v\n1,a\n2,b\n", "id,v\n1,a\n2,b\n3,c\n4,d\n"]:
        (root / "seeds/src.csv").write_text(batch)
        build(root, profile)
    incremental = {name: table(profile, name) for name in ("app", "mrg", "dins", "py")}
    build(root, profile, full_refresh=True)
    assert incremental == {name: table(profile, name) for name in ("app", "mrg", "dins", "py")}
