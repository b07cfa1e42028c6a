"""Loading a project folder into a `Project`: files read, validated and discovered, not compiled."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowforge_compiler.authoring import relation_for
from flowforge_compiler.dbt_project import (
    DbtPackage,
    GenericTest,
    dbt_config,
    dispatch_order,
    generic_test_names,
    installed_packages,
    model_files,
    read_dbt_project,
    split_tests,
    unread_files,
)
from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.paths import ProjectFiles, is_dbt_project, project_root
from flowforge_compiler.project_file import DocsSettings, ProjectConfig
from flowforge_compiler.python_models import PythonModelDecl, discover_python_models
from flowforge_compiler.seeds_file import SeedFile, discover_seeds
from flowforge_compiler.sources_file import SourceTable, load_sources
from flowforge_compiler.yaml_files import line_of, read_yaml, validate

log = logging.getLogger("flowforge")


@dataclass(frozen=True)
class SqlModelFile:
    name: str  # logical name: the file stem including `.ff`
    path: str  # relative to the project
    text: str


@dataclass(frozen=True)
class Project:
    """A project as found on disk, validated but not yet rendered."""

    root: Path
    config: ProjectConfig
    sources: dict[tuple[str, str], SourceTable]
    sql_models: list[SqlModelFile]
    python_models: list[PythonModelDecl]
    seeds: list[SeedFile]
    macros: dict[str, str]  # relative path -> text
    test_lines: tuple[int | None, ...] = ()  # the line of each `tests:` entry in project.yml
    stream_lines: tuple[int | None, ...] = ()  # the line of each stream's source path in project.yml
    dbt: bool = False  # read from dbt_project.yml: dbt's Jinja names, its SQL in the target's dialect
    singular_tests: list[SqlModelFile] = field(default_factory=list)  # dbt's tests/*.sql: fail when they return rows
    generic_tests: list[GenericTest] = field(default_factory=list)  # uses of the dbt project's (or a package's) {% test %} blocks
    packages: list[DbtPackage] = field(default_factory=list)  # the dbt packages installed in the project
    dispatch: dict[str, list[str]] = field(default_factory=dict)  # dbt's `dispatch:`: namespace -> packages searched
    exposures: list[dict[str, Any]] = field(default_factory=list)  # dbt's exposures as written, each with its file as `path`

    def node_names(self) -> list[str]:
        return [
            *(m.name for m in self.sql_models),
            *(m.name for m in self.python_models),
            *(s.name for s in self.seeds),
            *(s.into for s in self.config.streams),
        ]


_NOT_READ = {
    "packages.yml": "FlowForge installs no dbt packages; copy the macros you need into macros/",
    "dependencies.yml": "FlowForge installs no dbt packages; copy the macros you need into macros/",
}


def docs_settings(root: Path) -> DocsSettings:
    """project.yml's `docs:` alone (what `ffc docs` needs that is not in the plan); a dbt
    project has the defaults."""
    return DocsSettings() if is_dbt_project(root) else _read_config(root)[0].docs


def _read_config(root: Path) -> tuple[ProjectConfig, Any]:
    data, node = read_yaml(root / "project.yml", "project.yml")
    return validate(ProjectConfig, {} if data is None else data, "project.yml", node), node


def load_project(root: Path, *, target: object | None = None) -> Project:
    """Read every project file; structural problems are errors naming the file. `target` is
    the profile's (`target.name`, ...), which dbt_project.yml's templates may read."""
    root = project_root(root)
    if is_dbt_project(root):
        return _load_dbt(root, target)
    config, node = _read_config(root)
    for name, why in _NOT_READ.items():
        if (root / name).exists():
            log.warning("%s: not read (%s)", name, why)
    model_files = _model_files(root)
    python_models = _discover_python(root, model_files)
    project = Project(
        root=root,
        config=config,
        sources=load_sources(root / "sources.yml"),
        sql_models=_discover_sql(model_files, python_models),
        python_models=python_models,
        seeds=discover_seeds(root),
        macros=_read_macros(root),
        test_lines=tuple(line_of(node, ("tests", i)) for i in range(len(config.tests))),
        stream_lines=tuple(line_of(node, ("streams", i, "source", "path")) for i in range(len(config.streams))),
    )
    _check_unique_names(project)
    _check_model_configs(project)
    return project


def _load_dbt(root: Path, target: object | None = None) -> Project:
    """A dbt project, read by `dbt_project.py` into the same Project."""
    data, model_folders, seed_folders, macro_folders, test_folders = read_dbt_project(root)
    files = model_files(root, model_folders)
    fixtures = tuple(f"{folder.rstrip('/')}/fixtures/" for folder in test_folders)  # dbt's unit-test fixtures: data, not tests
    test_texts = {
        rel: _read_text(path, rel) for path, rel in model_files(root, test_folders) if path.suffix == ".sql" and not rel.startswith(fixtures)
    }
    singular, generic_definitions = split_tests(test_texts)
    macros = {rel: _read_text(path, rel) for path, rel in model_files(root, macro_folders) if path.suffix == ".sql"} | generic_definitions
    unread_files(root, data, files, macros)
    packages = installed_packages(root, data, _read_text)
    sql = [(path.stem, rel) for path, rel in files if path.suffix == ".sql"]
    generic = generic_test_names(list(macros.values())).union(*(generic_test_names(list(p.macros.values()), p.name) for p in packages))
    config, sources, disabled, seeds, generic_uses, exposures = dbt_config(root, data, sql, files, model_folders, seed_folders, generic, target)
    by_path = {rel: path for path, rel in files}
    project = Project(
        root=root,
        config=config,
        sources=sources,
        sql_models=[SqlModelFile(name, rel, _read_text(by_path[rel], rel)) for name, rel in sql if name not in disabled],
        python_models=[],
        seeds=seeds,
        macros=macros,
        test_lines=(None,) * len(config.tests),
        dbt=True,
        generic_tests=generic_uses,
        singular_tests=[SqlModelFile(Path(rel).stem, rel, text) for rel, text in singular.items()],
        packages=packages,
        dispatch=dispatch_order(data),
        exposures=exposures,
    )
    _check_unique_names(project)
    return project


def _model_files(root: Path) -> list[tuple[Path, str]]:
    """Every file under models/ (hidden ones aside), with its path relative to the project."""
    folder = root / "models"
    if not folder.is_dir():
        return []
    files = ProjectFiles(root)
    files.relative(folder, "models/")
    out = []
    for path in files.walk(folder):
        relative = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            continue
        out.append((path, files.relative(path, relative.as_posix())))
    return out


def _discover_python(root: Path, files: list[tuple[Path, str]]) -> list[PythonModelDecl]:
    python: list[PythonModelDecl] = []
    for path, rel in files:
        if path.name.endswith(".ff.py"):
            found = discover_python_models(path, rel, root)
            if not found:
                log.warning("%s: no @model function found; the file is ignored", rel)
            python.extend(found)
    return python


def _discover_sql(files: list[tuple[Path, str]], python: list[PythonModelDecl]) -> list[SqlModelFile]:
    """SQL models; every other file under models/ gets a warning saying what is read instead,
    except the helper modules Python models import."""
    helpers = {module for decl in python for module in decl.modules}
    sql: list[SqlModelFile] = []
    for path, rel in files:
        if path.name.endswith(".ff.sql"):
            sql.append(SqlModelFile(path.name[: -len(".sql")], rel, _read_text(path, rel)))
        elif path.name.endswith(".ff.py") or rel in helpers or path.suffix == ".pyc":
            continue
        elif path.suffix in {".yml", ".yaml"}:
            log.warning(
                "%s: not read; FlowForge takes model config from config() and project.yml `models:`, "
                "and checks from project.yml `tests:`", rel,
            )
        elif path.suffix == ".py":
            log.warning("%s: not a model (model files end in .ff.py) and no Python model imports it", rel)
        else:
            log.warning("%s: not read; model files end in .ff.sql or .ff.py", rel)
    return sql


def _read_text(path: Path, rel: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectFileError(f"cannot read file: {exc}", location=Location(rel)) from exc


def _read_macros(root: Path) -> dict[str, str]:
    folder = root / "macros"
    if not folder.is_dir():
        return {}
    files = ProjectFiles(root)
    files.relative(folder, "macros/")
    macros: dict[str, str] = {}
    for path in files.walk(folder):
        relative = path.relative_to(root).as_posix()
        if not path.is_file() or path.name.startswith(".") or "__pycache__" in path.parts:
            continue
        if path.suffix != ".sql":
            log.warning("%s: not read; macro files end in .sql", relative)
            continue
        macros[relative] = _read_text(path, files.relative(path, relative))
    return macros


def _check_unique_names(project: Project) -> None:
    """Node names are flat across folders, and two nodes may not share a relation."""
    by_name: dict[str, str] = {}
    by_relation: dict[str, str] = {}
    nodes = [(n.name, n.path) for n in project.sql_models] + [(n.name, n.path) for n in project.python_models]
    nodes += [(n.name, n.path) for n in project.seeds]
    nodes += [(stream.into, "project.yml") for stream in project.config.streams]  # a stream is named after its table
    for name, path in nodes:
        if name in by_name:
            raise ProjectFileError(
                f"two nodes are named {name!r}: {by_name[name]} and {path}",
                location=Location(path),
                hint="node names are flat across folders (a stream's is its `into:` table); rename one of them",
            )
        by_name[name] = path
        relation = relation_for(name)
        if relation in by_relation:
            raise ProjectFileError(
                f"nodes {by_relation[relation]!r} and {name!r} would both build the relation {relation!r}",
                location=Location(path),
                hint="rename one of them",
            )
        by_relation[relation] = name


def _check_model_configs(project: Project) -> None:
    from difflib import get_close_matches

    names = project.node_names()
    relations = {relation_for(n): n for n in names}
    for key in project.config.models:
        if key not in names and key not in relations:
            close = get_close_matches(key, names, n=3)
            raise ProjectFileError(
                f"models: {key!r} is not a model of this project",
                location=Location("project.yml"),
                hint=f"did you mean {', '.join(map(repr, close))}?" if close else "use a model's logical name, e.g. 'users.ff'",
            )
