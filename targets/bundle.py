"""The bundle an orchestrator target ships beside its generated code.

`<out>/<name>/`: plan.json, the files the runtime reads (Python models and the helpers beside
them, seed files), and a profiles.yml holding only the compiled profile, with no secrets:
values stay `{{ env_var(...) }}` templates, resolved in the worker.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.plan import Plan
from flowforge_compiler.project import Project

log = logging.getLogger("flowforge")

_SECRET_KEYS = re.compile(r"(password|passwd|secret|token|private_key|api_key)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"^(?P<scheme>[\w+.-]+://)(?P<user>[^:/@]+):(?P<password>[^@]+)@")


def write_bundle(project: Project, plan: Plan, folder: Path) -> Path:
    """Write (or replace) the bundle folder; refuses to replace a folder that is not a bundle."""
    if folder.exists():
        if any(folder.iterdir()) and not (folder / "plan.json").exists():
            raise ProjectFileError(
                f"{folder} exists and is not a FlowForge bundle; refusing to replace it",
                hint="choose another --out or --dag-id, or remove the folder",
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    plan.write(folder / "plan.json")
    for relative in sorted(_files_needed(project, plan)):
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project.root / relative, target)
    profile = _profile_without_secrets(project.root / "profiles.yml", plan.profile.name)
    if profile is not None:
        text = yaml.safe_dump({plan.profile.name: profile}, sort_keys=True, allow_unicode=True)
        (folder / "profiles.yml").write_text(
            "# Written by ffc: the compiled profile only. Secrets come from the worker's environment.\n" + text,
            encoding="utf-8",
        )
    return folder


def _files_needed(project: Project, plan: Plan) -> set[str]:
    """Python model files and the project-local helper modules they import, seed files."""
    needed: set[str] = set()
    for node in plan.nodes:
        if node.python is not None:
            needed.add(node.python.path)
            model_dir = project.root / Path(node.python.path).parent
            for folder in (model_dir, project.root):
                for helper in [*folder.glob("*.py"), *folder.glob("*/__init__.py")]:
                    if not helper.name.endswith(".ff.py") or helper.parent == model_dir:
                        needed.update(_package_files(helper, project.root))
        if node.seed is not None and node.seed.format != "sql":
            needed.add(node.seed.path)
    return needed


def _package_files(helper: Path, root: Path) -> list[str]:
    """A helper module, or every .py of a helper package."""
    files = [helper] if helper.name != "__init__.py" else sorted(helper.parent.rglob("*.py"))
    return [f.relative_to(root).as_posix() for f in files]


def _profile_without_secrets(path: Path, name: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    block = data.get(name)
    if not isinstance(block, dict):
        return None
    return _scrub(block, name)


def _scrub(value: Any, where: str, key: str = "") -> Any:
    """Literal secrets become env_var() templates, so none reaches a generated file."""
    if isinstance(value, dict):
        return {k: _scrub(v, f"{where}.{k}", str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, where, key) for v in value]
    if not isinstance(value, str) or "{{" in value:
        return value
    variable = "FF_" + re.sub(r"[^A-Z0-9]+", "_", where.upper()).strip("_")
    if _SECRET_KEYS.search(key):
        log.warning("profiles.yml %s holds a literal secret; the bundle reads it from $%s instead", where, variable)
        return f"{{{{ env_var('{variable}') }}}}"
    match = _URL_PASSWORD.match(value)
    if match:
        variable += "_PASSWORD"
        log.warning("profiles.yml %s holds a password; the bundle reads it from $%s instead", where, variable)
        return f"{match.group('scheme')}{match.group('user')}:{{{{ env_var('{variable}') }}}}@{value[match.end():]}"
    return value
