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


# dbt's profiles.yml as a dbt-duckdb / dbt-postgres user writes it (jaffle_shop ships none).
PROFILES = """
jaffle_shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: jaffle.duckdb
      threads: 4
    pg:
      type: postgres
      host: "{{ env_var('PGHOST_TEST') }}"
      port: "{{ env_var('PGPORT_TEST') | as_number }}"
      user: "{{ env_var('PGUSER_TEST') }}"
      password: "{{ env_var('DBT_ENV_SECRET_PG_PASSWORD') }}"
      dbname: "{{ env_var('PGDATABASE_TEST') }}"
      schema: "{{ env_var('PGSCHEMA_TEST') }}"
      threads: 4
"""


def jaffle_shop(tmp_path: Path) -> Path:
    project = tmp_path / "jaffle_shop"
    shutil.copytree(FIXTURES / "jaffle_shop", project)
    (project / "profiles.yml").write_text(PROFILES)
    return project


def assert_dbts_rows(rows_of, *, by_value: bool = False) -> None:
    """Each table's CSV equals dbt's; `by_value` compares numbers as numbers (PostgreSQL writes
    jaffle_shop's `amount / 100` of integer cents as an integer, as dbt-postgres does, where
    DuckDB writes 33.0)."""
    for table in TABLES:
        expected = (FIXTURES / "jaffle_shop_expected" / f"{table}.csv").read_text()
        got = rows_of(table)
        if by_value:
            got, expected = _values(got), _values(expected)
        assert got == expected, table


def _values(text: str) -> list[list[object]]:
    def value(cell: str) -> object:
        try:
            return float(cell)
        except ValueError:
            return cell

    return [[value(cell) for cell in line.split(",")] for line in text.splitlines()]


def test_jaffle_shop_builds_unmodified_with_its_20_tests_and_dbts_rows(tmp_path: Path, ffc) -> None:
    project = jaffle_shop(tmp_path)
    result = ffc("build", project)
    assert result.exit_code == 0, result.output
    assert "passed: 20" in result.stdout and "Finished 8 nodes" in result.stdout
    db = project / "jaffle.duckdb"  # the dbt profile's path, relative to the project
    assert_dbts_rows(lambda table: as_csv(db, table, tmp_path / f"{table}.csv"))
    with duckdb.connect(str(db), read_only=True) as con:
        kinds = dict(con.execute("select table_name, table_type from information_schema.tables").fetchall())
    assert kinds["stg_orders"] == "VIEW" and kinds["orders"] == "BASE TABLE"  # folder config: staging is views


@pytest.mark.postgres
def test_jaffle_shop_on_the_dbt_profiles_postgres_target_gives_the_same_rows(tmp_path: Path, ffc, pg_dsn: str, pg_schema: str) -> None:
    import psycopg

    from flowforge_compiler.dsn import parse_dsn

    dsn = parse_dsn(pg_dsn, "test")
    environ = {
        "PGHOST_TEST": dsn.host or "localhost", "PGPORT_TEST": str(dsn.port or 5432), "PGUSER_TEST": dsn.username or "",
        "DBT_ENV_SECRET_PG_PASSWORD": dsn.password or "", "PGDATABASE_TEST": dsn.database or "", "PGSCHEMA_TEST": pg_schema,
    }  # fmt: skip
    project = jaffle_shop(tmp_path)
    profiles = tmp_path / "dbt-home"
    profiles.mkdir()
    (project / "profiles.yml").rename(profiles / "profiles.yml")  # found through $DBT_PROFILES_DIR
    result = ffc("build", project, "--target", "pg", env={**environ, "DBT_PROFILES_DIR": str(profiles)})
    assert result.exit_code == 0, result.output
    assert "passed: 20" in result.stdout
    with psycopg.connect(pg_dsn.replace("postgresql+psycopg://", "postgresql://")) as con:

        def rows_of(table: str) -> str:
            cursor = con.execute(f'select * from "{pg_schema}"."{table}" order by 1')
            header = ",".join(d.name for d in cursor.description)
            lines = [",".join("" if v is None else str(v) for v in row) for row in cursor.fetchall()]
            return "\n".join([header, *lines]) + "\n"

        assert_dbts_rows(rows_of, by_value=True)


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


def test_singular_tests_run_with_ffc_test_and_a_failing_one_exits_2(tmp_path: Path, ffc) -> None:
    project = jaffle_shop(tmp_path)
    (project / "tests").mkdir()
    (project / "tests" / "assert_total_payment_amount_is_positive.sql").write_text(
        "-- Refunds have a negative amount, so the total amount should always be >= 0.\n"
        "select order_id, sum(amount) as total_amount from {{ ref('orders') }} group by 1 having not (sum(amount) >= 0)\n"
    )
    assert ffc("build", project).exit_code == 0
    (project / "tests" / "assert_no_coupons.sql").write_text("select * from {{ ref('jaffle_shop', 'stg_payments') }} where payment_method = 'coupon'")
    result = ffc("test", project)
    assert result.exit_code == 2, result.output
    assert "assert_no_coupons" in result.stdout and "tests/assert_no_coupons.sql returned" in result.stdout
    assert "passed: 21" in result.stdout


def test_a_seeds_column_types_from_dbt_project_yml_keep_leading_zeros(tmp_path: Path, ffc) -> None:
    from tests.conftest import write_project

    project = write_project(
        tmp_path / "shop",
        {
            "project.yml": None,
            "dbt_project.yml": "name: shop\nversion: '1'\nseeds:\n  shop:\n    +column_types: {zip: varchar}\n",
            "seeds/stores.csv": "id,zip\n1,01234\n",
            "profiles.yml": "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: shop.duckdb}\n",
        },
    )
    (project / "dbt_project.yml").write_text((project / "dbt_project.yml").read_text().replace("name: shop\n", "name: shop\nprofile: shop\n"))
    assert ffc("seed", project).exit_code == 0
    with duckdb.connect(str(project / "shop.duckdb"), read_only=True) as con:
        assert con.execute("select zip from stores").fetchall() == [("01234",)]


def test_flowforge_unit_tests_run_beside_an_unmodified_dbt_project(tmp_path: Path, ffc) -> None:
    project = jaffle_shop(tmp_path)
    (project / "tests" / "unit").mkdir(parents=True)
    case = """
model: stg_payments
defaults:
  inputs:
    raw_payments:
      rows:
        - {{id: 1, order_id: 10, payment_method: coupon, amount: 1250}}
cases:
  - name: cents_become_dollars
    expect:
      rows:
        - {{payment_id: 1, order_id: 10, payment_method: coupon, amount: {amount}}}
"""
    (project / "tests" / "unit" / "stg_payments.yml").write_text(case.format(amount=12.5))
    passing = ffc("utest", project)
    assert passing.exit_code == 0 and "1 passed" in passing.stdout, passing.output
    (project / "tests" / "unit" / "stg_payments.yml").write_text(case.format(amount=1250))
    assert ffc("utest", project).exit_code == 2
