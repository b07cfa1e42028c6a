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


def assert_dbts_rows(rows_of, *, by_value: bool = False, expected_in: str = "jaffle_shop_expected", tables: list[str] = TABLES) -> None:
    """Each table's CSV equals dbt's; `by_value` compares numbers as numbers, rows in order of
    their values (PostgreSQL writes jaffle_shop's `amount / 100` of integer cents as an integer,
    as dbt-postgres does, where DuckDB writes 33.0)."""
    for table in tables:
        expected = (FIXTURES / expected_in / f"{table}.csv").read_text()
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

    header, *rows = [[value(cell) for cell in line.split(",")] for line in text.splitlines()]
    return [header, *sorted(rows, key=lambda row: [(isinstance(v, str), v) for v in row])]


def pg_rows(pg_dsn: str, schema: str):
    """A reader of one table's rows on PostgreSQL, as CSV text with a header."""
    import psycopg

    con = psycopg.connect(pg_dsn.replace("postgresql+psycopg://", "postgresql://"))

    def rows_of(table: str) -> str:
        cursor = con.execute(f'select * from "{schema}"."{table}" order by 1')
        header = ",".join(d.name for d in cursor.description)
        lines = [",".join("" if v is None else str(v) for v in row) for row in cursor.fetchall()]
        return "\n".join([header, *lines]) + "\n"

    return con, rows_of


def pg_environ(pg_dsn: str, schema: str) -> dict[str, str]:
    """The variables the test profiles' postgres outputs read."""
    from flowforge_compiler.dsn import parse_dsn

    dsn = parse_dsn(pg_dsn, "test")
    return {
        "PGHOST_TEST": dsn.host or "localhost", "PGPORT_TEST": str(dsn.port or 5432), "PGUSER_TEST": dsn.username or "",
        "DBT_ENV_SECRET_PG_PASSWORD": dsn.password or "", "PGDATABASE_TEST": dsn.database or "", "PGSCHEMA_TEST": schema,
    }  # fmt: skip


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
    environ = pg_environ(pg_dsn, pg_schema)
    project = jaffle_shop(tmp_path)
    profiles = tmp_path / "dbt-home"
    profiles.mkdir()
    (project / "profiles.yml").rename(profiles / "profiles.yml")  # found through $DBT_PROFILES_DIR
    result = ffc("build", project, "--target", "pg", env={**environ, "DBT_PROFILES_DIR": str(profiles)})
    assert result.exit_code == 0, result.output
    assert "passed: 20" in result.stdout
    con, rows_of = pg_rows(pg_dsn, pg_schema)
    with con:
        assert_dbts_rows(rows_of, by_value=True)


UTILS_TABLES = [
    "stg_customers", "stg_orders", "stg_events", "stg_page_views", "customer_orders", "order_months", "day_numbers", "event_ids",
    "calendar", "status_counts", "customers_public", "event_kinds", "event_kinds_expected",
]  # fmt: skip


def utils_shop(tmp_path: Path, *, installed: bool = True) -> Path:
    """utils_shop as `dbt deps` leaves it: dbt_utils (the copy in tests/fixtures/dbt/packages)
    installed in dbt_packages/, and a dbt profiles.yml beside it."""
    project = tmp_path / "utils_shop"
    shutil.copytree(FIXTURES / "utils_shop", project)
    if installed:
        shutil.copytree(FIXTURES / "packages" / "dbt_utils", project / "dbt_packages" / "dbt_utils")
    (project / "profiles.yml").write_text(PROFILES.replace("jaffle_shop:", "utils_shop:").replace("jaffle.duckdb", "utils_shop.duckdb"))
    return project


def test_a_project_using_dbt_utils_builds_with_the_installed_package_and_gives_dbts_rows(tmp_path: Path, ffc) -> None:
    project = utils_shop(tmp_path)
    result = ffc("build", project)
    assert result.exit_code == 0, result.output
    # dbt build: 25 tests, one of them a failing warn-severity expression_is_true ("WARN 2")
    assert "passed: 24" in result.stdout and "warned: 1" in result.stdout and "Finished 18 nodes" in result.stdout
    assert "dbt_utils_expression_is_true_stg_orders_2" in result.stdout and "returned 2 rows" in result.stdout
    db = project / "utils_shop.duckdb"
    assert_dbts_rows(lambda table: as_csv(db, table, tmp_path / f"{table}.csv"), expected_in="utils_shop_expected", tables=UTILS_TABLES)


@pytest.mark.postgres
def test_the_dbt_utils_project_gives_the_same_rows_on_postgres(tmp_path: Path, ffc, pg_dsn: str, pg_schema: str) -> None:
    project = utils_shop(tmp_path)
    result = ffc("build", project, "--target", "pg", env=pg_environ(pg_dsn, pg_schema))
    assert result.exit_code == 0, result.output
    assert "passed: 24" in result.stdout and "warned: 1" in result.stdout  # dbt_utils dispatches to postgres__deduplicate here
    con, rows_of = pg_rows(pg_dsn, pg_schema)
    with con:
        assert_dbts_rows(rows_of, by_value=True, expected_in="utils_shop_expected", tables=UTILS_TABLES)


def test_a_project_whose_packages_are_not_installed_says_to_run_dbt_deps(tmp_path: Path, ffc) -> None:
    project = utils_shop(tmp_path, installed=False)
    result = ffc("build", project)
    assert result.exit_code == 1
    assert "run `dbt deps`" in result.output and "models/schema.yml" in result.output


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
