"""FlowForge on dbt-utils' and dbt-date's own integration tests, beside what dbt-core 1.11 did
with them (tests/fixtures/dbt/suites; dbt's results recorded there by record_suites.py).

For each suite and engine it builds the suite with FlowForge (as `ffc build` does, in process)
and prints: models built (of those dbt built), tests passing (of those dbt passed), FlowForge's
and dbt's test outcomes, tables equal to dbt's, the seconds the build took, and every difference.
PostgreSQL runs when FF_TEST_PG_DSN names a server (a schema is made and dropped).

    python bench/dbt_suites.py [--suite dbt_utils] [--engine duckdb]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fixtures.dbt.suites.run_suites import run_suite  # noqa: E402


def pg_environment(dsn: str, schema: str) -> None:
    """The PG* variables the suites' profiles.yml reads, from the DSN."""
    from flowforge_compiler.dsn import parse_dsn

    parts = parse_dsn(dsn, "FF_TEST_PG_DSN")
    os.environ.update(PGHOST=parts.host or "localhost", PGPORT=str(parts.port or 5432), PGUSER=parts.username or "",
                      PGPASSWORD=parts.password or "", PGDATABASE=parts.database or "")  # fmt: skip


def drop(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
        con.execute(f'drop schema if exists "{schema}" cascade')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", choices=["dbt_utils", "dbt_date"])
    parser.add_argument("--engine", action="append", choices=["duckdb", "postgres"])
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    dsn = os.environ.get("FF_TEST_PG_DSN")
    engines = args.engine or (["duckdb", "postgres"] if dsn else ["duckdb"])
    print(f"{'suite':<10} {'engine':<9} {'models':>9} {'tests':>9} {'tables':>9} {'seconds':>8}  FlowForge's tests / dbt's")
    for suite in args.suite or ["dbt_utils", "dbt_date"]:
        for engine in engines:
            schema = f"ff_bench_{uuid.uuid4().hex[:8]}"
            if engine == "postgres":
                assert dsn is not None, "set FF_TEST_PG_DSN"
                pg_environment(dsn, schema)
            started = time.perf_counter()
            try:
                report = run_suite(suite, engine, schema if engine == "postgres" else None)
            finally:
                if engine == "postgres":
                    drop(dsn or "", schema)
            seconds = time.perf_counter() - started
            models, tests, tables = report.models_built(), report.tests_matching(), report.tables_equal()
            outcomes = f"{dict(sorted(report.test_counts(1).items()))} / {dict(sorted(report.test_counts(0).items()))}"
            print(f"{suite:<10} {engine:<9} {models[0]:>4}/{models[1]:<4} {tests[0]:>4}/{tests[1]:<4} {tables[0]:>4}/{tables[1]:<4} {seconds:>8.1f}  {outcomes}")
            for line in report.differences():
                print(f"    {line}")


if __name__ == "__main__":
    main()
