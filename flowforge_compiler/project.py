"""Loading a project folder into a `Project`: files read, validated and discovered, not compiled."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from flowforge_compiler.authoring import relation_for
from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.project_file import ProjectConfig
from flowforge_compiler.python_models import PythonModelDecl, discover_python_models
from flowforge_compiler.seeds_file import SeedFile, discover_seeds
from flowforge_compiler.sources_file import SourceTable, load_sources
from flowforge_compiler.yaml_files import load_model

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

    def node_names(self) -> list[str]:
        return [
            *(m.name for m in self.sql_models),
            *(m.name for m in self.python_models),
            *(s.name for s in self.seeds),
        ]


def load_project(root: Path) -> Project:
    """Read every project file; structural problems are errors naming the file."""
    root = root.resolve()
    if not (root / "project.yml").is_file():
        raise ProjectFileError(
            f"not a FlowForge project: {root.name}/ has no project.yml",
            hint="pass the folder that holds project.yml, models/ and seeds/",
        )
    config = load_model(root / "project.yml", ProjectConfig, "project.yml", empty={})
    sql_models, python_models = _discover_models(root)
    project = Project(
        root=root,
        config=config,
        sources=load_sources(root / "sources.yml"),
        sql_models=sql_models,
        python_models=python_models,
        seeds=discover_seeds(root),
        macros=_read_macros(root),
    )
    _check_unique_names(project)
    _check_model_configs(project)
    return project


def _discover_models(root: Path) -> tuple[list[SqlModelFile], list[PythonModelDecl]]:
    folder = root / "models"
    sql: list[SqlModelFile] = []
    python: list[PythonModelDecl] = []
    if not folder.is_dir():
        return sql, python
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        rel = path.relative_to(root).as_posix()
        if path.name.endswith(".ff.sql"):
            sql.append(SqlModelFile(path.name[: -len(".sql")], rel, _read_text(path, rel)))
        elif path.name.endswith(".ff.py"):
            found = discover_python_models(path, rel, root)
            if not found:
                log.warning("%s: no @model function found; the file is ignored", rel)
            python.extend(found)
        elif path.suffix in {".sql", ".py"} and path.name != "__init__.py":
            log.warning("%s: ignored; model files end in .ff.sql or .ff.py", rel)
    return sql, python


def _read_text(path: Path, rel: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectFileError(f"cannot read file: {exc}", location=Location(rel)) from exc


def _read_macros(root: Path) -> dict[str, str]:
    folder = root / "macros"
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(root).as_posix(): _read_text(p, p.relative_to(root).as_posix())
        for p in sorted(folder.rglob("*.sql"))
    }


def _check_unique_names(project: Project) -> None:
    """Node names are flat across folders, and two nodes may not share a relation."""
    by_name: dict[str, str] = {}
    by_relation: dict[str, str] = {}
    nodes = [*project.sql_models, *project.python_models, *project.seeds]
    for node in nodes:
        if node.name in by_name:
            raise ProjectFileError(
                f"two nodes are named {node.name!r}: {by_name[node.name]} and {node.path}",
                location=Location(node.path),
                hint="node names are flat across folders; rename one of them",
            )
        by_name[node.name] = node.path
        relation = relation_for(node.name)
        if relation in by_relation:
            raise ProjectFileError(
                f"nodes {by_relation[relation]!r} and {node.name!r} would both build the relation {relation!r}",
                location=Location(node.path),
                hint="rename one of them",
            )
        by_relation[relation] = node.name


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
