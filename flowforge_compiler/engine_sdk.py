"""The engine SDK: what an engine declares, and the registry that finds them.

An engine has two halves, split by when they run. Its compile-time half is one module that
defines `ENGINE = EngineSpec(...)`: its profile block (a strict pydantic model), `FF_*` overrides
and path keys, its SQL dialect and rewrites, its capabilities, where its data lives (for
fingerprints) and what `target.*` shows, how a dbt output and an Airflow connection map onto its
settings. It imports no runtime module, so compiling loads no driver. Its run-time half, the
executor, is named here by its import path and loaded only when a connection opens
(`runtime.executors.open_executor`). Engines register through the entry-point group
`flowforge.engines` (the built-in ones too), which names the compile-time half; nothing outside an
engine's two modules names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from flowforge_compiler.errors import ProfileError

ENTRY_POINT_GROUP = "flowforge.engines"
DEFAULT_ENGINE = "duckdb"  # a project without profiles.yml builds on an in-memory DuckDB
DEFAULT_DIALECT = "duckdb"  # the dialect models are written in unless project.yml says otherwise


# How a table built beside the old one takes its place (the executor's base reads it):
# - rename: the old one is dropped and the new one renamed, in the build's transaction; an engine
#   without transactions renames the old one aside first, and the next build puts it back if a
#   run died in between;
# - swap: the two are exchanged in one step (Snowflake's ALTER TABLE ... SWAP WITH);
# - write_truncate: one atomic job writes the table in place, so nothing is built beside it (BigQuery).
ReplaceStrategy = Literal["rename", "swap", "write_truncate"]
ALL_INCREMENTAL_STRATEGIES = ("append", "merge", "delete+insert")


@dataclass(frozen=True)
class Capabilities:
    """What the shared runtime, the compiler and the orchestrator targets read to decide how to
    build on the engine (a test checks each one is read somewhere)."""

    transactions: bool = True  # DDL and DML in one transaction (atomic swap + _ff_meta row)
    replace: ReplaceStrategy = "rename"
    single_writer: bool = False  # one writing process at a time: orchestrators run one task at a time
    incremental_strategies: tuple[str, ...] = ALL_INCREMENTAL_STRATEGIES  # what `incremental_strategy` may be
    frame: str | None = None  # the engine's own DataFrame type Python models receive; None: pandas
    # relation names that differ only in case are one relation (DuckDB, Spark, Snowflake's folded
    # names), even quoted; the compile refuses two nodes whose relations would be one
    names_fold_case: bool = True


Settings = TypeVar("Settings", bound=BaseModel)


@dataclass(frozen=True)
class EngineSpec(Generic[Settings]):
    """One engine, as its compile-time module declares it; every hook takes the engine's own
    settings block (`Settings`)."""

    name: str  # `engine:` in profiles.yml, and the profile block's key
    dialect: str  # sqlglot's name for its SQL
    profile: type[BaseModel]  # {engine: Literal[name], <name>: Settings}
    extra: str  # the pip extra with its libraries
    capabilities: Capabilities = field(default_factory=Capabilities)
    overrides: Mapping[str, str] = field(default_factory=dict)  # FF_* variable -> settings key
    path_keys: tuple[str, ...] = ()  # settings that are paths, relative to the project
    block_hint: str | None = None  # said when the settings block is required and missing
    requires: tuple[str, ...] = ()  # top-level modules whose absence means the extra is missing
    # The run-time half: "module:Class" of its Executor, imported when a connection opens (never
    # by a compile); None: no executor in this version.
    executor: str | None = None
    rewrites: tuple[Any, ...] = ()  # flowforge_compiler.rewrites.Rewrite: where sqlglot's translation changes meaning
    location: Callable[[Settings, Path, Mapping[str, str]], dict[str, str]] = lambda settings, root, unresolved: {}
    target: Callable[[Settings, Mapping[str, str]], tuple[str | None, str | None]] = lambda settings, unresolved: (None, None)
    # An Airflow connection (an object with host, login, password, schema, port, extra_dejson)
    # as updates of the settings; the Airflow target reads the connection in the worker.
    airflow_connection: Callable[[Settings, Any, str], dict[str, Any]] | None = None
    # Why these settings cannot serve orchestrator tasks, each of which runs in its own process
    # (None: they can); an Airflow or Prefect compile stops with it.
    orchestrator_problem: Callable[[Settings], str | None] = lambda settings: None
    # The URI prefix of the profile's relations as Assets (`<prefix>/<relation>`), in the forms
    # Airflow's providers and OpenLineage use; None when the settings do not say (unresolved).
    asset_namespace: Callable[[Settings, Path, Mapping[str, str]], str | None] = lambda settings, root, unresolved: None
    # Whether one of the engine's own errors may pass if tried again (a lost connection, a
    # serialization conflict); orchestrators retry those and fail the rest at once.
    transient: Callable[[BaseException], bool] = lambda error: False
    # Why the engine's catalog cannot hold a relation of this name (None: it can).
    relation_name_problem: Callable[[str], str | None] = lambda name: None
    # Why the warehouse holds nothing to read yet, found without creating it (a database file not
    # written yet); None: it may exist, connect to find out. Lets `ffc docs` look without side effects.
    warehouse_absent: Callable[[Settings], str | None] = lambda settings: None
    # dbt's profiles.yml: the `type:` of the outputs this engine reads, and how one output (its
    # `type` removed) becomes this engine's settings block, with the keys it leaves unread.
    dbt_types: tuple[str, ...] = ()
    from_dbt: Callable[[dict[str, Any]], tuple[dict[str, Any], list[str]]] | None = None
    # What the dbt adapter's Python decides for its macros (api.Column's type names); dbt's
    # macros themselves come from the adapter's package (flowforge_compiler/dbt_library.py).
    dbt_column: DbtColumnRules = field(default_factory=lambda: DbtColumnRules())

    def settings_model(self) -> type[BaseModel]:
        return self.profile.model_fields[self.name].annotation  # type: ignore[return-value]


@dataclass(frozen=True)
class DbtColumnRules:
    """dbt's `api.Column` for one adapter (dbt-adapters' base Column, unless the adapter's
    column class overrides it): the type a label translates to, which types count as strings,
    integers, floats and numerics, and whether `numeric_type` writes precision and scale."""

    type_labels: Mapping[str, str] = field(default_factory=lambda: {"STRING": "TEXT"})
    string_types: frozenset[str] = frozenset({"text", "character varying", "character", "varchar"})
    integer_types: frozenset[str] = frozenset(
        {"smallint", "integer", "bigint", "smallserial", "serial", "bigserial", "int2", "int4", "int8", "serial2", "serial4", "serial8"}
    )
    float_types: frozenset[str] = frozenset({"real", "float4", "float", "double precision", "float8", "double"})
    numeric_types: frozenset[str] = frozenset({"numeric", "decimal"})
    numeric_with_precision: bool = True
    # whether the adapter reads a column's size, precision and scale (dbt-postgres does; dbt-duckdb
    # leaves them null, its types carry them), and keeps `text` and unsized `character varying`
    # as they are in `data_type` (dbt-postgres's PostgresColumn) rather than `character varying(256)`
    sizes: bool = False
    unsized_strings_as_written: bool = False


@lru_cache(maxsize=1)
def engines() -> dict[str, EngineSpec[Any]]:
    """Every registered engine by name (built-in ones are registered like any other)."""
    found: dict[str, EngineSpec[Any]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        spec = point.load()
        if not isinstance(spec, EngineSpec) or spec.name != point.name:
            raise ProfileError(f"the entry point {point.name!r} of {ENTRY_POINT_GROUP} is not an EngineSpec named so")
        found[spec.name] = spec
    if DEFAULT_ENGINE not in found:
        raise ProfileError(
            f"no engines are registered ({ENTRY_POINT_GROUP} entry points are missing)",
            hint='install FlowForge (pip install -e .) rather than running it from a source folder',
        )
    return dict(sorted(found.items()))


def engine(name: str) -> EngineSpec[Any]:
    """The engine registered as `name`; an unknown name lists the known ones."""
    known = engines()
    if name not in known:
        raise ProfileError(f"unknown engine {name!r}", hint=f"use one of: {', '.join(known)}")
    return known[name]
