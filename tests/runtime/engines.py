"""Running the same runtime test on DuckDB, PostgreSQL and a local Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowforge_compiler.profiles import Profile, resolve_profile
from tests.conftest import spark_environ

ENGINES = [
    pytest.param("duckdb", marks=pytest.mark.duckdb),
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("databricks_spark", marks=pytest.mark.spark),
]


def engine_profile(request: pytest.FixtureRequest, engine: str, root: Path, tmp_path: Path) -> Profile:
    """A profile for `engine`: a DuckDB file under tmp_path, a fresh PostgreSQL schema, or a
    fresh database in the test process's Spark warehouse."""
    if engine == "duckdb":
        return resolve_profile(root, None, environ={"FF_DUCKDB_PATH": str(tmp_path / "w.duckdb")})
    if engine == "databricks_spark":
        environ = spark_environ(request.getfixturevalue("spark_warehouse"), request.getfixturevalue("spark_database"))
        return resolve_profile(root, None, environ=environ)
    dsn = request.getfixturevalue("pg_dsn")
    schema = request.getfixturevalue("pg_schema")
    return resolve_profile(root, None, environ={"FF_ENGINE": "postgres", "FF_PG_DSN": dsn, "FF_PG_SCHEMA": schema})
