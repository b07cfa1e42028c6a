"""The bundle an orchestrator target ships beside its generated code.

`<out>/<name>/`: plan.json, the files the runtime reads (Python models and the helpers beside
them, seed files), and a profiles.yml holding only the compiled profile. Streams' event files
stay in place. No path of the compiling machine is written: a path given relative (a DuckDB file,
a stream's files and the folder they must lie in) is written relative to the bundle folder, so
the bundle finds what the project names wherever the two are checked out side by side; a path
given absolute stays as given. The profile's settings are fixed
as the compile resolved them (`FF_*` overrides and env_var() included), so a worker's own `FF_*` variables cannot redirect the DAG;
only secrets stay `{{ env_var(...) }}` templates, resolved in the worker. A path setting that
would put data inside the bundle folder, which every compile replaces, is refused, as are
settings the engine says cannot serve tasks in separate processes (an in-memory DuckDB).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from flowforge_compiler.dsn import SECRET_KEY, parse_dsn
from flowforge_compiler.errors import Location, ProfileError
from flowforge_compiler.paths import project_file
from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile
from targets.output import OutputFolder

log = logging.getLogger("flowforge")

_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_PLACEHOLDER = re.compile(r"fftemplate(\d+)x")
_URL = re.compile(r"^\s*[A-Za-z][\w+.-]*://")
_KEYWORD_PASSWORD = re.compile(r"(?P<key>\b(?:password|passwd|pwd)\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def write_bundle(plan: Plan, root: Path, out: OutputFolder, name: str, profile: Profile) -> Path:
    """Write (or replace) the bundle folder `out/name` from the plan and the project folder
    `root` (the plan lists every file the runtime reads), with `profile` as the compile resolved
    it; refuses a folder that is not a bundle."""
    text = bundle_profile_text(profile, root, out.path(name))
    folder = out.fresh_bundle(name)
    with_rebased_stream_sources(plan, root, folder).write(folder / "plan.json")
    for relative in sorted(files_needed(plan)):
        target = out.path(Path(name) / relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / project_file(root, root / relative, relative), target)
    (folder / "profiles.yml").write_text(text, encoding="utf-8")
    return folder


def with_rebased_stream_sources(plan: Plan, root: Path, bundle: Path) -> Plan:
    """The plan with each stream's relative paths (its files, the folder they lie in) made
    relative to the bundle: the event files stay where they are (they grow; a bundle cannot
    copy them), and a task's root is the bundle."""
    nodes = []
    for node in plan.nodes:
        stream = node.stream
        if stream is not None and stream.source.path is not None:
            moved = {"path": rebased(stream.source.path, root, bundle), "within": rebased(stream.source.within, root, bundle)}
            source = stream.source.model_copy(update=moved)
            node = node.model_copy(update={"stream": stream.model_copy(update={"source": source})})
        nodes.append(node)
    return plan.model_copy(update={"nodes": nodes})


def rebased(path: str, root: Path, bundle: Path) -> str:
    """A path relative to the project folder `root`, relative to the bundle folder instead; an
    absolute one as it is."""
    if Path(path).is_absolute():
        return path
    return _from_bundle(root.resolve() / path, bundle)


def _from_bundle(path: Path, bundle: Path) -> str:
    """An absolute `path` as the bundle folder reaches it (`../../.local/w.duckdb`)."""
    return Path(os.path.relpath(path, bundle.resolve())).as_posix()


def files_needed(plan: Plan) -> set[str]:
    """Python model files and the project-local modules they import, seed files, and what a
    dbt model rendered at run time renders from: its file and the plan's `dbt` macro files."""
    needed: set[str] = set()
    if plan.dbt is not None:
        from flowforge_compiler.run_render import run_time_files

        needed.update(plan.dbt.macros)
        needed.update(f for files in plan.dbt.packages.values() for f in files)
        needed.update(run_time_files(plan))
    for node in plan.nodes:
        if node.python is not None:
            needed.add(node.python.path)
            needed.update(node.python.modules)
        if node.seed is not None and node.seed.format != "sql":
            needed.add(node.seed.path)
    return needed


def bundle_profile_text(profile: Profile, root: Path, bundle: Path) -> str:
    """The bundle's profiles.yml: the one compiled profile, non-secret settings fixed."""
    spec = profile.spec
    problem = spec.orchestrator_problem(profile.engine_settings)
    if problem is not None:
        raise ProfileError(
            f"profile {profile.name!r} cannot run as Airflow or Prefect tasks: {problem}",
            location=Location("profiles.yml") if (root / "profiles.yml").exists() else None,
            hint=f"give the {profile.engine} settings a lasting place (a file path), in profiles.yml or its FF_* variable",
        )
    raw = profile.written
    from_variable = {setting.split(".", 1)[1]: variable for setting, variable in profile.overridden.items()}
    settings: dict[str, Any] = {}
    for key, value in profile.engine_settings.model_dump(mode="json").items():
        if value is None:
            continue
        where = f"{profile.name}.{profile.engine}.{key}"
        if key in spec.path_keys and isinstance(value, str):
            _outside_bundle(Path(value), bundle, where)
            if key in profile.relative_paths:
                value = _from_bundle(Path(value), bundle)
        if f"{profile.engine}.{key}" in profile.unresolved:  # still its template: resolved in the worker
            settings[key] = _scrub(value, where, key)
        elif _is_secret(key, value):
            settings[key] = _secret_setting(key, value, raw, from_variable, where)
        elif isinstance(value, dict | list):
            settings[key] = _scrub(value, where, key)
        else:
            settings[key] = _literal(value)
    text = yaml.safe_dump({profile.name: {"engine": profile.engine, profile.engine: settings}}, sort_keys=True, allow_unicode=True)
    return "# Written by ffc: the compiled profile, settings fixed; secrets come from the worker's environment.\n" + text


def _outside_bundle(path: Path, bundle: Path, where: str) -> None:
    if path.resolve().is_relative_to(bundle.resolve()):
        raise ProfileError(
            f"profiles.yml {where} is {path}, inside the bundle folder {bundle}, which every compile replaces",
            location=Location("profiles.yml"),
            hint="keep data outside --out: a path relative to the project, or an absolute one elsewhere",
        )


def _is_secret(key: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if SECRET_KEY.search(key):
        return True
    if _URL.match(value) and "{{" not in value:
        dsn = parse_dsn(value, f"profiles.yml: {key}")
        return dsn.password is not None or bool(dsn.secret_keys)
    return bool(_KEYWORD_PASSWORD.search(value))


def _secret_setting(key: str, value: str, raw: Mapping[str, Any], from_variable: Mapping[str, str], where: str) -> str:
    """A secret's source, never its value: the profile's own template, the FF_* variable the
    compile read it from, or (a literal in profiles.yml) a variable named after the setting."""
    if key in from_variable:
        return f"{{{{ env_var('{from_variable[key]}') }}}}"
    written = raw.get(key)
    if isinstance(written, str) and _TEMPLATE.search(written):
        return str(_scrub(written, where, key))
    return str(_scrub(value, where, key))


def _literal(value: Any) -> Any:
    """A fixed value, written so the worker reads it as it is: text holding `{{` would be
    rendered there as a template, so it is written as a Jinja string literal."""
    if isinstance(value, str) and "{{" in value:
        return "{{ " + json.dumps(value) + " }}"
    return value


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
