"""dbt's `unit_tests:` (schema files under the model paths) as FlowForge unit test cases, run by
`ffc utest` beside tests/unit/*.yml.

A dbt unit test names its `model`, gives each input (`input: ref('x')` or `source('a', 'b')`)
as `rows` (a list of mappings, or CSV text with `format: csv`), and `expect`s rows. As dbt runs
it: an input's columns the rows leave out are NULL (the input relation's columns come from the
plan: a seed's header, a model's SQL), and only the expected columns are compared, in any order.
`format: sql` rows are a query (written in `rows`, or a fixture file under a test path's
`fixtures/`). `overrides` are not read: such a case fails saying so, rather than passing on
other inputs than dbt would use.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flowforge_compiler.authoring import relation_for
from flowforge_compiler.dbt_project import REF_TEXT, SOURCE_TEXT, model_files, read_dbt_project
from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.plan import Plan
from flowforge_compiler.unit_test_file import ExpectSpec, InputSpec, UnitTestCase
from flowforge_compiler.yaml_files import read_yaml


class Unsupported(ProjectFileError):
    """A dbt unit test FlowForge cannot run as dbt would: its case fails with this."""


@dataclass(frozen=True)
class CannotRun:
    """A dbt unit test FlowForge cannot run as dbt runs it, and why: it fails, saying so."""

    model: str
    name: str
    path: str
    why: str


def dbt_unit_tests(root: Path, plan: Plan) -> list[UnitTestCase | CannotRun]:
    """Every dbt unit test of the project, as a case to run or one that cannot run."""
    _, model_folders, seed_folders, _, _ = read_dbt_project(root, warn=False)
    out: list[UnitTestCase | CannotRun] = []
    for path, rel in model_files(root, [*model_folders, *seed_folders]):
        if path.suffix not in (".yml", ".yaml"):
            continue
        data, _ = read_yaml(path, rel)
        for entry in (data or {}).get("unit_tests") or [] if isinstance(data, dict) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not isinstance(entry.get("model"), str):
                raise ProjectFileError("a unit test needs a name and a model", location=Location(rel))
            try:
                out.append(_case(entry, rel, root, plan))
            except Unsupported as why:
                out.append(CannotRun(entry["model"], entry["name"], rel, why.message))
    return out


def _case(entry: dict[str, Any], rel: str, root: Path, plan: Plan) -> UnitTestCase:
    if entry.get("overrides"):
        raise Unsupported("its `overrides` (vars, macros, env_vars) are not read by FlowForge yet")
    inputs: dict[str, InputSpec] = {}
    for given in entry.get("given") or []:
        relation = _relation(str(given.get("input", "")), plan, rel)
        if given.get("format") == "sql":
            inputs[relation] = InputSpec(sql=_sql(given, root, rel))
            continue
        known = _columns(plan, relation, root)
        inputs[relation] = InputSpec(rows=[{**dict.fromkeys(known), **row} for row in _rows(given, rel)])
    expect = entry.get("expect") or {}
    expected = ExpectSpec(sql=_sql(expect, root, rel), any_order=True) if expect.get("format") == "sql" else ExpectSpec(rows=_rows(expect, rel), any_order=True)
    return UnitTestCase(
        model=str(entry["model"]),
        name=str(entry["name"]),
        path=rel,
        folder=root / Path(rel).parent,
        root=root,
        engine=None,
        inputs=inputs,
        expect=expected,
    )


def _relation(written: str, plan: Plan, rel: str) -> str:
    ref, source = REF_TEXT.match(written), SOURCE_TEXT.match(written)
    if ref:
        return relation_for(ref.group(1))
    if source:
        found = next((s for s in plan.sources if (s.source, s.table) == source.groups()), None)
        if found is None:
            raise ProjectFileError(f"a unit test's input {written} names no source", location=Location(rel))
        return f"{found.schema_}.{found.identifier}" if found.schema_ else found.identifier
    raise Unsupported(f"its input {written!r} is neither ref() nor source()")


def _rows(given: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    form = str(given.get("format", "dict"))
    rows = given.get("rows")
    if form == "dict":
        if rows is None:
            return []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ProjectFileError("a unit test's rows must be a list of mappings", location=Location(rel))
        return [dict(r) for r in rows]
    if form == "csv":
        if given.get("fixture"):
            raise Unsupported("its CSV fixture files are not read by FlowForge yet")
        reader = csv.DictReader(io.StringIO(str(rows or "")))
        return [{k: _typed(v) for k, v in row.items()} for row in reader]
    raise Unsupported(f"its `format: {form}` rows are not read by FlowForge yet (dict and csv are)")


def _sql(given: dict[str, Any], root: Path, rel: str) -> str:
    """`format: sql` rows: the query written in `rows`, or the fixture file's
    (tests/fixtures/<name>.sql under a test path, as dbt finds it)."""
    if given.get("fixture"):
        name = str(given["fixture"])
        _, _, _, _, test_folders = read_dbt_project(root, warn=False)
        for folder in test_folders:
            for path, _ in model_files(root, [f"{folder.rstrip('/')}/fixtures"]):
                if path.stem == name and path.suffix == ".sql":
                    return path.read_text(encoding="utf-8")
        raise ProjectFileError(f"a unit test's fixture {name!r} is not a .sql file under a test path's fixtures/", location=Location(rel))
    return str(given.get("rows") or "")


def _typed(text: str | None) -> Any:
    """A CSV cell as dbt's agate types it: empty is NULL; numbers and true/false as such."""
    if text is None or text == "":
        return None
    value = yaml.safe_load(text) if text.strip() == text else text
    return value if isinstance(value, int | float | bool) else text


def _columns(plan: Plan, relation: str, root: Path) -> list[str]:
    """An input relation's columns, as far as the plan knows them (a seed's header, a model's
    column lineage), so the rows' missing columns are NULL as dbt fills them."""
    node = plan.find(relation)
    if node is None:
        return []
    if node.seed is not None and node.seed.format == "csv":
        from flowforge_compiler.lineage import seed_columns

        return list(seed_columns(root / node.seed.path, node.seed.format))
    return [c.name for c in node.columns or []]
