"""project.yml: the project's name, vars, per-model config, schedule, checks and docs settings."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flowforge_compiler.engine_sdk import DEFAULT_DIALECT
from flowforge_compiler.schedule import schedule_problem

Materialization = Literal["table", "view", "incremental", "ephemeral"]
IncrementalStrategy = Literal["append", "merge", "delete+insert"]


def _check_dialect(value: str | None) -> str | None:
    from flowforge_compiler.transpile import known_dialect

    problem = known_dialect(value) if value is not None else None
    if problem:
        raise ValueError(f"{value!r} is not a SQL dialect sqlglot knows ({problem})")
    return value


class Strict(BaseModel):
    """Base for every user-facing file format: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(Strict):
    """The keys of `config(...)` in a model and of `models:` in project.yml."""

    materialized: Materialization | None = None
    tags: list[str] | None = None
    unique_key: str | list[str] | None = None
    incremental_strategy: IncrementalStrategy | None = None
    description: str | None = None
    columns: dict[str, str] | None = None  # column -> description, for the docs site
    dialect: str | None = None  # the SQL dialect of this model, when not the project's
    transpile: bool | None = None  # false: the SQL is engine-native and kept as written

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, value: str | None) -> str | None:
        return _check_dialect(value)


class _CheckBase(Strict):
    table: str
    tags: list[str] = Field(default_factory=list)
    severity: Literal["error", "warn"] = "error"
    where: str | None = None
    name: str | None = None


class NotNullCheck(_CheckBase):
    type: Literal["not_null"]
    column: str


class UniqueCheck(_CheckBase):
    type: Literal["unique"]
    column: str


class GreaterEqualCheck(_CheckBase):
    type: Literal["greater_equal"]
    column: str
    threshold: bool | int | float | str = 0  # kept as written: 0 stays 0, so boolean columns compare


class NonNegativeSumCheck(_CheckBase):
    type: Literal["non_negative_sum"]
    column: str


class RowCountBetweenCheck(_CheckBase):
    type: Literal["row_count_between"]
    min: int = 1
    max: int | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RowCountBetweenCheck:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class FreshnessCheck(_CheckBase):
    type: Literal["freshness"]
    column: str
    max_delay_minutes: float


class AcceptedValuesCheck(_CheckBase):
    type: Literal["accepted_values"]
    column: str
    values: list[Any]


class RelationshipsCheck(_CheckBase):
    type: Literal["relationships"]
    column: str
    to: str
    to_column: str = "id"


CheckSpec = Annotated[
    NotNullCheck
    | UniqueCheck
    | GreaterEqualCheck
    | NonNegativeSumCheck
    | RowCountBetweenCheck
    | FreshnessCheck
    | AcceptedValuesCheck
    | RelationshipsCheck,
    Field(discriminator="type"),
]


class DocsSettings(Strict):
    dag_dir: str = "docs"  # where `ffc docs` / `ffc dag --html` write the site, inside the project

    @field_validator("dag_dir")
    @classmethod
    def _inside_project(cls, value: str) -> str:
        path = PurePosixPath(value.replace("\\", "/"))
        if not value.strip() or path.is_absolute() or ".." in path.parts or path == PurePosixPath("."):
            raise ValueError(f"{value!r} must be a folder inside the project, e.g. docs (use --out for a folder elsewhere)")
        return value


class AirflowSettings(Strict):
    """project.yml `airflow:`: what the generated DAG carries besides the plan."""

    owner: str = "flowforge"
    tags: list[str] = Field(default_factory=list)  # added to ["flowforge", <project name>]
    depends_on_past: bool = False
    # No e-mail keys: Airflow 3 deprecates e-mail on tasks in favour of notifiers.


class PrefectSettings(Strict):
    """project.yml `prefect:`: what the generated flow carries besides the plan."""

    tags: list[str] = Field(default_factory=list)  # added to ["flowforge", <project name>]


class ProjectConfig(Strict):
    """The validated content of project.yml."""

    name: str
    version: str
    vars: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    schedule: str | None = None
    tests: list[CheckSpec] = Field(default_factory=list)
    docs: DocsSettings = Field(default_factory=DocsSettings)
    dialect: str = DEFAULT_DIALECT  # the SQL dialect models are written in; transpiled per engine
    airflow: AirflowSettings = Field(default_factory=AirflowSettings)
    prefect: PrefectSettings = Field(default_factory=PrefectSettings)

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, value: str) -> str:
        return _check_dialect(value) or value

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str | None) -> str | None:
        problem = schedule_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value
