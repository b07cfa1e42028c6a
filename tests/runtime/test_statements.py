"""FlowForge's own SQL: built with sqlglot, one quoting rule, no SQL assembled from f-strings."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.project import load_project
from runtime import open_executor, run_check, run_node
from flowforge_compiler.plan import Relation
from runtime.statements import Statements
from tests.conftest import REPO
from tests.runtime.engines import ENGINES, engine_profile
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
    assert s.drop("table", "v1.2").endswith(f"{quote}v1.2{quote}")  # a name is never split at its dots
    tmp = Relation(schema="analytics", name="t__ff_tmp")
    assert s.rename(tmp, "t") == f"ALTER TABLE {quote}analytics{quote}.{quote}t__ff_tmp{quote} RENAME TO {quote}t{quote}"


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


@pytest.mark.spark
def test_spark_refuses_names_its_catalog_cannot_hold_at_compile_time(make_project, tmp_path: Path) -> None:
    """Spark's Hive catalog names tables with letters, digits and `_` and folds case: such a
    model stops the compile at its file instead of failing (or colliding) in the warehouse."""
    from flowforge_compiler.errors import ProjectFileError
    from flowforge_compiler.profiles import resolve_profile

    for name in ("v1.2 users", "Users", "a-b"):
        project = make_project({f"models/{name}.ff.sql": "select 1 as id"})
        profile = resolve_profile(project, None, environ={"FF_ENGINE": "databricks_spark"})
        with pytest.raises(ProjectFileError) as info:
            compile_project(load_project(project), profile, environ={})
        assert f"models/{name}.ff.sql" in info.value.render() and "Hive catalog" in str(info.value)


@pytest.mark.parametrize("engine", [e for e in ENGINES if e.values[0] != "databricks_spark"])
def test_names_with_dots_build_and_are_never_split(engine: str, make_project, tmp_path: Path, request) -> None:
    project = make_project(
        {
            "seeds/raw.users.csv": "id,email\n1,a@x.io\n2,\n",
            "project.yml": "name: t\nversion: '1'\ntests:\n"
            "  - {type: not_null, table: \"ref('v1.2 users')\", column: id}\n"
            "  - {type: relationships, table: \"ref('v1.2 users')\", column: id, to: raw.users}\n",
            "models/v1.2 users.ff.sql": "{{ config(materialized='incremental', unique_key='id') }}select * from {{ ref('raw.users') }}",
            "models/summary.v2.ff.sql": "{{ config(materialized='view') }}select count(*) as n from {{ ref('v1.2 users') }}",
        }
    )
    profile = engine_profile(request, engine, project, tmp_path)
    plan = compile_project(load_project(project), profile, environ={})
    assert [n.relation for n in plan.nodes] == ["raw.users", "v1.2 users", "summary.v2"]
    with open_executor(profile) as executor:
        for _ in range(2):  # the second time replaces the seed under the view and applies the increment
            for node in plan.nodes:
                run_node(plan, node.id, executor=executor, root=project)
        assert [run_check(c, executor).status for c in plan.checks] == ["pass", "pass"]
        assert executor.read_node(plan.node("summary.v2.ff")).to_pylist() == [{"n": 2}]
        assert executor.relation_kind("v1.2 users") == "table" and executor.relation_kind("summary.v2") == "view"
