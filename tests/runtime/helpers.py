"""Build a project's nodes on a DuckDB file through the runtime's public entry point."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile, resolve_profile
from runtime import NodeResult, open_executor, run_node
from tests.compiler.helpers import compile_dir


# An ephemeral model under a table under two views: rebuilding the table must keep the views.
VIEW_CHAIN = {
    "models/base.ff.sql": "{{ config(materialized='ephemeral') }}select 1 as id union all select 2",
    "models/t.ff.sql": "select id * 10 as v from {{ ref('base') }}",
    "models/v.ff.sql": "{{ config(materialized='view') }}select v + 1 as w from {{ ref('t') }}",
    "models/vv.ff.sql": "{{ config(materialized='view') }}select w * 2 as z from {{ ref('v') }}",
}


def duckdb_profile(root: Path, db: Path) -> Profile:
    return resolve_profile(root, None, environ={"FF_DUCKDB_PATH": str(db)})


def build_all(root: Path, db: Path, *, full_refresh: bool = False) -> tuple[Plan, list[NodeResult]]:
    plan = compile_dir(root)
    profile = duckdb_profile(root, db)
    with open_executor(profile) as executor:
        results = [
            run_node(plan, n.id, executor=executor, root=root, full_refresh=full_refresh) for n in plan.nodes
        ]
    return plan, results


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@contextmanager
def lock_held(db: Path, seconds: float) -> Iterator[int]:
    """Another process holds `db` open (DuckDB's file lock) for up to `seconds`; yields its PID."""
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('ready', flush=True); time.sleep({seconds})"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()
