"""Seed discovery: seeds/*.csv, *.parquet, *.sql and the optional seeds/schema.yml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.project_file import Strict
from flowforge_compiler.yaml_files import load_model

SEED_FORMATS: dict[str, Literal["csv", "parquet", "sql"]] = {".csv": "csv", ".parquet": "parquet", ".sql": "sql"}


class SeedSettings(Strict):
    column_types: dict[str, str] = Field(default_factory=dict)
    description: str | None = None
    tags: list[str] = Field(default_factory=list)


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


def discover_seeds(project_dir: Path) -> list[SeedFile]:
    """Every seed file with its settings; schema.yml may only name seeds that exist."""
    folder = project_dir / "seeds"
    if not folder.is_dir():
        return []
    schema_path = folder / "schema.yml"
    schema = (
        load_model(schema_path, SeedsSchemaFile, "seeds/schema.yml", empty={})
        if schema_path.exists()
        else SeedsSchemaFile()
    )
    seeds: dict[str, SeedFile] = {}
    for path in sorted(folder.iterdir()):
        fmt = SEED_FORMATS.get(path.suffix.lower())
        if fmt is None or not path.is_file():
            continue
        name = path.stem
        rel = f"seeds/{path.name}"
        if name in seeds:
            raise ProjectFileError(
                f"two seed files define the seed {name!r}: {seeds[name].path} and {rel}",
                location=Location(rel),
                hint="keep one file per seed name",
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
