"""dbt's own macro library (dbt-adapters' global macros and each adapter's overrides, read from
the installed packages) renders a dbt project's macros as dbt does: the same SQL, and the same
rows, on DuckDB and PostgreSQL. tests/fixtures/dbt/dbt_library calls some forty of dbt's
macros, with and without the `dbt.` prefix, overrides one (a project's `default__` wins) and
dispatches one of its own; dbt_library_expected.json is what dbt-core 1.11.16 with dbt-duckdb
1.11.1 and dbt-postgres 1.11.0 compiled and built from it (record_dbt_library.py, by hand;
dbt is never called here)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from tests.conftest import REPO
from tests.fixtures.dbt.record_dbt_library import duckdb_relations

pytestmark = pytest.mark.e2e
FIXTURES = REPO / "tests" / "fixtures" / "dbt"
EXPECTED = json.loads((FIXTURES / "dbt_library_expected.json").read_text(encoding="utf-8"))
MODELS = sorted(EXPECTED["duckdb"]["compiled"])


def library_project(tmp_path: Path) -> Path:
    project = tmp_path / "dbt_library"
    shutil.copytree(FIXTURES / "dbt_library", project)
    return project


_QUALIFIED = re.compile(r'"[^"]+"\."[^"]+"\."(\w+)"')


def words(sql: str) -> str:
    """SQL with its whitespace folded (dbt keeps the blank lines of `{% for %}` blocks) and dbt's
    `"database"."schema"."name"` of a ref() as FlowForge writes it today, the bare name in the
    profile's schema (where a node lands is issue 30's)."""
    return " ".join(_QUALIFIED.sub(r"\1", sql).split())


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
@pytest.mark.parametrize("model", MODELS)
def test_dbts_macros_compile_to_the_sql_dbt_compiled(tmp_path: Path, target: str, model: str) -> None:
    project = load_project(library_project(tmp_path))
    plan = compile_project(project, resolve_profile(project.root, target, environ={}), environ={})
    compiled = next(node.sql for node in plan.nodes if node.id == model)
    assert words(compiled) == words(EXPECTED[target]["compiled"][model])


def test_dbts_macros_build_dbts_rows_on_duckdb(tmp_path: Path, ffc) -> None:
    project = library_project(tmp_path)
    result = ffc("build", project)
    assert result.exit_code == 0, result.output
    assert duckdb_relations(project / "library.duckdb") == EXPECTED["duckdb"]["relations"]


@pytest.mark.postgres
def test_dbts_macros_build_dbts_rows_on_postgres(tmp_path: Path, ffc, pg_dsn: str, pg_schema: str) -> None:
    import psycopg

    from flowforge_compiler.dsn import parse_dsn

    dsn = parse_dsn(pg_dsn, "test")
    environ = {"PGHOST": dsn.host or "localhost", "PGPORT": str(dsn.port or 5432), "PGUSER": dsn.username or "",
               "PGPASSWORD": dsn.password or "", "PGDATABASE": dsn.database or "", "PGSCHEMA": pg_schema}  # fmt: skip
    result = ffc("build", library_project(tmp_path), "--target", "postgres", env=environ)
    assert result.exit_code == 0, result.output
    built: dict[str, dict] = {}
    with psycopg.connect(pg_dsn.replace("postgresql+psycopg://", "postgresql://")) as con:
        tables = [n for (n,) in con.execute("select table_name from information_schema.tables where table_schema = %s order by 1", (pg_schema,))]
        for name in (t for t in tables if not t.startswith("_ff_")):
            columns = [list(c) for c in con.execute(
                "select column_name, data_type from information_schema.columns where table_schema = %s and table_name = %s order by ordinal_position",
                (pg_schema, name),
            )]  # fmt: skip
            order = ", ".join(str(i + 1) for i in range(len(columns)))
            rows = [list(map(str, row)) for row in con.execute(f'select * from "{pg_schema}"."{name}" order by {order}')]  # noqa: S608 - test names
            built[name] = {"columns": columns, "rows": rows}
    assert built == EXPECTED["postgres"]["relations"]
