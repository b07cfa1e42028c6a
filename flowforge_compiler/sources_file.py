"""sources.yml in both accepted shapes, normalised to one lookup table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.yaml_files import Strict, read_yaml, validate


@dataclass(frozen=True, order=True)
class SourceTable:
    """One `source(source, table)` target and the physical relation it names."""

    source: str
    table: str
    identifier: str
    schema: str | None = None
    description: str | None = field(default=None, compare=False)  # for people: not fingerprinted
    source_description: str | None = field(default=None, compare=False)

    @property
    def relation(self) -> str:
        """As shown to people (and as unit-test inputs name it)."""
        return f"{self.schema}.{self.identifier}" if self.schema else self.identifier

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.schema, self.identifier) if self.schema else (self.identifier,)


class FlatTable(Strict):
    identifier: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    description: str | None = None


class DbtTable(Strict):
    name: str
    identifier: str | None = None
    description: str | None = None


class DbtSource(Strict):
    name: str
    schema_: str | None = Field(default=None, alias="schema")
    description: str | None = None
    tables: list[DbtTable] = Field(default_factory=list)


class DbtSourcesFile(Strict):
    version: int | None = None
    sources: list[DbtSource] = Field(default_factory=list)


def load_sources(path: Path, display: str = "sources.yml") -> dict[tuple[str, str], SourceTable]:
    """Read sources.yml (either shape); a missing file means no sources."""
    if not path.exists():
        return {}
    data, node = read_yaml(path, display)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProjectFileError("sources.yml must be a mapping", location=Location(display, 1))
    if "sources" in data or "version" in data:
        parsed = validate(DbtSourcesFile, data, display, node)
        return _from_dbt(parsed, display)
    return _from_flat(data, display, node)


def _from_dbt(parsed: DbtSourcesFile, display: str) -> dict[tuple[str, str], SourceTable]:
    out: dict[tuple[str, str], SourceTable] = {}
    for source in parsed.sources:
        for table in source.tables:
            key = (source.name, table.name)
            if key in out:
                raise ProjectFileError(f"source {key[0]}.{key[1]} is declared twice", location=Location(display))
            out[key] = SourceTable(
                source.name, table.name, table.identifier or table.name, source.schema_, table.description, source.description
            )
    return out


def _from_flat(data: dict[str, Any], display: str, node: Any) -> dict[tuple[str, str], SourceTable]:
    out: dict[tuple[str, str], SourceTable] = {}
    for source_name, tables in data.items():
        if not isinstance(tables, dict):
            raise ProjectFileError(
                f"source {source_name!r} must map table names to {{identifier: ...}}",
                location=Location(display),
                hint="or use the dbt shape: `version: 2` and `sources: [{name, tables: [...]}]`",
            )
        for table_name, spec in tables.items():
            table = validate(FlatTable, spec or {}, display, node, prefix=(str(source_name), str(table_name)))
            key = (str(source_name), str(table_name))
            out[key] = SourceTable(key[0], key[1], table.identifier or key[1], table.schema_, table.description)
    return out


def normalised_sources(sources: dict[tuple[str, str], SourceTable]) -> list[list[str | None]]:
    """A sorted, shape-independent form of sources.yml for fingerprints and the plan."""
    return [[s.source, s.table, s.identifier, s.schema] for s in sorted(sources.values())]
