"""tests/unit/*.yml: model unit tests (the spec's DSL), with `defaults` deep-merged into cases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.paths import project_file, project_relative
from flowforge_compiler.yaml_files import Strict, read_yaml, validate


class InputSpec(Strict):
    rows: list[dict[str, Any]] | None = None
    csv: str | None = None
    sql: str | None = None  # a query of the rows, in the engine's dialect (dbt's `format: sql`)

    @model_validator(mode="after")
    def _one_source(self) -> InputSpec:
        if sum(x is not None for x in (self.rows, self.csv, self.sql)) != 1:
            raise ValueError("give an input one of `rows`, `csv` or `sql`")
        return self


class ExpectSpec(Strict):
    relation: str | None = None
    rows: list[dict[str, Any]] | None = None
    csv: str | None = None
    sql: str | None = None  # a query of the expected rows, in the engine's dialect (dbt's `format: sql`)
    order_by: list[str] = Field(default_factory=list)
    any_order: bool = False
    ignore_columns: list[str] = Field(default_factory=list)
    subset: bool = False
    approx: bool | dict[str, float] = False

    @model_validator(mode="after")
    def _rows_to_expect(self) -> ExpectSpec:
        if sum(x is not None for x in (self.rows, self.csv, self.sql)) != 1:
            raise ValueError("`expect` needs one of `rows`, `csv` or `sql`")
        return self


class CaseSpec(Strict):
    name: str
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    expect: ExpectSpec


class UnitTestFile(Strict):
    model: str
    engine: str | None = None
    defaults: dict[str, Any] = Field(default_factory=dict)
    cases: list[dict[str, Any]]


@dataclass(frozen=True)
class UnitTestCase:
    """One case, defaults merged in, ready to run."""

    model: str
    name: str
    path: str  # the spec file, relative to the project
    folder: Path  # where relative CSV paths start (then the project root)
    root: Path  # the project folder: CSV files must stay inside it
    engine: str | None
    inputs: dict[str, InputSpec]
    expect: ExpectSpec

    def csv_path(self, written: str) -> Path:
        """A `csv:` file: relative to the spec file, else to the project root (FastFlowTransform's
        convention); it must stay inside the project."""
        tried = [self.folder / written, self.root / written]
        path = next((p for p in tried if p.is_file()), None)
        if path is None:
            places = " and ".join(project_relative(p, self.root) for p in tried)
            raise ProjectFileError(f"csv file {written!r} not found (looked at {places})", location=Location(self.path))
        project_file(self.root, path, f"{self.path}: csv {written}")
        return path

    def csv_files(self) -> list[str]:
        specs: list[InputSpec | ExpectSpec] = [*self.inputs.values(), self.expect]
        return [s.csv for s in specs if s.csv]


def deep_merge(base: Any, override: Any) -> Any:
    """Dicts merge key by key; lists and scalars in `override` replace those in `base`."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return override


def _prefer_case_data(merged: dict[str, Any], raw_case: dict[str, Any]) -> dict[str, Any]:
    """`rows` and `csv` are alternatives: the one a case gives replaces the other from defaults."""

    def settle(target: Any, given: Any) -> None:
        if isinstance(target, dict) and isinstance(given, dict):
            for key, other in (("rows", "csv"), ("csv", "rows")):
                if key in given and other not in given:
                    target.pop(other, None)

    for name, given in (raw_case.get("inputs") or {}).items():
        settle((merged.get("inputs") or {}).get(name), given)
    settle(merged.get("expect"), raw_case.get("expect"))
    return merged


def load_unit_tests(project_root: Path, paths: list[Path] | None = None) -> list[UnitTestCase]:
    """All cases of the given spec files (default: tests/unit/*.yml), in file order."""
    if paths is None:
        folder = project_root / "tests" / "unit"
        paths = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []
    cases: list[UnitTestCase] = []
    for path in paths:
        display = project_relative(path, project_root)
        if not path.is_file():
            raise ProjectFileError(f"unit test file not found: {display}")
        display = project_file(project_root, path, display)
        data, node = read_yaml(path, display)
        spec = validate(UnitTestFile, data or {}, display, node)
        for index, raw_case in enumerate(spec.cases):
            merged = _prefer_case_data(deep_merge(spec.defaults, raw_case), raw_case)
            case = validate(CaseSpec, merged, display, node, prefix=("cases", index))
            cases.append(
                UnitTestCase(
                    model=spec.model,
                    name=case.name,
                    path=display,
                    folder=path.parent,
                    root=project_root,
                    engine=spec.engine,
                    inputs=case.inputs,
                    expect=case.expect,
                )
            )
        for case_found in (c for c in cases if c.path == display):
            for written in case_found.csv_files():
                case_found.csv_path(written)  # refused now (exit 1) rather than as a failing case
        names = [c.name for c in cases if c.path == display]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ProjectFileError(f"case names repeat: {', '.join(duplicates)}", location=Location(display))
    return cases
