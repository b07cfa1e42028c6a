"""The engine SDK: what one engine module declares, and the registry that finds them.

An engine is one module that defines `ENGINE = EngineSpec(...)`: its profile block (a strict
pydantic model), `FF_*` overrides and path keys, its SQL dialect, its capabilities, where its
data lives (for fingerprints) and what `target.*` shows, how an Airflow connection maps onto it,
how unit tests get a throw-away place, and its executor. Engines register through the
entry-point group `flowforge.engines` (the built-in ones too) and are imported on first use,
so nothing outside an engine's module names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from flowforge_compiler.errors import ProfileError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

ENTRY_POINT_GROUP = "flowforge.engines"
DEFAULT_ENGINE = "duckdb"  # a project without profiles.yml builds on an in-memory DuckDB
DEFAULT_DIALECT = "duckdb"  # the dialect models are written in unless project.yml says otherwise


@dataclass(frozen=True)
class Capabilities:
    """What the runtime and the orchestrator targets may count on."""

    transactions: bool = True  # DDL and DML in one transaction (atomic swap + _ff_meta row)
    create_or_replace: bool = True
    single_writer: bool = False  # one writing process at a time: orchestrators run one task at a time
    merge: bool = False  # a MERGE statement for incremental models
    frame: str = "pandas"  # the DataFrame type Python models receive


@dataclass(frozen=True)
class EngineSpec:
    """One engine, as its module declares it."""

    name: str  # `engine:` in profiles.yml, and the profile block's key
    dialect: str  # sqlglot's name for its SQL
    profile: type[BaseModel]  # {engine: Literal[name], <name>: Settings}
    extra: str  # the pip extra with its libraries
    capabilities: Capabilities = field(default_factory=Capabilities)
    overrides: Mapping[str, str] = field(default_factory=dict)  # FF_* variable -> settings key
    path_keys: tuple[str, ...] = ()  # settings that are paths, relative to the project
    block_hint: str | None = None  # said when the settings block is required and missing
    requires: tuple[str, ...] = ()  # top-level modules whose absence means the extra is missing
    executor: Callable[[], type] | None = None  # the Executor class, imported late; None: not in this version
    rewrites: tuple[Any, ...] = ()  # flowforge_compiler.rewrites.Rewrite: where sqlglot's translation changes meaning
    location: Callable[[Any, Path, Mapping[str, str]], dict[str, str]] = lambda settings, root, unresolved: {}
    target: Callable[[Any, Mapping[str, str]], tuple[str | None, str | None]] = lambda settings, unresolved: (None, None)
    airflow_connection: Callable[[Any, Any, str], dict[str, Any]] | None = None  # -> settings updates
    isolated: Callable[[Any], AbstractContextManager[Any]] | None = None  # Profile -> a throw-away executor
    # Why these settings cannot serve orchestrator tasks, each of which runs in its own process
    # (None: they can); an Airflow or Prefect compile stops with it.
    orchestrator_problem: Callable[[Any], str | None] = lambda settings: None
    # The URI prefix of the profile's relations as Assets (`<prefix>/<relation>`), in the forms
    # Airflow's providers and OpenLineage use; None when the settings do not say (unresolved).
    asset_namespace: Callable[[Any, Path, Mapping[str, str]], str | None] = lambda settings, root, unresolved: None
    # Whether one of the engine's own errors may pass if tried again (a lost connection, a
    # serialization conflict); orchestrators retry those and fail the rest at once.
    transient: Callable[[BaseException], bool] = lambda error: False
    # Why the engine's catalog cannot hold a relation of this name (None: it can).
    relation_name_problem: Callable[[str], str | None] = lambda name: None
    # Why the warehouse holds nothing to read yet, found without creating it (a database file not
    # written yet); None: it may exist, connect to find out. Lets `ffc docs` look without side effects.
    warehouse_absent: Callable[[Any], str | None] = lambda settings: None
    # dbt's profiles.yml: the `type:` of the outputs this engine reads, and how one output (its
    # `type` removed) becomes this engine's settings block, with the keys it leaves unread.
    dbt_types: tuple[str, ...] = ()
    from_dbt: Callable[[dict[str, Any]], tuple[dict[str, Any], list[str]]] | None = None
    # dbt's cross-database macros (`dbt.datediff`, ...) where the engine's SQL for dbt's meaning
    # is not what sqlglot writes; each takes dbt's arguments (SQL text) and returns SQL text.
    dbt_macros: Mapping[str, Callable[..., str]] = field(default_factory=dict)

    def settings_model(self) -> type[BaseModel]:
        return self.profile.model_fields[self.name].annotation  # type: ignore[return-value]


@lru_cache(maxsize=1)
def engines() -> dict[str, EngineSpec]:
    """Every registered engine by name (built-in ones are registered like any other)."""
    found: dict[str, EngineSpec] = {}
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


def engine(name: str) -> EngineSpec:
    """The engine registered as `name`; an unknown name lists the known ones."""
    known = engines()
    if name not in known:
        raise ProfileError(f"unknown engine {name!r}", hint=f"use one of: {', '.join(known)}")
    return known[name]
