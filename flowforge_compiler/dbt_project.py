"""A dbt project (dbt_project.yml and no project.yml) read into the same `Project` as FlowForge's
own format, so everything after loading — compile, plan, runtime, targets — is shared.

Read: `name`, `version`, `vars`, `profile` and the model, seed, macro and test paths; models
`**/*.sql` named by their file stem; folder config under `models:` and `seeds:` with dbt's
nesting and `+` prefixes; schema files (`version: 2`) under the model and seed paths with
descriptions (`{{ doc('x') }}` from `{% docs %}` blocks in `.md` files), config, sources (a
table's schema defaults to its source's name, as in dbt) and tests: `not_null`, `unique`,
`accepted_values`, `relationships`, and the generic tests the project defines (`{% test %}`);
singular tests are the `.sql` files under the test paths. A test FlowForge cannot run stops the
load, naming the test and its file; what it does not build is named in a warning.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.jinja_sandbox import ProjectSandbox
from flowforge_compiler.paths import DBT_PROJECT, ProjectFiles
from flowforge_compiler.project_file import ProjectConfig
from flowforge_compiler.seeds_file import SeedFile, SeedSettings
from flowforge_compiler.sources_file import SourceTable
from flowforge_compiler.yaml_files import line_of, read_yaml, validate

log = logging.getLogger("flowforge")

_USED = {
    "name", "version", "vars", "models", "model-paths", "seed-paths", "macro-paths", "test-paths", "seeds", "profile", "config-version",
    "packages-install-path", "dispatch",
}  # fmt: skip
_NOT_NEEDED = {"target-path", "clean-targets", "require-dbt-version", "analysis-paths", "snapshot-paths", "docs-paths", "asset-paths", "log-path"}
_CONFIG_KEYS = {
    "materialized", "tags", "enabled", "schema", "alias", "database", "unique_key", "incremental_strategy", "docs", "persist_docs",
    "meta", "grants", "full_refresh", "on_schema_change", "contract", "pre-hook", "post-hook", "sql_header", "group", "access",
}  # fmt: skip
_SUPPORTED = {"materialized", "tags", "enabled", "unique_key", "incremental_strategy"}
_SEED_SUPPORTED = {"column_types", "enabled", "tags"}
_MAPPING_CONFIGS = {"column_types", "meta", "grants", "persist_docs", "docs"}  # configs whose value is a mapping
_SEED_KEYS = _SEED_SUPPORTED | {
    "schema", "alias", "database", "quote_columns", "delimiter", "docs", "persist_docs", "meta", "full_refresh", "grants",
    "pre-hook", "post-hook", "group",
}  # fmt: skip
_TESTS = {"not_null", "unique", "accepted_values", "relationships"}
# dbt's test settings, which it takes under config: or beside the arguments
_TEST_CONFIG = {
    "severity", "where", "tags", "enabled", "fail_calc", "warn_if", "error_if", "store_failures", "store_failures_as", "limit",
    "meta", "alias", "schema", "database", "group",
}  # fmt: skip
# a generic test: `{% test name(...) %}`, or a macro named test_<name> as dbt still reads
_GENERIC_TEST = re.compile(r"\{%-?\s*(?:test\s+\w+|macro\s+test_\w+)\s*\(")
_GENERIC_TEST_NAME = re.compile(r"\{%-?\s*(?:test\s+|macro\s+test_)(\w+)\s*\(")
PACKAGE_FILES = ("packages.yml", "dependencies.yml")
# config() keys of dbt models that FlowForge accepts and leaves unread, with a warning
IGNORED_MODEL_CONFIG = frozenset(_CONFIG_KEYS - _SUPPORTED - {"enabled"}) | {"pre_hook", "post_hook", "on_schema_change", "file_format", "packages"}
# config() keys of dbt models that FlowForge reads apart from the model's config: `enabled`, which
# dbt decides while parsing (a model whose own file disables it is left out, as dbt leaves it)
KEPT_MODEL_CONFIG = frozenset({"enabled"})
_NAMING_MACRO = re.compile(r"\{%-?\s*macro\s+(generate_(?:schema|alias|database)_name)\s*\(")
_DOC = re.compile(r"\{\{\s*doc\(\s*['\"]([^'\"]+)['\"]\s*\)\s*\}\}")
_DOCS_BLOCK = re.compile(r"\{%-?\s*docs\s+(\w+)\s*-?%\}(.*?)\{%-?\s*enddocs\s*-?%\}", re.DOTALL)
# `ref('x')` and `source('a', 'b')` written as text in YAML (a test's `to:`, a unit test's
# `input:`, an exposure's `depends_on:`): the name, or the source and table
REF_TEXT = re.compile(r"^\s*ref\(\s*['\"]([^'\"]+)['\"]\s*\)\s*$")
SOURCE_TEXT = re.compile(r"^\s*source\(\s*['\"]([^'\"]+)['\"]\s*,\s*['\"]([^'\"]+)['\"]\s*\)\s*$")


def source_test_table(source: str, table: str) -> str:
    """How a source's tests name their table (as a check's `table:` takes it)."""
    return f"source('{source}', '{table}')"


_SOURCE_TABLE = re.compile(r"^source\('(?P<source>[^']*)', '(?P<table>[^']*)'\)$")


@dataclass(frozen=True)
class GenericTest:
    """One use of a generic test the project defines: its macro is rendered with the model
    (or source) and column, and the query it returns is a check of type sql."""

    test: str  # the test's name: its macro is test_<name>
    table: str  # a model or seed name, or source('a', 'b')
    column: str | None
    args: dict[str, Any]
    severity: str
    where: str | None
    tags: tuple[str, ...]
    path: str  # the schema file that uses it
    fail_calc: str | None = None  # the use's own (else the test's config())
    warn_if: str | None = None  # the use's own thresholds (else the test's config())
    error_if: str | None = None
    name: str | None = None  # the use's own name (dbt's `name:`), else one made of the test, table and column

    @property
    def source(self) -> tuple[str, str] | None:
        """(source, table) when the test is on a source's table, else None (a model or seed)."""
        match = _SOURCE_TABLE.match(self.table)
        return (match.group("source"), match.group("table")) if match else None


def read_dbt_project(root: Path, *, warn: bool = True) -> tuple[dict[str, Any], list[str], list[str], list[str], list[str]]:
    """dbt_project.yml's content and its model, seed, macro and test folders; `warn` names
    the keys FlowForge leaves unread (once per load, not for every reader)."""
    data, node = read_yaml(root / DBT_PROJECT, DBT_PROJECT)
    if not isinstance(data, dict) or "name" not in data:
        raise ProjectFileError("dbt_project.yml must be a mapping with a name", location=Location(DBT_PROJECT, 1))
    for key in ("vars", "models", "seeds"):  # read as mappings below; a list would crash later, far from its line
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ProjectFileError(
                f"{key} must be a mapping, not {type(data[key]).__name__}",
                location=Location(DBT_PROJECT, line_of(node, (key,))),
                hint=f"write {key}: {{name: value}}",
            )
    for key in sorted(set(data) - _USED - _NOT_NEEDED) if warn else ():
        log.warning("%s: %r is not supported by FlowForge and is ignored", DBT_PROJECT, key)
    folders = [
        folder_list(data, key, default, DBT_PROJECT, node)
        for key, default in (("model-paths", "models"), ("seed-paths", "seeds"), ("macro-paths", "macros"), ("test-paths", "tests"))
    ]
    return data, folders[0], folders[1], folders[2], folders[3]


def clean_targets(data: dict[str, Any]) -> list[str]:
    """What `dbt clean` deletes: dbt_project.yml's `clean-targets`, else its `target-path`."""
    return folder_list(data, "clean-targets", str(data.get("target-path", "target")), DBT_PROJECT)


def folder_list(data: dict[str, Any], key: str, default: str, display: str, node: Any = None) -> list[str]:
    """A `*-paths` key: a list of folders, as dbt requires (a single string would build nothing
    and exit 0, so it is an error naming the line)."""
    value = data.get(key, [default])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProjectFileError(
            f"{key} must be a list of folders, not {value!r}",
            location=Location(display, line_of(node, (key,))),
            hint=f"write {key}: [{value if isinstance(value, str) else default}]",
        )
    return value


def unread_files(root: Path, data: dict[str, Any], model_paths: list[tuple[Path, str]], macros: dict[str, str]) -> None:
    """Warn about what a dbt project holds that FlowForge does not build: packages, snapshots,
    dbt Python models (among `model_paths`, the files under the model paths), naming macros
    (among `macros`, relative path -> text)."""
    if not (root / package_folder(data)).is_dir():
        for name in PACKAGE_FILES:
            if (root / name).is_file():
                log.warning(
                    "%s: its packages are not installed in %s/; run `dbt deps` (FlowForge reads installed packages and installs none)",
                    name, package_folder(data),
                )  # fmt: skip
    for folder in data.get("snapshot-paths", ["snapshots"]):
        if any(path.suffix in (".sql", ".yml") for path, _ in model_files(root, [str(folder)])):
            log.warning("%s/: dbt snapshots are not built by FlowForge", folder)
    for path, rel in model_paths:
        if path.suffix == ".py":
            log.warning("%s: dbt Python models are not read by FlowForge (FlowForge projects have @model)", rel)
    for rel, text in macros.items():
        for name in _NAMING_MACRO.findall(text):
            log.warning("%s: %s is not called by FlowForge; every model builds in the profile's schema, named after its file", rel, name)


@dataclass(frozen=True)
class DbtPackage:
    """A package `dbt deps` installed in the project: its macros are called as `name.macro`
    (and see each other unqualified), its generic tests are named `name.test` in schema files."""

    name: str
    macros: Mapping[str, str]  # path relative to the project -> text


def package_folder(data: dict[str, Any]) -> str:
    """Where `dbt deps` installs packages (`packages-install-path`, relative to the project)."""
    return str(data.get("packages-install-path", "dbt_packages"))


def installed_packages(root: Path, data: dict[str, Any], read_text: Callable[[Path, str], str]) -> list[DbtPackage]:
    """The packages in the install folder: each sub-folder with a dbt_project.yml. Only their
    macros and generic tests are read; models, seeds or snapshots a package has are named in
    a warning. A package linked from outside the project (as `dbt deps` links a `local:`
    one) is an error, as any file outside the project is."""
    install = package_folder(data)
    folder = root / install
    if not folder.is_dir():
        return []
    files = ProjectFiles(root)
    files.relative(folder, f"{install}/")
    packages: list[DbtPackage] = []
    for child in sorted(folder.iterdir()):
        if not (child / DBT_PROJECT).is_file():
            continue
        rel = files.relative(child, f"{install}/{child.name}/")
        own, _ = read_yaml(child / DBT_PROJECT, f"{rel}/{DBT_PROJECT}")
        if not isinstance(own, dict) or not isinstance(own.get("name"), str):
            raise ProjectFileError("a package's dbt_project.yml must be a mapping with a name", location=Location(f"{rel}/{DBT_PROJECT}", 1))
        taken = {str(data["name"]), *(p.name for p in packages)}
        if own["name"] in taken:
            raise ProjectFileError(f"two packages (or the project and a package) are named {own['name']!r}", location=Location(f"{rel}/{DBT_PROJECT}", 1))
        macro_folders = [f"{rel}/{m}" for m in folder_list(own, "macro-paths", "macros", f"{rel}/{DBT_PROJECT}")]
        macros = {r: read_text(p, r) for p, r in model_files(root, macro_folders) if p.suffix == ".sql"}
        for key, default, what in (("model-paths", "models", "models"), ("seed-paths", "seeds", "seeds"), ("snapshot-paths", "snapshots", "snapshots")):
            if any(p.suffix in (".sql", ".csv") for p, _ in model_files(root, [f"{rel}/{m}" for m in folder_list(own, key, default, f"{rel}/{DBT_PROJECT}")])):
                log.warning("%s: the package's %s are not built by FlowForge (it reads a package's macros and generic tests)", rel, what)
        packages.append(DbtPackage(own["name"], macros))
    return packages


def dispatch_order(data: dict[str, Any]) -> dict[str, list[str]]:
    """dbt_project.yml's `dispatch:`: per macro namespace, the packages adapter.dispatch
    searches, in order (dbt's default: the namespace alone)."""
    order: dict[str, list[str]] = {}
    for i, entry in enumerate(data.get("dispatch") or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("macro_namespace"), str) or not isinstance(entry.get("search_order"), list):
            raise ProjectFileError(f"dispatch entry {i + 1} needs macro_namespace and a search_order list", location=Location(DBT_PROJECT))
        order[entry["macro_namespace"]] = [str(p) for p in entry["search_order"]]
    return order


def split_tests(texts: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The `.sql` files under the test paths (relative path -> text) as singular tests and as
    generic test definitions (`{% test name(...) %}`, read as macros)."""
    generic = {rel: text for rel, text in texts.items() if _GENERIC_TEST.search(text)}
    return {rel: text for rel, text in texts.items() if rel not in generic}, generic


def model_files(root: Path, folders: list[str]) -> list[tuple[Path, str]]:
    files = ProjectFiles(root)
    out: list[tuple[Path, str]] = []
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        files.relative(base, f"{folder}/")
        for path in files.walk(base):
            relative = path.relative_to(root)
            if path.is_file() and not any(p.startswith(".") for p in relative.parts):
                out.append((path, files.relative(path, relative.as_posix())))
    return out


def folder_config(
    block: dict[str, Any], project: str, parts: tuple[str, ...], rel: str, *, kind: str = "models", vars: dict[str, Any] | None = None,
    target: object | None = None,
) -> dict[str, Any]:
    """The config dbt gives a model (or, with `kind="seeds"`, a seed) whose path under the
    project is `parts` (its folders, then its own name, as dbt's fqn): the project's level, then
    each deeper one's, the deeper winning; tags add up. A value written as a template
    (`"{{ var('x', false) }}"`) is rendered with the project's vars and the profile's `target`,
    as dbt renders dbt_project.yml. A config whose value is a
    mapping (`column_types`, `meta`, ...) may be written without its `+`, as dbt reads it."""
    supported, known = (_SEED_SUPPORTED, _SEED_KEYS) if kind == "seeds" else (_SUPPORTED, _CONFIG_KEYS)
    merged: dict[str, Any] = {}
    level: Any = block.get(project, {})
    for part in (None, *parts):
        if part is not None:
            level = level.get(part, {}) if isinstance(level, dict) else {}
        if not isinstance(level, dict):
            break
        for key, value in level.items():
            name = key.lstrip("+")
            if key.startswith("+") or (name in known and (not isinstance(value, dict) or name in _MAPPING_CONFIGS)):
                value = _rendered(value, vars or {}, target)
                if name == "tags":
                    merged["tags"] = [*merged.get("tags", []), *([value] if isinstance(value, str) else value)]
                elif name == "column_types" and isinstance(value, dict):
                    merged["column_types"] = {**merged.get("column_types", {}), **value}
                elif name in supported:
                    merged[name] = value
                else:
                    log.warning("%s: %s config %r (for %s) is not supported by FlowForge and is ignored", DBT_PROJECT, kind, name, rel)
    return merged


_REQUIRED = object()


def _rendered(value: Any, vars: dict[str, Any], target: object | None = None, where: str = DBT_PROJECT) -> Any:
    """A dbt_project.yml value; text with `{{` is a template of var(), env_var() and `target`
    (when the profile is known), and a rendered `true`/`false` is the flag (as dbt reads
    `+enabled: "{{ var('x', false) }}"`)."""
    if not isinstance(value, str) or "{{" not in value:
        return value
    def lookup(kind: str, found: Mapping[str, Any], hint: str) -> Callable[..., Any]:
        def read(name: str, default: Any = _REQUIRED) -> Any:
            if name in found:
                return found[name]
            if default is _REQUIRED:  # as dbt: an unset var or env_var without a default is an error
                raise ProjectFileError(f"{value!r}: {kind}({name!r}) is not set and has no default", location=Location(where), hint=hint)
            return default

        return read

    env = ProjectSandbox(undefined=jinja2.StrictUndefined, autoescape=False)
    env.globals.update(
        var=lookup("var", vars, "set it under vars: in dbt_project.yml or with --vars, or give a default: var('name', false)"),
        env_var=lookup("env_var", os.environ, "set the variable, or give a default: env_var('NAME', 'value')"),
        **({"target": target} if target is not None else {}),
    )
    try:
        text = env.from_string(value).render().strip()
    except jinja2.TemplateError as exc:
        raise ProjectFileError(f"{value!r}: {exc}", location=Location(where)) from exc
    return {"true": True, "false": False}.get(text.lower(), text)


def dbt_seeds(
    data: dict[str, Any], csv_files: list[tuple[str, str]], described: dict[str, dict[str, Any]], target: object | None = None
) -> list[SeedFile]:
    """The seed files (relative path, folder under the seed paths), each with the config of
    its folder (`seeds:` in dbt_project.yml) and of its properties in schema files; disabled
    ones left out."""
    seeds: list[SeedFile] = []
    for rel, folder in csv_files:
        path = Path(rel)
        parts = tuple(Path(rel[len(folder.rstrip("/")) + 1 :]).parts[:-1])
        settings = folder_config(
            data.get("seeds") or {}, str(data["name"]), (*parts, path.stem), rel, kind="seeds", vars=data.get("vars") or {}, target=target
        )
        extra = described.get(path.stem, {})
        own = {k: v for k, v in (extra.get("config") or {}).items() if k in _SEED_SUPPORTED}
        own["column_types"] = {**settings.get("column_types", {}), **own.get("column_types", {})}  # merged, as dbt does
        settings.update(own)
        if settings.pop("enabled", True) is False:
            continue
        for key in ("description", "columns"):
            if extra.get(key):
                settings[key] = extra[key]
        seeds.append(SeedFile(path.stem, rel, "csv", validate(SeedSettings, settings, rel, None)))
    return seeds


def _seed_paths(root: Path, folders: list[str]) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """The property files under the seed paths, and the CSV files with their folder; other
    files are named in a warning."""
    properties: list[tuple[Path, str]] = []
    csv_files: list[tuple[str, str]] = []
    for folder in folders:
        for path, rel in model_files(root, [folder]):
            if path.suffix in (".yml", ".yaml"):
                properties.append((path, rel))
            elif path.suffix == ".csv":
                csv_files.append((rel, folder))
            else:
                log.warning("%s: not read; dbt seeds are .csv files", rel)
    return properties, csv_files


def docs_blocks(files: list[tuple[Path, str]]) -> dict[str, str]:
    blocks: dict[str, str] = {}
    for path, _ in files:
        if path.suffix == ".md":
            for name, text in _DOCS_BLOCK.findall(path.read_text(encoding="utf-8")):
                blocks[name] = text.strip()
    return blocks


def _described(text: Any, blocks: dict[str, str], rel: str) -> str | None:
    if text is None:
        return None

    def block(match: re.Match[str]) -> str:
        if match.group(1) not in blocks:
            raise ProjectFileError(f"doc({match.group(1)!r}) names no {{% docs %}} block", location=Location(rel))
        return blocks[match.group(1)]

    return _DOC.sub(block, str(text)).strip() or None


def schema_files(
    files: list[tuple[Path, str]], blocks: dict[str, str], generic: frozenset[str] = frozenset()
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], dict[tuple[str, str], SourceTable], list[dict[str, Any]]]:
    """From every schema .yml under the model and seed paths: per model or seed, its
    description, column descriptions and config; the sources; the column tests of all of
    them as FlowForge checks; and the exposures as written (with their file as `path`)."""
    described: dict[str, dict[str, Any]] = {}
    checks: list[dict[str, Any]] = []
    sources: dict[tuple[str, str], SourceTable] = {}
    exposures: list[dict[str, Any]] = []
    for path, rel in files:
        if path.suffix not in (".yml", ".yaml"):
            continue
        data, _ = read_yaml(path, rel)
        if not isinstance(data, dict):
            continue
        _sources(data.get("sources") or [], rel, blocks, sources, checks, generic)
        unread = sorted(set(data) - {"version", "models", "seeds", "sources", "unit_tests", "exposures"})  # unit_tests: dbt_unit_tests.py
        for exposure in data.get("exposures") or []:
            if not isinstance(exposure, dict) or not isinstance(exposure.get("name"), str) or not isinstance(exposure.get("type"), str):
                raise ProjectFileError("an exposure needs a name and a type", location=Location(rel))
            exposures.append({**exposure, "path": rel})
        if unread:
            log.warning("%s: %s not read by FlowForge", rel, ", ".join(unread))
        for model in [*(data.get("models") or []), *(data.get("seeds") or [])]:
            name = model.get("name") if isinstance(model, dict) else None
            if not isinstance(name, str):
                raise ProjectFileError("a model or seed entry has no name", location=Location(rel))
            entry = described.setdefault(name, {})
            entry["description"] = _described(model.get("description"), blocks, rel)
            entry["columns"] = {}
            entry["config"] = dict(model.get("config") or {})
            for test in _tests_of(model):
                checks.append(_check(test, name, None, rel, generic))
            for column in model.get("columns") or []:
                column_name = column.get("name")
                text = _described(column.get("description"), blocks, rel)
                if text:
                    entry["columns"][column_name] = text
                for test in _tests_of(column):
                    checks.append(_check(test, name, column_name, rel, generic))
    return described, checks, sources, exposures


def _tests_of(entry: dict[str, Any]) -> list[Any]:
    return [*(entry.get("tests") or []), *(entry.get("data_tests") or [])]


def _sources(
    entries: list[Any],
    rel: str,
    blocks: dict[str, str],
    out: dict[tuple[str, str], SourceTable],
    checks: list[dict[str, Any]],
    generic: frozenset[str],
) -> None:
    """dbt's sources: a table's schema is the source's `schema`, else the source's name (as dbt
    has it); its identifier is `identifier`, else its name."""
    for source in entries:
        name = source.get("name") if isinstance(source, dict) else None
        if not isinstance(name, str):
            raise ProjectFileError("a source entry has no name", location=Location(rel))
        schema = str(source.get("schema") or name)
        for table in source.get("tables") or []:
            table_name = table.get("name")
            if (name, table_name) in out:
                raise ProjectFileError(f"source {name}.{table_name} is declared twice", location=Location(rel))
            out[(name, table_name)] = SourceTable(
                name,
                table_name,
                str(table.get("identifier") or table_name),
                schema,
                _described(table.get("description"), blocks, rel),
                _described(source.get("description"), blocks, rel),
            )
            written = source_test_table(name, table_name)
            for test in _tests_of(table):
                checks.append(_check(test, written, None, rel, generic))
            for column in table.get("columns") or []:
                for test in _tests_of(column):
                    checks.append(_check(test, written, column.get("name"), rel, generic))


def _check(test: Any, model: str, column: str | None, rel: str, generic: frozenset[str] = frozenset()) -> dict[str, Any]:
    """One test of a schema file as a check (a dict for project.yml's `tests:`), or, for a
    generic test the project defines (`{% test name(...) %}`), `type: generic` with its
    arguments, compiled later by rendering the test's macro. A model-level test names its
    column with `column_name`."""
    name: Any = None
    args: Any = None
    if isinstance(test, str):
        name, args = test, {}
    elif isinstance(test, dict) and len(test) == 1:
        ((name, args),) = test.items()
    args = dict(args or {})
    # a test's settings: under config:, or beside its arguments (dbt's config keys), as dbt takes them
    config = dict(args.pop("config", None) or {})
    config.update({key: args.pop(key) for key in _TEST_CONFIG & set(args)})
    nested = args.pop("arguments", None)  # dbt 1.10+ nests a test's own arguments under `arguments:`
    if nested is not None and not isinstance(nested, dict):
        raise ProjectFileError(f"the test {name!r} on {model}: `arguments:` must be a mapping", location=Location(rel))
    args.update(nested or {})
    own_name = args.pop("name", None)  # dbt's `name:` beside a test's arguments: the test's own name
    column = column if column is not None else args.pop("column_name", None)
    where_shown = f"{model}.{column}" if column else model
    if name not in _TESTS and name not in generic:
        shown = name if name is not None else test
        raise ProjectFileError(
            f"the test {shown!r} on {where_shown} is not one FlowForge has",
            location=Location(rel),
            hint=f"FlowForge runs {', '.join(sorted(_TESTS))}, the generic tests the project defines ({{% test %}}) and those of "
            "the packages installed in dbt_packages/ (`dbt deps` installs them; name them package.test); write others as a singular test",
        )
    # a templated enabled/severity is rendered with the project's vars and target (dbt_config)
    templated = {key: config.pop(key) for key in ("enabled", "severity") if isinstance(config.get(key), str) and "{{" in config[key]}
    check: dict[str, Any] = {"type": name, "table": model, "column": column, **({"name": str(own_name)} if own_name else {})}
    if templated:
        check["templated"] = (templated, rel)
    if name in generic and name not in _TESTS:
        check.update(type="generic", test=name, path=rel)
    if str(config.pop("enabled", True)).lower() == "false":
        check["disabled"] = True
    severity = config.pop("severity", None)
    if severity:
        check["severity"] = str(severity).lower()
    where = config.pop("where", None)
    if where:
        check["where"] = where
    tags = config.pop("tags", None)
    if tags:
        check["tags"] = [tags] if isinstance(tags, str) else list(tags)
    if check["type"] == "generic" and "fail_calc" in config:
        check["fail_calc"] = str(config.pop("fail_calc"))
    for key in ("warn_if", "error_if"):
        if key in config:
            check[key] = str(config.pop(key))
    if config:
        log.warning("%s: the test %r on %s: %s not read by FlowForge", rel, name, where_shown, ", ".join(sorted(config)))
    if check["type"] == "generic":
        return {**check, "args": args}
    if column is None:
        raise ProjectFileError(f"the test {name!r} on {model} names no column", location=Location(rel), hint="put it under a column, or give column_name")
    def required(key: str) -> Any:
        if key not in args:
            raise ProjectFileError(
                f"the test {name!r} on {where_shown} needs the argument {key!r}",
                location=Location(rel),
                hint=f"give it under the test: {{{name}: {{arguments: {{{key}: ...}}}}}}",
            )
        return args.pop(key)

    if name == "accepted_values":
        check["values"] = required("values")
        args.pop("quote", None)
    if name == "relationships":
        to = str(required("to"))
        target = REF_TEXT.match(to)
        if target is None and not SOURCE_TEXT.match(to):
            raise ProjectFileError(f"relationships on {model}.{column}: `to` must be ref('model') or source('name', 'table')", location=Location(rel))
        check["to"], check["to_column"] = target.group(1) if target else to.strip(), required("field")
    if args:
        raise ProjectFileError(f"the test {name!r} on {where_shown} has arguments FlowForge does not read: {sorted(args)}", location=Location(rel))
    return check


def dbt_config(
    root: Path,
    data: dict[str, Any],
    models: list[tuple[str, str]],
    files: list[tuple[Path, str]],
    model_folders: list[str],
    seed_folders: list[str],
    generic: frozenset[str] = frozenset(),
    target: object | None = None,
) -> tuple[ProjectConfig, dict[tuple[str, str], SourceTable], set[str], list[SeedFile], list[GenericTest], list[dict[str, Any]]]:
    """project.yml's equivalent: models' config from folders and schema files, checks, vars;
    the sources; the names of disabled models; the enabled seeds; the uses of the project's
    own generic tests (`generic`: their names). Tests of what is disabled are dropped, as dbt
    drops them."""
    blocks = docs_blocks(files)
    seed_properties, csv_files = _seed_paths(root, seed_folders)
    described, checks, sources, exposures = schema_files([*files, *seed_properties], blocks, generic)
    for check in checks:  # a test's templated enabled/severity, rendered as dbt renders schema files
        templated, where = check.pop("templated", ({}, ""))
        for key, value in templated.items():
            rendered = _rendered(value, data.get("vars") or {}, target, where)
            if key == "enabled":
                check["disabled"] = check.get("disabled", False) or str(rendered).strip().lower() == "false"
            else:
                check["severity"] = str(rendered).strip().lower()
    seeds = dbt_seeds(data, csv_files, described, target)
    per_model: dict[str, dict[str, Any]] = {}
    disabled: set[str] = set()
    for name, rel in models:
        folder = next((f for f in model_folders if rel.startswith(f.rstrip("/") + "/")), "")
        parts = tuple(Path(rel[len(folder) + 1 :]).parts[:-1]) if folder else ()
        settings = folder_config(data.get("models") or {}, str(data["name"]), (*parts, Path(rel).stem), rel, vars=data.get("vars") or {}, target=target)
        extra = described.get(name, {})
        settings.update({k: v for k, v in (extra.get("config") or {}).items() if k in _SUPPORTED})
        if settings.pop("enabled", True) is False:
            disabled.add(name)
            continue
        if extra.get("description"):
            settings["description"] = extra["description"]
        if extra.get("columns"):
            settings["columns"] = extra["columns"]
        if settings:
            per_model[name] = settings
    seed_files = {Path(rel).stem for rel, _ in csv_files}
    disabled |= seed_files - {seed.name for seed in seeds}
    unknown = sorted(set(described) - {n for n, _ in models} - seed_files)
    if unknown:
        log.warning("schema files describe models or seeds that have no file (their tests are left out, as dbt leaves them): %s", ", ".join(unknown))
    checks = [c for c in checks if c["table"] not in disabled and c["table"] not in unknown and not c.pop("disabled", False)]
    uses = [
        GenericTest(
            c["test"], c["table"], c["column"], c["args"], c.get("severity", "error"), c.get("where"), tuple(c.get("tags", ())), c["path"],
            c.get("fail_calc"), c.get("warn_if"), c.get("error_if"), c.get("name"),
        )
        for c in checks
        if c["type"] == "generic"
    ]
    config = ProjectConfig.model_validate(
        {
            "name": str(data["name"]), "version": str(data.get("version", "0")), "vars": data.get("vars") or {}, "models": per_model,
            "tests": [c for c in checks if c["type"] != "generic"],
        }
    )  # fmt: skip
    return config, sources, disabled, seeds, uses, exposures


def generic_test_names(texts: list[str], package: str | None = None) -> frozenset[str]:
    """The generic tests (`{% test name(...) %}`) defined in these macro files; a package's
    are named `package.name`, as schema files name them."""
    prefix = f"{package}." if package else ""
    return frozenset(prefix + name for text in texts for name in _GENERIC_TEST_NAME.findall(text))
