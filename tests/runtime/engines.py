"""Running the same runtime test on DuckDB and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowforge_compiler.profiles import Profile, resolve_profile

ENGINES = [pytest.param("duckdb", marks=pytest.mark.duckdb), pytest.param("postgres", marks=pytest.mark.postgres)]


def engine_profile(request: pytest.FixtureRequest, engine: str, root: Path, tmp_path: Path) -> Profile:
    """A profile for `engine`: a DuckDB file under tmp_path, or a fresh PostgreSQL schema."""
    if engine == "duckdb":
        return resolve_profile(root, None, environ={"FF_DUCKDB_PATH": str(tmp_path / "w.duckdb")})
    dsn = request.getfixturevalue("pg_dsn")
    schema = request.getfixturevalue("pg_schema")
    return resolve_profile(root, None, environ={"FF_ENGINE": "postgres", "FF_PG_DSN": dsn, "FF_PG_SCHEMA": schema})
