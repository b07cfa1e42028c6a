"""profiles.yml: engine settings per environment, resolved as profiles.yml < FF_* env < CLI flags.

Secrets stay out of plans: values may use `{{ env_var('NAME') }}`. A variable that is not set
does not stop a compile (CI builds DAGs without production credentials): the setting keeps its
template and is listed in `Profile.unresolved`, and opening a connection insists on it
(`require_resolved`), on the laptop for `ffc run`, in the worker for orchestrated runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field

from flowforge_compiler.dbt_profiles import PROFILES_DIR_VARIABLE, THREADS, DbtOutput, profiles_file, read_dbt_output
from flowforge_compiler.dsn import url_part
from flowforge_compiler.engine_sdk import DEFAULT_ENGINE, EngineSpec, engines
from flowforge_compiler.engine_sdk import engine as engine_spec
from flowforge_compiler.errors import Location, ProfileError, ProjectFileError
from flowforge_compiler.paths import is_dbt_project
from flowforge_compiler.yaml_files import line_of, read_yaml, validate


@dataclass(frozen=True)
class Profile:
    """A resolved profile: its name plus validated engine settings (may hold secrets).

    `unresolved` maps a setting (`postgres.dsn`) to the environment variable its env_var()
    needs and that was not set; the setting still holds the template. `overridden` maps a
    setting to the `FF_*` variable that set it.
    """

    name: str
    settings: BaseModel  # the engine's profile model: `engine` plus its settings block
    unresolved: Mapping[str, str] = field(default_factory=dict)
    overridden: Mapping[str, str] = field(default_factory=dict)
    written: Mapping[str, Any] = field(default_factory=dict)  # the engine block as the file has it, templates unrendered
    # Path settings (`path`) given relative (to the project, or to the working folder for an
    # FF_* variable) or left at a relative default: a bundle writes them relative to itself.
    relative_paths: frozenset[str] = frozenset()
    # Folders outside the project that streams may read: `allow_outside:` in profiles.yml (relative
    # to the project) and `--allow-outside` (relative to the working folder), as written.
    allow_outside: tuple[str, ...] = ()
    threads: int | None = None  # how many nodes build at once when --jobs (--threads) is not given

    @property
    def engine(self) -> str:
        return str(self.settings.engine)  # type: ignore[attr-defined]

    @property
    def spec(self) -> EngineSpec:
        return engine_spec(self.engine)

    @property
    def engine_settings(self) -> Any:
        return getattr(self.settings, self.engine)

    @property
    def dialect(self) -> str:
        """The engine's SQL dialect (sqlglot's name for it)."""
        return self.spec.dialect

    def with_engine_settings(self, **updates: Any) -> Profile:
        """The profile with some engine settings replaced (and no longer unresolved)."""
        block = self.engine_settings.model_copy(update=updates)
        unresolved = {k: v for k, v in self.unresolved.items() if k.split(".", 1)[1] not in updates}
        overridden = {k: v for k, v in self.overridden.items() if k.split(".", 1)[1] not in updates}
        return replace(
            self,
            settings=self.settings.model_copy(update={self.engine: block}),
            unresolved=unresolved,
            overridden=overridden,
            relative_paths=self.relative_paths - set(updates),
        )

    def allowing(self, folders: Sequence[Path], project_dir: Path) -> Profile:
        """The profile with `--allow-outside` folders added: relative ones (to the working
        folder) are kept relative, to the project, as profiles.yml writes them."""
        added = tuple(str(f) if f.is_absolute() else os.path.relpath(f.resolve(), project_dir.resolve()) for f in folders)
        return replace(self, allow_outside=(*self.allow_outside, *added))

    def require_resolved(self) -> None:
        """Raise, naming every variable, when settings still wait for unset variables."""
        if self.unresolved:
            raise _missing_variable(self.unresolved, self.name)

    def target(self) -> Target:
        """`target` in Jinja, as dbt users write it: name, type, schema, database, dialect."""
        schema, database = self.spec.target(self.engine_settings, self.unresolved)
        return Target(name=self.name, type=self.engine, schema=schema, database=database, dialect=self.dialect)

    def location(self, project_dir: Path) -> dict[str, str]:
        """Where the data lives (never credentials): part of every fingerprint, so builds in one
        place never count as builds in another."""
        return self.spec.location(self.engine_settings, project_dir, self.unresolved)


@dataclass(frozen=True)
class Target:
    """What `{{ target.* }}` reads in a model; None where the profile does not say."""

    name: str
    type: str
    schema: str | None
    database: str | None
    dialect: str


def _missing_variable(unresolved: Mapping[str, str], profile: str) -> ProfileError:
    """`unresolved` maps settings to the variables (comma-separated) they wait for."""
    variables = sorted({v for names in unresolved.values() for v in names.split(",")})
    settings = ", ".join(sorted(unresolved))
    what = f"environment variable {variables[0]!r} is" if len(variables) == 1 else (
        "environment variables " + ", ".join(map(repr, variables)) + " are"
    )
    return ProfileError(
        f"{what} not set (used by env_var() in {settings} of profiles.yml (profile {profile!r}))",
        hint=f"export {variables[0]}=... or give env_var() a default: env_var({variables[0]!r}, '...')",
    )


def resolve_profile(
    project_dir: Path,
    env_name: str | None = None,
    *,
    engine: str | None = None,
    environ: Mapping[str, str] | None = None,
    profiles_path: Path | None = None,
    profiles_dir: Path | None = None,
    overrides: bool = True,
) -> Profile:
    """Resolve the active profile: `--env NAME`, else `default`, else an in-memory DuckDB. A dbt
    project's comes from dbt's profiles.yml (dbt_profiles.py): its output `--env NAME`, else
    the profile's `target:`. `profiles_dir` is `--profiles-dir`: where profiles.yml is.

    Variables that env_var() needs but that are not set leave their settings unresolved. With
    `overrides` off, `FF_*` variables change nothing (a bundle's profile was fixed when it was
    compiled; only its env_var() templates are read where it runs).
    """
    environ = os.environ if environ is None else environ
    name = env_name or "default"
    unresolved: dict[str, str] = {}
    overridden: dict[str, str] = {}
    dbt_project = profiles_path is None and is_dbt_project(project_dir)
    if profiles_path is None and profiles_dir is not None and not dbt_project:
        profiles_path = profiles_dir / "profiles.yml"
    dbt = _dbt_output(project_dir, env_name, profiles_dir, environ) if dbt_project else None
    prefix: tuple[str, ...]
    if dbt is not None:
        name, written, root_node, prefix, display = dbt.name, dbt.raw, None, (), dbt.where.path
    else:
        written, root_node = _read_profile(profiles_path or project_dir / "profiles.yml", name, env_name)
        prefix, display = ((name,) if root_node else ()), "profiles.yml"
    raw = _render(written, environ, name, "", unresolved)
    allow_outside = _allowed_folders(raw.pop(ALLOW_OUTSIDE, None), root_node, prefix, display)
    threads = _threads(raw.pop(THREADS, None), root_node, prefix, display)
    relative: set[str] = set()
    raw = _apply_overrides(
        _relative_paths(raw, project_dir, unresolved, relative), environ if overrides else {}, engine, unresolved, overridden, relative
    )
    _require_engine_block(raw, name)
    try:
        settings = validate(engine_profile_union(), raw, display, root_node, prefix=prefix)
    except ProjectFileError:
        if unresolved:  # a template where a number or flag belongs: the variables are the problem
            raise _missing_variable(unresolved, name) from None
        raise
    settings = _defaults_in_project(settings, project_dir, unresolved, relative)
    mine = settings.engine + "."
    block = written.get(settings.engine) if isinstance(written, dict) else None
    return Profile(
        name=name,
        settings=settings,
        unresolved={k: v for k, v in unresolved.items() if k.startswith(mine)},
        overridden={k: v for k, v in overridden.items() if k.startswith(mine)},
        written=dict(block) if isinstance(block, dict) else {},
        relative_paths=frozenset(k.split(".", 1)[1] for k in relative if k.startswith(mine)),
        allow_outside=allow_outside,
        threads=threads,
    )


ALLOW_OUTSIDE = "allow_outside"  # a profile's own key, beside `engine` and the engine's block


def _threads(value: Any, root_node: Any, prefix: tuple[str, ...], display: str) -> int | None:
    """`threads:` (a dbt output's too): how many nodes a run builds at once when --jobs is not given."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ProfileError(
            f"{THREADS} must be a whole number of 1 or more, not {value!r}",
            location=Location(display, line_of(root_node, (*prefix, THREADS))),
            hint="how many nodes build at once, as --jobs",
        )
    return value


def _allowed_folders(value: Any, root_node: Any, prefix: tuple[str, ...], display: str) -> tuple[str, ...]:
    """`allow_outside:`: a list of folders (relative to the project, or absolute)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        line = line_of(root_node, (*prefix, ALLOW_OUTSIDE))
        raise ProfileError(
            f"{ALLOW_OUTSIDE} must be a list of folders, e.g. [/var/log/web]",
            location=Location(display, line),
            hint="folders outside the project that its streams may read; relative ones are relative to the project",
        )
    return tuple(value)


def _dbt_output(project_dir: Path, target: str | None, profiles_dir: Path | None, environ: Mapping[str, str]) -> DbtOutput | None:
    """A dbt project's output from dbt's profiles.yml; None when it has none (an in-memory DuckDB
    then, as for any project without profiles, unless a target was asked for)."""
    path = profiles_file(project_dir, profiles_dir, environ)
    if path is None:
        if target and target != "default":
            raise ProfileError(
                f"target {target!r} requested but no dbt profiles.yml was found",
                hint=f"put profiles.yml in the project folder or ~/.dbt/, or pass --profiles-dir (or set ${PROFILES_DIR_VARIABLE})",
            )
        return None
    from flowforge_compiler.dbt_project import read_dbt_project

    data = read_dbt_project(project_dir, warn=False)[0]
    return read_dbt_output(path, project_dir, str(data.get("profile") or data["name"]), target)


def engine_profile_union() -> Any:
    """The discriminated union of every registered engine's profile model (keyed by `engine`)."""
    models = tuple(spec.profile for spec in engines().values())
    return Annotated[Union[models], Field(discriminator="engine")]  # noqa: UP007 - built at run time


def _require_engine_block(raw: dict[str, Any], name: str) -> None:
    spec = engine_spec(raw["engine"])
    if spec.block_hint and not raw.get(spec.name):
        raise ProfileError(
            f"profile {name!r} uses the {spec.name} engine but has no {spec.name} settings",
            hint=spec.block_hint,
        )


def _read_profile(path: Path, name: str, requested: str | None) -> tuple[dict[str, Any], Any]:
    """The named profile's settings as written (templates unrendered), and the file's node tree."""
    if not path.exists():
        if requested and requested != "default":
            raise ProfileError(
                f"profile {requested!r} requested but the project has no profiles.yml",
                hint="create profiles.yml next to project.yml, or drop --env to use an in-memory DuckDB",
            )
        return {}, None
    data, root_node = read_yaml(path, "profiles.yml")
    data = data or {}
    if not isinstance(data, dict):
        raise ProfileError("profiles.yml must map profile names to settings", location=Location("profiles.yml", 1))
    if name not in data:
        if requested:
            known = ", ".join(sorted(map(str, data))) or "none"
            raise ProfileError(
                f"profile {requested!r} is not defined in profiles.yml (defined: {known})",
                location=Location("profiles.yml"),
            )
        return {}, None
    raw = data[name]
    if not isinstance(raw, dict):
        raise ProfileError(f"profile {name!r} must be a mapping", location=Location("profiles.yml"))
    return raw, root_node


def _render(value: Any, environ: Mapping[str, str], profile: str, path: str, unresolved: dict[str, str]) -> Any:
    """Render `{{ env_var(...) }}` in every string of the profile, recursively; a string whose
    variable is not set keeps its template and is recorded in `unresolved` by its key path."""
    if isinstance(value, dict):
        return {k: _render(v, environ, profile, f"{path}.{k}".lstrip("."), unresolved) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, environ, profile, path, unresolved) for v in value]
    if isinstance(value, str) and "{{" in value:
        import jinja2  # only for a profile that has templates

        from flowforge_compiler.jinja_sandbox import ProjectSandbox

        missing: list[str] = []
        env = ProjectSandbox(undefined=jinja2.StrictUndefined, autoescape=False)
        env.globals["env_var"] = _env_var_reader(environ, missing)
        env.filters.update(_FILTERS)
        try:
            rendered = env.from_string(value).render()
        except jinja2.TemplateError as exc:
            raise ProfileError(f"profile {profile!r}: {path}: {exc}", location=Location("profiles.yml")) from exc
        if missing:
            unresolved[path] = ",".join(dict.fromkeys(missing))
            return value
        return rendered
    return value


# dbt profiles' filters (the settings models convert text, so the type casts pass values on),
# and those engines' dbt mappings write where they build a URL or a JSON text from an output's parts.
_FILTERS = {
    "as_number": lambda v: v, "as_bool": lambda v: v, "as_native": lambda v: v, "as_text": str,
    "url_part": url_part,
    "json_text": lambda v: json.dumps(str(v))[1:-1],  # a value inside a JSON string (a key file built from parts)
}  # fmt: skip


def _env_var_reader(environ: Mapping[str, str], missing: list[str]) -> Any:
    def env_var(name: str, default: str | None = None) -> str:
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    return env_var


def _path_keys() -> set[tuple[str, str]]:
    return {(spec.name, key) for spec in engines().values() for key in spec.path_keys}


def _relative_paths(raw: dict[str, Any], project_dir: Path, unresolved: Mapping[str, str], relative: set[str]) -> dict[str, Any]:
    """Paths written in profiles.yml are relative to the project folder; `relative` collects them."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for block, key in _path_keys():
        value = out.get(block, {}).get(key) if isinstance(out.get(block), dict) else None
        if f"{block}.{key}" in unresolved:
            continue
        if isinstance(value, str) and value != ":memory:" and not Path(value).is_absolute():
            out[block][key] = str((project_dir / value).resolve())
            relative.add(f"{block}.{key}")
    return out


def _defaults_in_project(settings: Any, project_dir: Path, unresolved: Mapping[str, str], relative: set[str]) -> Any:
    """A path setting left at its default (relative) lives in the project folder too."""
    spec = engine_spec(settings.engine)
    block = getattr(settings, spec.name)
    updates = {}
    for key in spec.path_keys:
        value = getattr(block, key)
        if isinstance(value, str) and value != ":memory:" and not Path(value).is_absolute() and f"{spec.name}.{key}" not in unresolved:
            updates[key] = str((project_dir / value).resolve())
            relative.add(f"{spec.name}.{key}")
    return settings.model_copy(update={spec.name: block.model_copy(update=updates)}) if updates else settings


def _apply_overrides(
    raw: dict[str, Any],
    environ: Mapping[str, str],
    engine: str | None,
    unresolved: dict[str, str],
    overridden: dict[str, str],
    relative: set[str],
) -> dict[str, Any]:
    """FF_* environment variables override profiles.yml; the CLI's --engine overrides both."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    if environ.get("FF_ENGINE"):
        out["engine"] = environ["FF_ENGINE"]
    if engine:
        out["engine"] = engine
    out.setdefault("engine", DEFAULT_ENGINE)
    known = engines()
    if out["engine"] not in known:
        raise ProfileError(
            f"unknown engine {out['engine']!r}",
            location=Location("profiles.yml") if raw else None,
            hint=f"use one of: {', '.join(known)}",
        )
    spec = known[out["engine"]]
    for variable, key in spec.overrides.items():
        if variable in environ:
            value: Any = environ[variable]
            relative.discard(f"{spec.name}.{key}")
            if key in spec.path_keys and value != ":memory:":
                if not Path(value).is_absolute():
                    relative.add(f"{spec.name}.{key}")
                value = str(Path(value).resolve())
            section = out.setdefault(spec.name, {})
            if not isinstance(section, dict):
                section = out[spec.name] = {}
            section[key] = value  # text: the settings model converts it (a flag from "1", say)
            unresolved.pop(f"{spec.name}.{key}", None)
            overridden[f"{spec.name}.{key}"] = variable
    # A profile switched to another engine keeps only that engine's block.
    return {k: v for k, v in out.items() if k == "engine" or k == spec.name or k not in known}


def ff_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """All FF_* variables."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in sorted(environ.items()) if k.startswith("FF_")}


def fingerprinted_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The FF_* variables of a node's environment context: all but FF_ENGINE and the engines'
    settings overrides (FF_PG_DSN, ...), whose effect the fingerprint holds as the engine and
    where the data lives; so a credential in one never enters it, and rotating it rebuilds
    nothing."""
    settings = {"FF_ENGINE", *(variable for spec in engines().values() for variable in spec.overrides)}
    return {k: v for k, v in ff_environment(environ).items() if k not in settings}
