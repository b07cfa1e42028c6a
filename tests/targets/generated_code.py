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

    with duckdb.connect(str(built_db), read_only=True) as con:
        built = {table: con.execute(f"select * from {table} order by all").fetchall() for table in EXAMPLE_TABLES}
    assert built == example_tables_from_ffc_run(ffc, example_copy)


def example_tables_from_ffc_run(ffc, example_copy) -> dict[str, list[tuple]]:
    """The example's tables as `ffc run --env dev` builds them on DuckDB, rows in order."""
    import duckdb

    local = example_copy("simple_duckdb")
    assert ffc("run", local, "--env", "dev").exit_code == 0
    with duckdb.connect(str(local / ".local" / "demo.duckdb"), read_only=True) as con:
        return {table: con.execute(f"select * from {table} order by all").fetchall() for table in EXAMPLE_TABLES}


def spark_example_tables(root: Path, environ: dict[str, str]) -> dict[str, list[tuple]]:
    """The example's tables in the Spark database `environ` names, rows in order."""
    from flowforge_compiler.profiles import resolve_profile
    from runtime import open_executor

    with open_executor(resolve_profile(root, None, environ=environ)) as executor:
        statements = executor.statements
        return {table: sorted(executor.fetch_rows(statements.sql(statements.select_all(table))), key=repr) for table in EXAMPLE_TABLES}


def compile_target(target: str, project: Path, out: Path, *args: str, env: str | None = None) -> Path:
    """`ffc compile PROJECT --target TARGET --out OUT ...` in-process; it must exit 0."""
    import pytest

    from flowforge.cli import main

    argv = ["compile", str(project), "--target", target, "--out", str(out), "-q", *args]
    if env:
        argv += ["--env", env]
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    return out


# A project with a stream (and a model reading its table), for micro-batches run by orchestrators.
STREAMING = {
    "project.yml": """
        name: clicks
        version: '1'
        streams:
          - name: web_sessions
            source: {type: file_tail, path: events/events.jsonl}
            sessionize: {user_column: user_id, time_column: ts, gap_minutes: 30, revenue_column: revenue}
            into: fct_sessions_streaming
            tags: [streaming]
        tests:
          - {type: unique, table: fct_sessions_streaming, column: session_id, tags: [streaming]}
        """,
    "models/daily_revenue.ff.sql": "select sum(revenue) as revenue, sum(pageviews) as pageviews from {{ ref('fct_sessions_streaming') }}",
}


def append_events(project: Path, first: int, count: int) -> None:
    """Events `first` .. `first + count - 1`: one a minute per user of three, revenue 1.5 each."""
    events = project / "events" / "events.jsonl"
    events.parent.mkdir(exist_ok=True)
    with events.open("a") as handle:
        for i in range(first, first + count):
            handle.write('{"user_id": "u%d", "ts": %d, "revenue": 1.5}\n' % (i % 3, 1767225600 + 60 * i))
