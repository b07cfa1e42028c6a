"""Writing a 1,000,000-row Python-model result into PostgreSQL: COPY (what FlowForge does) vs
pandas `to_sql` (row inserts). Needs a server: --dsn or FF_TEST_PG_DSN.

    python bench/pg_write.py [--rows 1000000] [--dsn postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

import numpy as np
import pandas as pd
import pyarrow as pa

from flowforge_compiler.engines.postgres import PostgresProfile, PostgresSettings
from flowforge_compiler.profiles import Profile
from runtime import open_executor


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "user_id": rng.integers(0, 50_000, rows),
            "amount": rng.normal(50, 20, rows).round(2),
            "email": [f"user{i % 50_000}@example.com" for i in range(rows)],
            "is_valid": rng.random(rows) > 0.1,
            "created_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 86_400 * 365, rows), unit="s"),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="COPY vs to_sql into PostgreSQL")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dsn", default=os.environ.get("FF_TEST_PG_DSN"))
    args = parser.parse_args()
    if not args.dsn:
        sys.exit("give --dsn or set FF_TEST_PG_DSN")
    schema = f"ff_bench_{uuid.uuid4().hex[:8]}"
    profile = Profile("bench", PostgresProfile(engine="postgres", postgres=PostgresSettings(dsn=args.dsn, db_schema=schema)))
    data = frame(args.rows)
    with open_executor(profile) as executor:
        try:
            started = time.perf_counter()
            executor.create_table_from_arrow("via_copy", pa.Table.from_pandas(data, preserve_index=False))
            copy_seconds = time.perf_counter() - started
            assert executor.count_rows("via_copy") == args.rows

            import sqlalchemy

            engine = sqlalchemy.create_engine(executor.url)
            started = time.perf_counter()
            data.to_sql("via_to_sql", engine, schema=schema, index=False, chunksize=10_000)
            to_sql_seconds = time.perf_counter() - started
            engine.dispose()
            assert executor.count_rows(f"{schema}.via_to_sql") == args.rows
        finally:
            executor.execute(f'drop schema if exists "{schema}" cascade')
    print(f"{args.rows:,} rows x {data.shape[1]} columns into PostgreSQL:")
    print(f"  COPY (FlowForge):  {copy_seconds:7.2f} s  {args.rows / copy_seconds:>12,.0f} rows/s")
    print(f"  pandas to_sql:     {to_sql_seconds:7.2f} s  {args.rows / to_sql_seconds:>12,.0f} rows/s")
    print(f"  COPY is {to_sql_seconds / copy_seconds:.1f}x faster")


if __name__ == "__main__":
    main()
