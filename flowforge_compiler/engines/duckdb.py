"""The DuckDB engine, compile-time half: its profile block, its place in the SDK, and how dbt
outputs and Airflow connections map onto it. The executor is `runtime.executors.duckdb`."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field

from flowforge_compiler.engine_sdk import Capabilities, DbtColumnRules, EngineSpec
from flowforge_compiler.errors import ProfileError
from flowforge_compiler.paths import project_relative
from flowforge_compiler.yaml_files import Strict

MEMORY = ":memory:"


class DuckDBSettings(Strict):
    path: str = MEMORY
    threads: int | None = None


class DuckDBProfile(Strict):
    engine: Literal["duckdb"]
    duckdb: DuckDBSettings = Field(default_factory=DuckDBSettings)


def _location(settings: DuckDBSettings, root: Path, unresolved: Mapping[str, str]) -> dict[str, str]:
    if "duckdb.path" in unresolved or settings.path == MEMORY:
        return {"path": settings.path}
    return {"path": project_relative(Path(settings.path), root)}


def _target(settings: DuckDBSettings, unresolved: Mapping[str, str]) -> tuple[str | None, str | None]:
    return "main", "memory" if settings.path == MEMORY else Path(settings.path).stem


def _airflow_connection(settings: DuckDBSettings, connection: Any, conn_id: str) -> dict[str, Any]:
    path = (connection.extra_dejson or {}).get("path") or connection.host
    if not path:
        raise ProfileError(f"Airflow connection {conn_id!r} has no DuckDB path (set its host or extra 'path')")
    return {"path": path}


def _transient(error: BaseException) -> bool:
    """A write-write conflict between two transactions; everything else (binder and parser
    errors, constraint violations, a missing file) fails the same way each time."""
    duckdb = sys.modules.get("duckdb")
    return duckdb is not None and isinstance(error, duckdb.TransactionException)


def _asset_namespace(settings: DuckDBSettings, root: Path, unresolved: Mapping[str, str]) -> str | None:
    """`duckdb:<file>/main`: a relation is the file, its schema and its name. A file inside the
    project is named relative to it (`duckdb:.local/demo.duckdb/main`), as the bundle the DAG
    ships finds it, so no path of the compiling machine reaches a DAG file and a redeploy from
    another checkout names the same assets; a file outside is the absolute path the profile
    gives (the form Airflow normalizes `duckdb:///path` to)."""
    if "duckdb.path" in unresolved or settings.path == MEMORY:
        return None
    path, base = Path(settings.path).resolve(), root.resolve()
    shown = path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)
    return "duckdb:" + quote(shown, safe="/") + "/main"


def _orchestrator_problem(settings: DuckDBSettings) -> str | None:
    if settings.path == MEMORY:
        return (
            "an in-memory DuckDB lives as long as one process, and every Airflow or Prefect task runs in its own, "
            "so each would start from an empty database"
        )
    return None


def _warehouse_absent(settings: DuckDBSettings) -> str | None:
    if settings.path == MEMORY:
        return "an in-memory DuckDB keeps nothing between processes"
    if not Path(settings.path).is_file():
        return "its DuckDB file does not exist yet"  # (no path: the docs site shows this)
    return None


def _from_dbt(output: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """dbt-duckdb's output: `path` (its `threads` are dbt's, how many models build at once: the
    profile's `threads`, not DuckDB's). Models build in the file's `main` schema, as dbt-duckdb's
    default `schema: main` has it; another schema is left unread."""
    out = dict(output)
    out.pop("threads", None)
    settings: dict[str, Any] = {key: out.pop(key) for key in ("path",) if key in out}
    out.pop("database", None)  # dbt-duckdb derives it from the path, as FlowForge does
    if out.get("schema") == "main":
        out.pop("schema")
    return settings, sorted(out)


ENGINE = EngineSpec[DuckDBSettings](
    name="duckdb",
    dialect="duckdb",
    profile=DuckDBProfile,
    extra="duckdb",
    capabilities=Capabilities(single_writer=True),
    overrides={"FF_DUCKDB_PATH": "path"},
    path_keys=("path",),
    requires=("duckdb",),
    executor="runtime.executors.duckdb:DuckDBExecutor",
    location=_location,
    target=_target,
    airflow_connection=_airflow_connection,
    orchestrator_problem=_orchestrator_problem,
    transient=_transient,
    asset_namespace=_asset_namespace,
    warehouse_absent=_warehouse_absent,
    dbt_types=("duckdb",),
    from_dbt=_from_dbt,
    dbt_column=DbtColumnRules(  # dbt-duckdb's DuckDBColumn
        integer_types=frozenset({
            "tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint", "uinteger", "ubigint",
            "int1", "int2", "int4", "int8", "short", "int", "signed", "long",
        }),  # fmt: skip
        float_types=frozenset({"real", "float", "float4", "float8", "double"}),
    ),
)
