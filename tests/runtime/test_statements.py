"""FlowForge's own SQL: built with sqlglot, one quoting rule, no SQL assembled from f-strings."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from runtime.statements import Statements
from tests.conftest import REPO
from tests.runtime.helpers import build_all, rows

# The start of a SQL statement (not of an English sentence such as "create it, e.g. ...").
SQL_START = re.compile(
    r"^\s*\(?\s*(select\s.*\bfrom\b|with\s+\w+\s+as\b|create\s+(or\s+replace\s+)?(temp\w*\s+)?(table|view|schema|function|index)"
    r"|drop\s+(table|view|schema|function)|insert\s+into|delete\s+from|update\s+\S+\s+set|alter\s+table|merge\s+into"
    r"|copy\s+\S+\s+(from|to)|set\s+\w+\s*(=|to)|truncate\b)",
    re.IGNORECASE | re.DOTALL,
)


def _formatted_strings(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            yield node.lineno, text
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            if isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str):
                yield node.lineno, node.func.value.value


def test_no_sql_is_assembled_from_fstrings_in_the_runtime() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line}: {text[:60]!r}"
        for path in sorted((REPO / "runtime").rglob("*.py"))
        for line, text in _formatted_strings(path)
        if SQL_START.match(text)
    ]
    assert found == []


@pytest.mark.parametrize("dialect, quote", [("duckdb", '"'), ("postgres", '"'), ("bigquery", "`"), ("snowflake", '"'), ("databricks", "`")])
def test_one_quoting_rule_in_every_dialect(dialect: str, quote: str) -> None:
    s = Statements(dialect)
    assert s.drop("table", "Odd Name", if_exists=True).endswith(f"{quote}Odd Name{quote}")
    assert s.rename("analytics.t__ff_tmp", "analytics.t").endswith(f"RENAME TO {quote}t{quote}")
    assert f"{quote}analytics{quote}.{quote}t__ff_tmp{quote}" in s.rename("analytics.t__ff_tmp", "analytics.t")


def test_values_are_literals_escaped_for_the_dialect() -> None:
    assert "'it''s'" in Statements("postgres").insert_meta("_ff_meta", ["it's", "r", "f", "e"])
    assert "'it\\'s'" in Statements("bigquery").insert_meta("_ff_meta", ["it's", "r", "f", "e"])


def test_names_with_quotes_and_upper_case_build(make_project, tmp_path: Path) -> None:
    project = make_project(
        {
            'seeds/Raw "Users".csv': "ID,Name\n1,a\n",
            "models/Customers.ff.sql": "{{ config(materialized='incremental', unique_key='ID') }}select * from {{ ref('Raw \"Users\"') }}",
            "models/it's.ff.sql": "{{ config(materialized='view') }}select \"ID\" from {{ ref('Customers') }}",
        }
    )
    db = tmp_path / "w.duckdb"
    build_all(project, db)
    build_all(project, db)  # the incremental path: delete matching keys, insert
    assert rows(db, 'select "ID", "Name" from "Customers"') == [(1, "a")]
    assert rows(db, "select * from \"it's\"") == [(1,)]
