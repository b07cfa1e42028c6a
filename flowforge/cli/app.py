"""The Typer app, the options every command shares, and loading + compiling a project once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flowforge.cli.console import Console, configure_logging
from flowforge_compiler import __version__
from flowforge_compiler.errors import ProjectFileError

if TYPE_CHECKING:  # the compiler is imported when a command runs, so `ffc --version` stays instant
    from flowforge_compiler.plan import Plan
    from flowforge_compiler.profiles import Profile

app = typer.Typer(
    name="ffc",
    help="FlowForge: model data in SQL and Python, compile once, run locally, in Airflow or in Prefect.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ProjectArg = Annotated[Path, typer.Argument(help="The project folder (holds project.yml).")]
_ENV_HELP = "Profile name in profiles.yml (default: 'default'); a dbt project's output (default: its profile's target)."
EnvOpt = Annotated[str | None, typer.Option("--env", "--target", help=_ENV_HELP)]
CompileEnvOpt = Annotated[str | None, typer.Option("--env", help=_ENV_HELP)]  # compile's --target names what it writes
ProfilesDirOpt = Annotated[
    Path | None, typer.Option("--profiles-dir", help="The folder holding profiles.yml (dbt projects: default $DBT_PROFILES_DIR, the project, ~/.dbt).")
]
EngineOpt = Annotated[str | None, typer.Option("--engine", help="Override the profile's engine.")]
VarsOpt = Annotated[str | None, typer.Option("--vars", help="Project vars as YAML, e.g. '{min_amount: 5}'.")]
SelectOpt = Annotated[
    list[str] | None, typer.Option("--select", "-s", help="Node names, +name, name+, tag:x (repeatable).")
]
JobsOpt = Annotated[int | None, typer.Option("--jobs", "-j", "--threads", min=1, help="How many to run at once (default: the profile's threads, else 1).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")]
VerboseOpt = Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v progress details, -vv debug + SQL.")]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="A model that reads a table no ref()/source() declares is an error, not a warning.")
]
AllowOutsideOpt = Annotated[
    list[Path] | None,
    typer.Option("--allow-outside", help="A folder outside the project that its streams may read (repeatable), besides the profile's allow_outside."),
]
LockTimeoutOpt = Annotated[
    float, typer.Option("--lock-timeout", min=0, help="Seconds to wait for a DuckDB file another process holds.")
]

# -q/-v given before the command (`ffc -v ls`); set by the root callback on every invocation.
_GLOBAL_VERBOSITY = {"quiet": False, "verbose": 0}


@dataclass
class Compiled:
    root: Path  # the project folder, resolved
    profile: Profile
    plan: Plan
    profiles_dir: Path | None = None  # --profiles-dir, for profiles resolved again (another engine)


def session(quiet: bool, verbose: int) -> Console:
    """Set up logging for -q/-v/-vv (before or after the command) and return the console."""
    quiet = quiet or bool(_GLOBAL_VERBOSITY["quiet"])
    verbose = max(verbose, int(_GLOBAL_VERBOSITY["verbose"]))
    configure_logging(-1 if quiet else verbose)
    return Console(quiet=quiet)


def parse_vars(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    from flowforge_compiler.yaml_files import parse_yaml

    value, _ = parse_yaml(text, "--vars")
    if not isinstance(value, dict):
        raise ProjectFileError("--vars must be a mapping, e.g. '{min_amount: 5}'")
    return value


def compile_at(
    project_dir: Path,
    env: str | None,
    engine: str | None,
    vars_text: str | None,
    *,
    strict: bool = False,
    lineage: bool = False,
    profiles_dir: Path | None = None,
    allow_outside: list[Path] | None = None,
    empty: bool = False,
) -> Compiled:
    from flowforge_compiler.paths import project_root
    from flowforge_compiler.plan_cache import compile_cached
    from flowforge_compiler.profiles import resolve_profile

    root = project_root(project_dir)
    profile = resolve_profile(root, env, engine=engine, profiles_dir=profiles_dir).allowing(allow_outside or [], root)
    plan = compile_cached(root, profile, vars=parse_vars(vars_text), strict=strict, lineage=lineage, empty=empty)
    return Compiled(root, profile, plan, profiles_dir)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ffc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """FlowForge compiler and runner."""
    _GLOBAL_VERBOSITY.update(quiet=quiet, verbose=verbose)
