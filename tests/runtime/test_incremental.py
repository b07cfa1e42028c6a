"""Incremental models on DuckDB and PostgreSQL: the first run and --full-refresh build the whole
table, later runs apply new rows; the result equals a full rebuild."""

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
def test_incremental_strategies(engine: str, make_project, tmp_path: Path, request) -> None:
    root = make_project({**SQL_MODELS, "seeds/src.csv": "id,v\n1,a\n2,b\n"})
    profile = engine_profile(request, engine, root, tmp_path)
    build(root, profile)
    assert table(profile, "app") == [(1, "a"), (2, "b")]
    # New rows, a changed row, and a duplicate of a unique_key in the new batch.
    (root / "seeds/src.csv").write_text("id,v\n1,A\n2,B\n3,c\n3,c2\n")
    build(root, profile)
    assert table(profile, "app") == [(1, "a"), (2, "b"), (3, "c"), (3, "c2")]  # only rows past max(id)
    assert table(profile, "mrg") == [(1, "a"), (2, "B"), (3, "c"), (3, "c2")]  # keys 2, 3 replaced
    assert table(profile, "dins") == [(1, "A"), (2, "B"), (3, "c"), (3, "c2")]  # every key replaced
    assert table(profile, "py") == [(1, "a"), (2, "B"), (3, "c"), (3, "c2")]  # is_incremental() in Python
    build(root, profile, full_refresh=True)
    full = {name: table(profile, name) for name in ("app", "mrg", "dins", "py")}
    assert all(rows == [(1, "A"), (2, "B"), (3, "c"), (3, "c2")] for rows in full.values()), full


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
