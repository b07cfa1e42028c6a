"""What the compiler passes between its stages: node drafts, the name index, merged config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

from pydantic import ValidationError

from flowforge_compiler.authoring import relation_for
from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.materializations import MaterializationConfig, config_for
from flowforge_compiler.plan import NodeConfig, PythonEntry, SeedEntry, StreamEntry
from flowforge_compiler.project import Project
from flowforge_compiler.project_file import ModelConfig

DEFAULT_MATERIALIZATION = "table"  # a FlowForge model's (the spec's)
DBT_DEFAULT_MATERIALIZATION = "view"  # a dbt SQL model's, as dbt builds one that sets none
Missing = dict[str, list[tuple[str, list[str]]]]  # node -> [(name not found, suggestions)]


@dataclass
class NodeDraft:
    """A node while it is being compiled; becomes a `PlanNode` once it has a fingerprint."""

    id: str
    kind: str
    path: str
    materialization: MaterializationConfig
    depends_on: list[str]
    tags: list[str]
    source_relations: list[str] = field(default_factory=list)
    description: str | None = None
    column_descriptions: dict[str, str] = field(default_factory=dict)
    config: NodeConfig = field(default_factory=NodeConfig)
    sql: str | None = None
    sql_incremental: str | None = None
    sql_written: str | None = None
    python: PythonEntry | None = None
    seed: SeedEntry | None = None
    stream: StreamEntry | None = None
    vars_read: dict[str, Any] = field(default_factory=dict)
    env_read: list[str] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)
    render_at_run_time: str | None = None  # why (a dbt model whose template needs the warehouse)
    disabled: bool = False  # a dbt model whose own config() disables it: left out of the plan


class NameIndex:
    """Resolves what users write in ref()/deps (logical or relation names) to node ids."""

    def __init__(self, node_ids: list[str]):
        self.ids = set(node_ids)
        self.by_relation = {relation_for(n): n for n in node_ids}

    def resolve(self, name: str) -> str | None:
        if name in self.ids:
            return name
        return self.by_relation.get(name)

    def suggestions(self, name: str) -> list[str]:
        return get_close_matches(name, sorted(self.ids | set(self.by_relation)), n=3, cutoff=0.6)


def model_config(project: Project, name: str) -> ModelConfig:
    models = project.config.models
    return models.get(name) or models.get(relation_for(name)) or ModelConfig()


def merged_config(project_level: ModelConfig, in_file: Mapping[str, Any]) -> ModelConfig:
    """config() in the file wins over project.yml; tags add up, as in dbt."""
    merged = {**project_level.model_dump(exclude_none=True), **in_file}
    merged["tags"] = sorted(set(project_level.tags or []) | set(in_file.get("tags") or []))
    return ModelConfig.model_validate(merged)


def node_materialization(
    settings: ModelConfig, path: str, name: str | None = None, *, default: str = DEFAULT_MATERIALIZATION
) -> MaterializationConfig:
    """The typed materialization a model's settings give (`name` when the file's DDL says it,
    `default` when nothing does)."""
    unique_key = [settings.unique_key] if isinstance(settings.unique_key, str) else list(settings.unique_key or [])
    try:
        return config_for(name or settings.materialized or default, unique_key=unique_key, strategy=settings.incremental_strategy)
    except ValidationError as exc:
        problem = str(exc.errors()[0].get("ctx", {}).get("error") or exc.errors()[0]["msg"])
        raise ProjectFileError(
            problem, location=Location(path), hint="add unique_key='id' to config(), or use incremental_strategy='append'"
        ) from None
    except ValueError as exc:
        raise ProjectFileError(str(exc), location=Location(path)) from None


def collect_missing(
    node: str, names: list[str], index: NameIndex, missing: Missing
) -> None:
    for name in dict.fromkeys(names):
        missing.setdefault(node, []).append((name, index.suggestions(name)))
