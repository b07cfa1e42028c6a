"""dbt's profiles.yml, kept where and as dbt users keep it, read into FlowForge's profile shape.

Where: `--profiles-dir`, else `$DBT_PROFILES_DIR`, else the project folder, else `~/.dbt/`
(dbt's order, with the project folder standing for the folder dbt is run from). Which: the
profile dbt_project.yml names (`profile:`), its output `--target`/`--env`, else its `target:`.
How: the output's `type:` picks the engine that declares it (`EngineSpec.dbt_types`); that engine
maps the output's keys onto its settings. Templates stay unrendered here: profiles.py renders
them like its own, so an unset variable waits for the worker and a secret never lands in a bundle.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowforge_compiler.engine_sdk import engines
from flowforge_compiler.errors import Location, ProfileError
from flowforge_compiler.yaml_files import line_of, read_yaml

log = logging.getLogger("flowforge")

PROFILES_DIR_VARIABLE = "DBT_PROFILES_DIR"


THREADS = "threads"  # a profile's own key, beside `engine`: how many nodes build at once (--jobs)


@dataclass(frozen=True)
class DbtOutput:
    """One output of a dbt profile, in FlowForge's shape: `{engine: name, name: settings}`."""

    name: str  # the output (dbt's target name): the FlowForge profile's name
    raw: dict[str, Any]
    where: Location  # the output in its file, for messages


def profiles_file(root: Path, profiles_dir: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The profiles.yml dbt would read for a project in `root`; None when there is none."""
    if profiles_dir is not None or environ.get(PROFILES_DIR_VARIABLE):
        folder = Path(profiles_dir or environ[PROFILES_DIR_VARIABLE]).expanduser()
        where = "--profiles-dir" if profiles_dir is not None else f"${PROFILES_DIR_VARIABLE}"
        if not (folder / "profiles.yml").is_file():
            raise ProfileError(f"{where} is {folder}, which holds no profiles.yml", hint="point it at the folder that holds profiles.yml")
        return folder / "profiles.yml"
    for folder in (root, Path(environ.get("HOME", "~")).expanduser() / ".dbt"):
        if (folder / "profiles.yml").is_file():
            return folder / "profiles.yml"
    return None


def read_dbt_output(path: Path, root: Path, profile: str, target: str | None) -> DbtOutput:
    """The chosen output of `profile` in the dbt profiles file `path`, as FlowForge settings."""
    shown = path.name if path.parent == root else str(path)
    data, node = read_yaml(path, shown)
    entry = data.get(profile) if isinstance(data, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("outputs"), dict):
        known = ", ".join(sorted(str(k) for k in data if k != "config")) if isinstance(data, dict) else "none"
        raise ProfileError(
            f"{shown} has no profile {profile!r} with outputs (dbt_project.yml's `profile:` names it; defined: {known or 'none'})",
            location=Location(shown, 1),
            hint=f"add `{profile}: {{target: dev, outputs: {{dev: {{type: duckdb, path: {profile}.duckdb}}}}}}`",
        )
    outputs: dict[str, Any] = entry["outputs"]
    name = target or entry.get("target")
    if not isinstance(name, str) or "{{" in name:
        raise ProfileError(
            f"profile {profile!r} in {shown} names no default target" if not name else f"profile {profile!r}: target {name!r} is a template",
            location=Location(shown, line_of(node, (profile,))),
            hint=f"pass --target (one of {', '.join(sorted(map(str, outputs)))}), or write `target:` as a name",
        )
    if name not in outputs or not isinstance(outputs[name], dict):
        raise ProfileError(
            f"profile {profile!r} in {shown} has no output {name!r} (outputs: {', '.join(sorted(map(str, outputs)))})",
            location=Location(shown, line_of(node, (profile, "outputs"))),
        )
    where = Location(shown, line_of(node, (profile, "outputs", name)))
    return DbtOutput(name, _engine_settings(dict(outputs[name]), name, where), where)


def _engine_settings(output: dict[str, Any], name: str, where: Location) -> dict[str, Any]:
    kind = output.pop("type", None)
    by_type = {t: spec for spec in engines().values() for t in spec.dbt_types if spec.from_dbt is not None}
    spec = by_type.get(str(kind))
    if spec is None or spec.from_dbt is None:
        raise ProfileError(
            f"output {name!r} has type {kind!r}, which FlowForge cannot read from a dbt profile",
            location=where,
            hint=f"FlowForge reads dbt outputs of type {', '.join(sorted(by_type))}; for others write a FlowForge profiles.yml",
        )
    threads = output.get("threads")  # dbt's: how many models build at once (the profile's, as --jobs)
    settings, unread = spec.from_dbt(output)
    if unread:
        log.warning("%s: output %r: %s not read by FlowForge's %s engine", where, name, ", ".join(unread), spec.name)
    return {"engine": spec.name, spec.name: settings, **({THREADS: threads} if threads is not None else {})}

