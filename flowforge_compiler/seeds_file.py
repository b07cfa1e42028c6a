"""Seed discovery: seeds/**/*.csv, *.parquet, *.sql and the optional seeds/schema.yml.

Seeds may sit in sub-folders; a seed's name is its file stem, unique across them all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from flowforge_compiler.engine_sdk import DEFAULT_DIALECT
from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.paths import ProjectFiles
from flowforge_compiler.yaml_files import Strict, load_model

log = logging.getLogger("flowforge")

SEED_FORMATS: dict[str, Literal["csv", "parquet", "sql"]] = {".csv": "csv", ".parquet": "parquet", ".sql": "sql"}


class SeedSettings(Strict):
    column_types: dict[str, str] = Field(default_factory=dict)
    null_values: list[str] = Field(default_factory=list)  # texts read as NULL besides the empty field
    description: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)  # column -> description, for the docs site
    tags: list[str] = Field(default_factory=list)

    @field_validator("column_types")
    @classmethod
    def _sql_types(cls, types: dict[str, str]) -> dict[str, str]:
        """Each type is one SQL data type (it is written into a cast), never more SQL."""
        from sqlglot import exp
        from sqlglot.errors import ParseError

        for column, text in types.items():
            try:
                exp.DataType.build(text, dialect=DEFAULT_DIALECT)
            except (ParseError, TypeError, ValueError):
                raise ValueError(f"column {column!r}: {text!r} is not a SQL data type") from None
        return types


class SeedsSchemaFile(Strict):
    """seeds/schema.yml: per-seed column types (SQL types of the engine) and descriptions."""

    version: int | None = None
    seeds: dict[str, SeedSettings] = Field(default_factory=dict)


@dataclass(frozen=True)
class SeedFile:
    name: str
    path: str  # relative to the project
    format: Literal["csv", "parquet", "sql"]
    settings: SeedSettings = field(default_factory=SeedSettings)


def discover_seeds(project_dir: Path, folder_name: str = "seeds") -> list[SeedFile]:
    """Every seed file with its settings; schema.yml may only name seeds that exist."""
    folder = project_dir / folder_name
    if not folder.is_dir():
        return []
    schema_path = folder / "schema.yml"
    schema = (
        load_model(schema_path, SeedsSchemaFile, "seeds/schema.yml", empty={})
        if schema_path.exists()
        else SeedsSchemaFile()
    )
    seeds: dict[str, SeedFile] = {}
    files = ProjectFiles(project_dir)
    files.relative(folder, "seeds/")
    for path in files.walk(folder):
        rel = path.relative_to(project_dir).as_posix()
        if not path.is_file() or any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(folder).parts):
            continue
        fmt = SEED_FORMATS.get(path.suffix.lower())
        if fmt is None:
            if path != schema_path:
                log.warning("%s: not read; seeds are .csv, .parquet or .sql files (types go in seeds/schema.yml)", rel)
            continue
        files.relative(path, rel)
        name = path.stem
        if name in seeds:
            raise ProjectFileError(
                f"two seed files define the seed {name!r}: {seeds[name].path} and {rel}",
                location=Location(rel),
                hint="a seed's name is its file stem, across all sub-folders of seeds/; rename one",
            )
        seeds[name] = SeedFile(name, rel, fmt, schema.seeds.get(name, SeedSettings()))
    unknown = sorted(set(schema.seeds) - set(seeds))
    if unknown:
        raise ProjectFileError(
            f"schema.yml describes seeds that have no file: {', '.join(unknown)}",
            location=Location("seeds/schema.yml"),
            hint=f"seeds found: {', '.join(sorted(seeds)) or 'none'}",
        )
    return list(seeds.values())
