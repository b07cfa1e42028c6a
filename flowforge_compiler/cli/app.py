"""The Typer app, the options every command shares, and loading + compiling a project once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from flowforge_compiler import __version__
from flowforge_compiler.cli.console import Console, configure_logging
from flowforge_compiler.compile import compile_project
from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile, resolve_profile
from flowforge_compiler.project import Project, load_project

app = typer.Typer(
    name="ffc",
    help="FlowForge: model data in SQL and Python, compile once, run locally, in Airflow or in Prefect.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ProjectArg = Annotated[Path, typer.Argument(help="The project folder (holds project.yml).")]
EnvOpt = Annotated[str | None, typer.Option("--env", help="Profile name in profiles.yml (default: 'default').")]
EngineOpt = Annotated[str | None, typer.Option("--engine", help="Override the profile's engine.")]
VarsOpt = Annotated[str | None, typer.Option("--vars", help="Project vars as YAML, e.g. '{min_amount: 5}'.")]
SelectOpt = Annotated[
    list[str] | None, typer.Option("--select", "-s", help="Node names, +name, name+, tag:x (repeatable).")
]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="How many to run at once.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")]
VerboseOpt = Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v progress details, -vv debug + SQL.")]


@dataclass
class Compiled:
    project: Project
    profile: Profile
    plan: Plan


def session(quiet: bool, verbose: int) -> Console:
    """Set up logging for -q/-v/-vv and return the console for the command's output."""
    configure_logging(-1 if quiet else verbose)
    return Console(quiet=quiet)


def parse_vars(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProjectFileError(f"--vars is not valid YAML: {exc}") from exc
    if not isinstance(value, dict):
        raise ProjectFileError("--vars must be a mapping, e.g. '{min_amount: 5}'")
    return value


def compile_at(project_dir: Path, env: str | None, engine: str | None, vars_text: str | None) -> Compiled:
    project = load_project(project_dir)
    profile = resolve_profile(project.root, env, engine=engine)
    plan = compile_project(project, profile, vars=parse_vars(vars_text))
    return Compiled(project, profile, plan)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ffc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """FlowForge compiler and runner."""
