"""Materialization configs: how a node's rows land, as the plan states it, one class each.

Each config is a frozen IR model keyed by its `type` and registered when its class is defined,
so the plan validates every registered one (a discriminated union open to new classes: adding
`snapshot` is one config here plus one runtime class in `runtime.materializations`). A config
carries the materialization's traits, which the compiler, the cache and the targets read instead
of comparing names: whether it builds a relation, whether the cache may skip it, whether a
Python model may use it, whether the compile renders an incremental variant.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from flowforge_compiler.engine_sdk import Capabilities


class MaterializationConfig(BaseModel):
    """The base of every materialization config; `type` names it in plan.json and in `config()`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str

    builds_relation: ClassVar[bool] = True  # a relation in the warehouse (else: inlined into its readers)
    cacheable: ClassVar[bool] = True  # the cache may skip it when nothing it depends on changed
    uncached_reason: ClassVar[str] = ""  # why it always builds, when not cacheable
    full_refresh_rebuilds: ClassVar[bool] = False  # --full-refresh makes it build even when cached
    allows_python: ClassVar[bool] = False  # a Python model may be materialized so
    renders_incremental: ClassVar[bool] = False  # its SQL is also rendered with is_incremental() true
    chosen_in_config: ClassVar[bool] = True  # `materialized:` may name it (seeds and streams are what they are)
    verb: ClassVar[str] = "built"  # for progress lines: "<verb> <type> <relation>"
    stored_as_view: ClassVar[bool] = False  # its relation is a view over its SQL (re-created when a table it reads is replaced)

    registry: ClassVar[dict[str, builtins.type[MaterializationConfig]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        name = cls.model_fields["type"].default
        if not isinstance(name, str):
            raise TypeError(f"{cls.__name__} must give `type` a default: the name it is registered under")
        MaterializationConfig.registry[name] = cls

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        """The base class stands for every registered config in plan.schema.json."""
        if cls is not MaterializationConfig:
            return handler(core_schema)
        return {"oneOf": [handler(config.__pydantic_core_schema__) for _, config in sorted(cls.registry.items())]}

    @classmethod
    def from_settings(cls, unique_key: list[str], strategy: str | None) -> MaterializationConfig:
        """The config a model's settings give (`config()`, project.yml `models:`)."""
        return cls.model_validate({})

    def engine_problem(self, capabilities: Capabilities) -> str | None:
        """Why an engine with these capabilities cannot build it (None: it can)."""
        return None


def materialization_config(value: Any) -> Any:
    """A plan's `materialization` entry as its registered config (what the plan's validator calls)."""
    if isinstance(value, dict):
        name = value.get("type")
        config = MaterializationConfig.registry.get(name) if isinstance(name, str) else None
        if config is None:
            raise ValueError(f"unknown materialization {name!r} (known: {', '.join(sorted(MaterializationConfig.registry))})")
        return config.model_validate(value)
    return value


def config_for(name: str, *, unique_key: list[str] | None = None, strategy: str | None = None) -> MaterializationConfig:
    """The config for a materialization name written by a user; ValueError for an unknown one."""
    config = MaterializationConfig.registry.get(name)
    if config is None or not config.chosen_in_config:
        chosen = sorted(n for n, c in MaterializationConfig.registry.items() if c.chosen_in_config)
        raise ValueError(f"unknown materialization {name!r} (use one of: {', '.join(chosen)})")
    return config.from_settings(list(unique_key or []), strategy)


def chosen_in_config() -> list[str]:
    """The names `materialized:` takes."""
    return sorted(n for n, c in MaterializationConfig.registry.items() if c.chosen_in_config)


class TableMaterialization(MaterializationConfig):
    type: Literal["table"] = "table"
    allows_python: ClassVar[bool] = True


class ViewMaterialization(MaterializationConfig):
    type: Literal["view"] = "view"
    stored_as_view: ClassVar[bool] = True


class EphemeralMaterialization(MaterializationConfig):
    """Inlined into its readers as a CTE at compile time: nothing in the warehouse."""

    type: Literal["ephemeral"] = "ephemeral"
    builds_relation: ClassVar[bool] = False
    cacheable: ClassVar[bool] = False
    uncached_reason: ClassVar[str] = "ephemeral: inlined into its children"


IncrementalStrategy = Literal["append", "merge", "delete+insert"]


class IncrementalMaterialization(MaterializationConfig):
    """The first build and --full-refresh build the whole table; later builds apply new rows:
    appended, or replacing the rows whose `unique_key` comes again (merge, delete+insert)."""

    type: Literal["incremental"] = "incremental"
    strategy: IncrementalStrategy = "append"
    unique_key: list[str] = Field(default_factory=list)
    allows_python: ClassVar[bool] = True
    renders_incremental: ClassVar[bool] = True
    full_refresh_rebuilds: ClassVar[bool] = True

    @property
    def replaces_keyed_rows(self) -> bool:
        """Whether rows whose key comes again replace the old ones (else: appended)."""
        return self.strategy != "append"

    def engine_problem(self, capabilities: Capabilities) -> str | None:
        if self.strategy not in capabilities.incremental_strategies:
            return f"incremental_strategy={self.strategy!r} is not one the engine has (it has: {', '.join(capabilities.incremental_strategies)})"
        return None

    @model_validator(mode="after")
    def _keyed(self) -> IncrementalMaterialization:
        if self.replaces_keyed_rows and not self.unique_key:
            raise ValueError(f"incremental_strategy={self.strategy!r} needs a unique_key")
        return self

    @classmethod
    def from_settings(cls, unique_key: list[str], strategy: str | None) -> MaterializationConfig:
        """Without a strategy: merge when there is a unique_key, else append (as dbt)."""
        return cls.model_validate({"unique_key": unique_key, "strategy": strategy or ("merge" if unique_key else "append")})


class SeedMaterialization(MaterializationConfig):
    """A seed file loaded as a table."""

    type: Literal["seed"] = "seed"
    chosen_in_config: ClassVar[bool] = False
    verb: ClassVar[str] = "loaded"


class StreamMaterialization(MaterializationConfig):
    """A stream's new events folded into its sessions table."""

    type: Literal["stream"] = "stream"
    cacheable: ClassVar[bool] = False
    uncached_reason: ClassVar[str] = "a stream: new events may have arrived"
    chosen_in_config: ClassVar[bool] = False
