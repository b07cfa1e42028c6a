"""Reading generated modules the way an attacker's input would show up: as imports."""

from __future__ import annotations

import ast
from pathlib import Path


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports (hostile names must stay inside string literals)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }


# A project for trigger-time controls: a chain to select part of, an incremental model to refresh.
SELECTABLE = {
    "models/a.ff.sql": "select 1 as v",
    "models/b.ff.sql": "select v from {{ ref('a') }}",
    "models/inc.ff.sql": "{{ config(materialized='incremental') }}\nselect 1 as v",
}

EXAMPLE_TABLES = ["users", "orders", "users_enriched", "mart_orders_enriched", "mart_users"]


def assert_same_as_ffc_run(built_db: Path, ffc, example_copy) -> None:
    """The example's tables in `built_db` equal those `ffc run --env dev` builds."""
    import duckdb

    local = example_copy("simple_duckdb")
    assert ffc("run", local, "--env", "dev").exit_code == 0
    local_db = local / ".local" / "demo.duckdb"
    for table in EXAMPLE_TABLES:
        query = f"select * from {table} order by all"
        with duckdb.connect(str(built_db), read_only=True) as a, duckdb.connect(str(local_db), read_only=True) as b:
            assert a.execute(query).fetchall() == b.execute(query).fetchall(), table


def compile_target(target: str, project: Path, out: Path, *args: str, env: str | None = None) -> Path:
    """`ffc compile PROJECT --target TARGET --out OUT ...` in-process; it must exit 0."""
    import pytest

    from flowforge_compiler.cli import main

    argv = ["compile", str(project), "--target", target, "--out", str(out), "-q", *args]
    if env:
        argv += ["--env", env]
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    return out
