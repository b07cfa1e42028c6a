"""A large run on PostgreSQL: `ffc run --jobs 8` of 5,000 synthetic models (10% Python) in a
fresh schema, as a user runs it, on a server with the default `max_connections=100`.

Prints the wall time, the peak number of connections the run held (sampled from
pg_stat_activity every 50 ms: backends of the run's application name) and the run's peak
memory (max RSS of the process). Before one pool served the whole run, a 2,000-model run at
--jobs 4 failed with "too many clients already".

    FF_TEST_PG_DSN=postgresql+psycopg://USER:PASSWORD@localhost:5432/DB python bench/pg_scale.py [--models 5000] [--jobs 8]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate  # noqa: E402


def drop_schema(con: psycopg.Connection, schema: str) -> None:
    """A few hundred relations per statement: one DROP SCHEMA CASCADE of thousands runs out of
    the server's lock slots."""
    query = "select table_name, table_type from information_schema.tables where table_schema = %s limit 300"
    while found := con.execute(query, (schema,)).fetchall():
        for kind, keyword in (("VIEW", "view"), ("BASE TABLE", "table")):
            names = [f'"{schema}"."{name}"' for name, table_type in found if table_type == kind]
            if names:
                con.execute(f"drop {keyword} if exists {', '.join(names)} cascade")
    con.execute(f'drop schema if exists "{schema}" cascade')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--dsn", default=os.environ.get("FF_TEST_PG_DSN"))
    args = parser.parse_args()
    if not args.dsn:
        sys.exit("set FF_TEST_PG_DSN or pass --dsn")
    libpq = args.dsn.replace("postgresql+psycopg://", "postgresql://")
    schema = f"ff_bench_{uuid.uuid4().hex[:8]}"
    app = f"flowforge-bench-{uuid.uuid4().hex[:6]}"
    peak = 0
    running = True

    def sample() -> None:
        nonlocal peak
        with psycopg.connect(libpq, autocommit=True) as con:
            while running:
                (count,) = con.execute("select count(*) from pg_stat_activity where application_name = %s", (app,)).fetchone() or (0,)
                peak = max(peak, int(count))
                time.sleep(0.05)

    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "p", args.models)
        dsn = args.dsn + ("&" if "?" in args.dsn else "?") + f"application_name={app}"
        env = {**os.environ, "FF_ENGINE": "postgres", "FF_PG_DSN": dsn, "FF_PG_SCHEMA": schema}
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "flowforge.cli", "run", str(root), "-q", "--jobs", str(args.jobs)], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        running = False
        sampler.join()
        with psycopg.connect(libpq, autocommit=True) as con:
            (limit,) = con.execute("show max_connections").fetchone() or ("?",)
            rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"models {args.models}, --jobs {args.jobs}: exit {done.returncode}, {seconds:.1f} s, peak connections {peak} (max_connections {limit}), peak memory {rss_mb:.0f} MB", flush=True)
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-2000:])
            drop_schema(con, schema)


if __name__ == "__main__":
    main()
