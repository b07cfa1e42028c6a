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

from flowforge_compiler.dsn import SECRET_KEY, parse_dsn
from flowforge_compiler.paths import project_file
from flowforge_compiler.plan import Plan
from flowforge_compiler.yaml_files import read_yaml
from targets.output import OutputFolder

log = logging.getLogger("flowforge")

_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_PLACEHOLDER = re.compile(r"fftemplate(\d+)x")
_URL = re.compile(r"^\s*[A-Za-z][\w+.-]*://")
_KEYWORD_PASSWORD = re.compile(r"(?P<key>\b(?:password|passwd|pwd)\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def write_bundle(plan: Plan, root: Path, out: OutputFolder, name: str) -> Path:
    """Write (or replace) the bundle folder `out/name` from the plan and the project folder
    `root` (the plan lists every file the runtime reads); refuses a folder that is not a bundle."""
    folder = out.fresh_bundle(name)
    plan.write(folder / "plan.json")
    for relative in sorted(files_needed(plan)):
        target = out.path(Path(name) / relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / project_file(root, root / relative, relative), target)
    profile = _profile_without_secrets(root / "profiles.yml", plan.profile.name)
    if profile is not None:
        text = yaml.safe_dump({plan.profile.name: profile}, sort_keys=True, allow_unicode=True)
        (folder / "profiles.yml").write_text(
            "# Written by ffc: the compiled profile only. Secrets come from the worker's environment.\n" + text,
            encoding="utf-8",
        )
    return folder


def files_needed(plan: Plan) -> set[str]:
    """Python model files and the project-local modules they import, seed files."""
    needed: set[str] = set()
    for node in plan.nodes:
        if node.python is not None:
            needed.add(node.python.path)
            needed.update(node.python.modules)
        if node.seed is not None and node.seed.format != "sql":
            needed.add(node.seed.path)
    return needed


def _profile_without_secrets(path: Path, name: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    data, _ = read_yaml(path, "profiles.yml")
    block = (data or {}).get(name) if isinstance(data, dict) else None
    if not isinstance(block, dict):
        return None
    return _scrub(block, name)


def _scrub(value: Any, where: str, key: str = "") -> Any:
    """Literal secrets become env_var() templates, so none reaches a generated file."""
    if isinstance(value, dict):
        return {k: _scrub(v, f"{where}.{k}", str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, where, key) for v in value]
    if not isinstance(value, str):
        return value
    variable = "FF_" + re.sub(r"[^A-Z0-9]+", "_", where.upper()).strip("_")
    if SECRET_KEY.search(key) and _has_literal(value):
        return _env_var(variable, where)
    if _URL.match(value):
        return _scrub_url(value, variable, where)
    return _KEYWORD_PASSWORD.sub(lambda m: m.group("key") + _env_var(f"{variable}_PASSWORD", where), value)


def _scrub_url(value: str, variable: str, where: str) -> str:
    """A URL's password and secret query values become env_var() templates; templates already
    in it (a host from env_var(), say) are kept as written."""
    templates: list[str] = []

    def hide(match: re.Match[str]) -> str:
        templates.append(match.group(0))
        return f"fftemplate{len(templates) - 1}x"

    dsn = parse_dsn(_TEMPLATE.sub(hide, value), f"profiles.yml: {where}")
    password = dsn.password
    if password is not None and _has_literal(_PLACEHOLDER.sub("", password)):
        password = _env_var(f"{variable}_PASSWORD", where)
    elif password is not None:
        password = _PLACEHOLDER.sub(lambda m: templates[int(m.group(1))], password)
    secret_query = {
        k: _env_var(f"{variable}_{re.sub(r'[^A-Z0-9]+', '_', k.upper())}", where)
        for k, v in dsn.query
        if k in dsn.secret_keys and _has_literal(_PLACEHOLDER.sub("", v))
    }
    text = dsn.render(password=password, query_values=secret_query)
    return _PLACEHOLDER.sub(lambda m: templates[int(m.group(1))], text)


def _has_literal(text: str) -> bool:
    return bool(_TEMPLATE.sub("", text).strip())


def _env_var(variable: str, where: str) -> str:
    log.warning("profiles.yml %s holds a literal secret; the bundle reads it from $%s instead", where, variable)
    return f"{{{{ env_var('{variable}') }}}}"
