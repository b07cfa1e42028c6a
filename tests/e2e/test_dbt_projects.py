"""dbt projects run unchanged: dbt-labs/jaffle_shop, as published (tests/fixtures/dbt), builds
with `ffc build` into the tables dbt-core 1.11 with dbt-duckdb built from it, which were written
once to tests/fixtures/dbt/jaffle_shop_expected (dbt is never called here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e
FIXTURES = REPO / "tests" / "fixtures" / "dbt"
TABLES = ["customers", "orders", "stg_customers", "stg_orders", "stg_payments"]


def as_csv(db: Path, table: str, out: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(f"copy (select * from \"{table}\" order by all) to '{out}' (header, delimiter ',')")
    return out.read_text()


def test_jaffle_shop_builds_unmodified_with_its_20_tests_and_dbts_rows(tmp_path: Path, ffc) -> None:
    project = tmp_path / "jaffle_shop"
    shutil.copytree(FIXTURES / "jaffle_shop", project)
    db = tmp_path / "jaffle.duckdb"
    result = ffc("build", project, env={"FF_DUCKDB_PATH": str(db)})
    assert result.exit_code == 0, result.output
    assert "passed: 20" in result.stdout and "Finished 8 nodes" in result.stdout
    for table in TABLES:
        assert as_csv(db, table, tmp_path / f"{table}.csv") == (FIXTURES / "jaffle_shop_expected" / f"{table}.csv").read_text(), table
    with duckdb.connect(str(db), read_only=True) as con:
        kinds = dict(con.execute("select table_name, table_type from information_schema.tables").fetchall())
    assert kinds["stg_orders"] == "VIEW" and kinds["orders"] == "BASE TABLE"  # folder config: staging is views


def test_a_dbt_test_flowforge_does_not_have_names_itself_and_its_file(tmp_path: Path, ffc) -> None:
    project = tmp_path / "p"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: p\nversion: '1'\n")
    (project / "models" / "a.sql").write_text("select 1 as id")
    (project / "models" / "schema.yml").write_text(
        "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n        tests:\n          - dbt_utils.at_least_one\n"
    )
    result = ffc("ls", project)
    assert result.exit_code == 1
    assert "models/schema.yml" in result.output and "'dbt_utils.at_least_one'" in result.output


def test_the_docs_site_of_a_dbt_project_shows_its_schema_descriptions(tmp_path: Path, ffc) -> None:
    project = tmp_path / "jaffle_shop"
    shutil.copytree(FIXTURES / "jaffle_shop", project)
    result = ffc("docs", project, "--no-status")
    assert result.exit_code == 0, result.output
    pages = "\n".join(p.read_text(encoding="utf-8") for p in (project / "docs" / "nodes").glob("*.html"))
    assert "This table has basic information about a customer" in pages
    assert "Orders can be one of the following statuses" in pages  # a doc() block
