"""The warehouses the suite can start, one row each, for tests that run the same behaviour on
every engine: DuckDB files, a real PostgreSQL server, a real local Spark, and two stand-ins for
services this machine cannot reach, each with what it cannot show written beside it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flowforge_compiler.profiles import Profile, resolve_profile
from tests.conftest import snowflake_profiles_yml, spark_environ

BIGQUERY_ENVIRON = {"FF_ENGINE": "bigquery", "FF_BQ_PROJECT": "ff-test-project", "FF_BQ_DATASET": "analytics"}


@dataclass(frozen=True)
class Warehouse:
    engine: str
    mark: pytest.MarkDecorator
    stand_in: str = ""  # what runs in the engine's place when the suite cannot reach it ("": the engine)
    proves: str = ""  # for a stand-in: what a passing test shows, and what it does not
    # behaviours the engine (or its stand-in) cannot show at all -> why (tests of them leave it out)
    limits: Mapping[str, str] = field(default_factory=dict)


_LATE_BOUND_VIEWS = (
    "its catalog records no view dependencies and binds a view only when it is read, so a view a rebuilt "
    "table breaks is found broken when read, not refused with the rebuild"
)

_DUCKDB_ROWS = (
    "the rows read back are computed by DuckDB from the SQL FlowForge sent (translated by the stand-in), "
    "so they are not the engine's arithmetic, types or NULL ordering"
)

WAREHOUSES = (
    Warehouse("duckdb", pytest.mark.duckdb),
    Warehouse("postgres", pytest.mark.postgres),
    Warehouse("databricks_spark", pytest.mark.spark, limits={"view_dependencies": _LATE_BOUND_VIEWS}),
    Warehouse(
        "snowflake_snowpark",
        pytest.mark.snowflake,
        stand_in="fakesnow: Snowflake's HTTP API served on DuckDB, reached through the real Snowpark client",
        proves="the statements FlowForge sends and how it handles the answers; fakesnow cannot parse "
        "ALTER TABLE ... SWAP WITH, so its server carries that out as three renames (not Snowflake's atomic swap), "
        "and it returns a NULL timestamp as 1970-01-01 (tests ask `is null` in SQL)",
        limits={"rows": _DUCKDB_ROWS, "view_dependencies": _LATE_BOUND_VIEWS},
    ),
    Warehouse(
        "bigquery",
        pytest.mark.bigquery,
        stand_in="a recorded BigQuery REST API (tests/runtime/bigquery_api.py) answering with DuckDB, through the real client",
        proves="the jobs FlowForge submits (SQL, destination, write disposition, labels) and how it handles the "
        "answers; a WRITE_TRUNCATE job is applied as DuckDB's create-or-replace, not BigQuery's atomic write",
        limits={"rows": _DUCKDB_ROWS, "view_dependencies": _LATE_BOUND_VIEWS},
    ),
)

# The cross-engine corpus (tests/compiler/test_corpus.py) compares each construct's rows with
# DuckDB's, so it runs where `rows` is no limit and only compiles for the stand-ins.



def every_engine(aspect: str | None = None) -> list[pytest.param]:  # type: ignore[valid-type]
    """Every warehouse the suite can start, less the stand-ins whose limits name `aspect`."""
    return [pytest.param(w.engine, marks=w.mark) for w in WAREHOUSES if aspect not in w.limits]


# The engines whose rows are their own (tests of what an engine computes).
ENGINES = every_engine("rows")


def engine_profile(request: pytest.FixtureRequest, engine: str, root: Path, tmp_path: Path) -> Profile:
    """A profile for `engine`: a DuckDB file under tmp_path, a fresh PostgreSQL schema, a fresh
    database in the test process's Spark warehouse, a fresh schema on the process's fakesnow
    server (written to the project's profiles.yml), or the recorded BigQuery API."""
    if engine == "duckdb":
        return resolve_profile(root, None, environ={"FF_DUCKDB_PATH": str(tmp_path / "w.duckdb")})
    if engine == "databricks_spark":
        environ = spark_environ(request.getfixturevalue("spark_warehouse"), request.getfixturevalue("spark_database"))
        return resolve_profile(root, None, environ=environ)
    if engine == "snowflake_snowpark":
        server = request.getfixturevalue("fakesnow_server")
        (root / "profiles.yml").write_text(snowflake_profiles_yml(server, f"ff_test_{uuid.uuid4().hex[:8]}"), encoding="utf-8")
        return resolve_profile(root, None)
    if engine == "bigquery":
        request.getfixturevalue("recorded_bigquery")
        return resolve_profile(root, None, environ=BIGQUERY_ENVIRON)
    dsn = request.getfixturevalue("pg_dsn")
    schema = request.getfixturevalue("pg_schema")
    return resolve_profile(root, None, environ={"FF_ENGINE": "postgres", "FF_PG_DSN": dsn, "FF_PG_SCHEMA": schema})
