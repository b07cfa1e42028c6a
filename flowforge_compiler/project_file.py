"""project.yml: the project's name, vars, per-model config, schedule, checks, docs settings and streams."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from flowforge_compiler.check_types import WrittenCheck
from flowforge_compiler.engine_sdk import DEFAULT_DIALECT
from flowforge_compiler.materializations import IncrementalStrategy, chosen_in_config
from flowforge_compiler.plan import SECRET_OPTION
from flowforge_compiler.schedule import schedule_problem
from flowforge_compiler.yaml_files import Strict


def _check_dialect(value: str | None) -> str | None:
    from flowforge_compiler.transpile import known_dialect

    problem = known_dialect(value) if value is not None else None
    if problem:
        raise ValueError(f"{value!r} is not a SQL dialect sqlglot knows ({problem})")
    return value


class ModelConfig(Strict):
    """The keys of `config(...)` in a model and of `models:` in project.yml."""

    materialized: str | None = None  # a registered materialization (flowforge_compiler.materializations)
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

    @field_validator("materialized")
    @classmethod
    def _known_materialization(cls, value: str | None) -> str | None:
        if value is not None and value not in chosen_in_config():
            raise ValueError(f"{value!r} is not a materialization (use one of: {', '.join(chosen_in_config())})")
        return value


class DocsSettings(Strict):
    dag_dir: str = "docs"  # where `ffc docs` / `ffc dag --html` write the site, inside the project

    @field_validator("dag_dir")
    @classmethod
    def _inside_project(cls, value: str) -> str:
        path = PurePosixPath(value.replace("\\", "/"))
        if not value.strip() or path.is_absolute() or ".." in path.parts or path == PurePosixPath("."):
            raise ValueError(f"{value!r} must be a folder inside the project, e.g. docs (use --out for a folder elsewhere)")
        return value


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _plain_name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a valid {what}: letters, digits and '_', not starting with a digit, at most 63")
    return value


class FileTailSource(Strict):
    """JSON Lines files, read as they grow: one path or a glob, relative to the project or
    absolute; files outside the project need their folder allowed by the profile
    (`allow_outside`), which the compile checks."""

    type: Literal["file_tail"]
    path: str
    poll_seconds: float = Field(default=1.0, gt=0)  # how often `ffc stream --follow` looks again
    max_batch_bytes: int = Field(default=4_000_000, ge=1024)  # one transaction holds at most this much

    @field_validator("path")
    @classmethod
    def _given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the path is empty")
        return value


class KafkaSource(Strict):
    """A Kafka topic, read from the offsets the warehouse holds (never from the consumer group's
    committed offsets): `options` are further librdkafka settings; a secret one (a password, a
    key) must be written `${VARIABLE}` and is read from the environment where the stream runs."""

    type: Literal["kafka"]
    bootstrap_servers: str
    topic: str
    poll_seconds: float = Field(default=1.0, gt=0)
    max_batch_bytes: int = Field(default=4_000_000, ge=1024)
    options: dict[str, str] = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _no_secrets(cls, options: dict[str, str]) -> dict[str, str]:
        for key, value in options.items():
            if any(word in key.lower() for word in ("password", "secret", "key")) and not SECRET_OPTION.match(value):
                raise ValueError(f"option {key!r} looks secret: write it as ${{VARIABLE}} and set the variable where the stream runs")
        return options


StreamSource = Annotated[FileTailSource | KafkaSource, Field(discriminator="type")]


class SessionizeSettings(Strict):
    user_column: str
    time_column: str
    gap_minutes: float = Field(gt=0)  # inactivity that ends a session
    revenue_column: str | None = None


class StreamConfig(Strict):
    name: str
    source: StreamSource
    sessionize: SessionizeSettings
    into: str  # the sessions table: also the stream's node name (ref('fct_sessions_streaming'))
    tags: list[str] = Field(default_factory=list)
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _plain_name(value, "stream name")

    @field_validator("into")
    @classmethod
    def _into(cls, value: str) -> str:
        return _plain_name(value, "table name")


class ProjectConfig(Strict):
    """The validated content of project.yml."""

    name: str
    version: str
    vars: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    schedule: str | None = None
    tests: list[WrittenCheck] = Field(default_factory=list)
    docs: DocsSettings = Field(default_factory=DocsSettings)
    dialect: str = DEFAULT_DIALECT  # the SQL dialect models are written in; transpiled per engine
    # Per-target blocks (what a generated DAG or flow carries besides the plan): kept as written
    # and validated by their target when it writes (targets/airflow.py, targets/prefect.py).
    airflow: dict[str, Any] = Field(default_factory=dict)
    prefect: dict[str, Any] = Field(default_factory=dict)

    TARGET_BLOCKS: ClassVar[tuple[str, ...]] = ("airflow", "prefect")

    def target_blocks(self) -> dict[str, dict[str, Any]]:
        """The per-target blocks project.yml gives, by target name."""
        return {name: block for name in self.TARGET_BLOCKS if (block := getattr(self, name))}
    streams: list[StreamConfig] = Field(default_factory=list)

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

