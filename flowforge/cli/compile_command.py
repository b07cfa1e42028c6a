"""`ffc compile`: the plan handed to a target (`targets.target`), whose options make the flags.

The command's flags are the shared ones below plus every registered target's own, made from
the fields of its options dataclass (`option(...)`), so a new target brings its flags with it. A
flag of another target than the one chosen, set away from its default, is an error naming the
targets it is for.
"""

from __future__ import annotations

import inspect
import typing
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from flowforge.cli.app import (
    AllowOutsideOpt,
    CompileEnvOpt,
    EngineOpt,
    ProfilesDirOpt,
    ProjectArg,
    QuietOpt,
    SelectOpt,
    StrictOpt,
    VarsOpt,
    VerboseOpt,
    app,
    compile_at,
    session,
)
from flowforge_compiler.errors import SelectionError
from targets.target import Flag, TargetOptions, build_options, flags_of, targets


def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A Literal's values as the str-Enum Typer shows as choices."""
    return Enum(name, {v: v for v in values}, type=str)  # type: ignore[return-value]


def _flag_parameter(name: str, options: type[TargetOptions], flag: Flag, default: Any) -> inspect.Parameter:
    kind = typing.get_type_hints(options)[name]
    if typing.get_origin(kind) is typing.Literal:
        kind = _choices(name.title().replace("_", ""), typing.get_args(kind))
        default = kind(default)
    typer_option = typer.Option(*flag.names, help=flag.help, min=flag.min) if flag.min is not None else typer.Option(*flag.names, help=flag.help)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, typer_option])


def _target_parameters() -> list[inspect.Parameter]:
    """Every registered target's flags, once each (orchestrator targets share theirs)."""
    found: dict[str, inspect.Parameter] = {}
    for target in targets().values():
        for name, (field, flag) in flags_of(target.options).items():
            found.setdefault(name, _flag_parameter(name, target.options, flag, field.default))
    return list(found.values())


def _compile(
    project: Path,
    target: str,
    out: Path | None,
    env: str | None,
    profiles_dir: Path | None,
    engine: str | None,
    vars: str | None,
    select: list[str] | None,
    strict: bool,
    allow_outside: list[Path] | None,
    quiet: bool,
    verbose: int,
    **flags: Any,
) -> None:
    """Compile the project: plan.json (local), an Airflow DAG or a Prefect flow with its bundle, or the docs site."""
    from flowforge_compiler.selection import select_nodes

    console = session(quiet, verbose)
    chosen = targets()[target.value if isinstance(target, Enum) else target]
    compiled = compile_at(
        project, env, engine, vars, strict=strict, lineage=chosen.lineage, profiles_dir=profiles_dir, allow_outside=allow_outside
    )
    nodes = select_nodes(compiled.plan, select)
    if out is None and chosen.needs_out:
        raise SelectionError(f"--target {chosen.name} needs --out FOLDER")
    if chosen.needs_out and select and not nodes:
        console.print("Nothing to do: no node selected; nothing written.")
        return
    given = {name: value.value if isinstance(value, Enum) else value for name, value in flags.items()}
    profile = compiled.profile
    options = build_options(
        chosen, given,
        node_ids=tuple(nodes) if select else None,
        asset_namespace=profile.spec.asset_namespace(profile.engine_settings, compiled.root, profile.unresolved),
    )
    written = chosen.write(compiled.plan, compiled.root, out, profile, options)
    console.print(written.summary)


_REGISTERED: list[bool] = []


def register_compile_command() -> None:
    """Add `ffc compile` to the app, once. Its flags come from the targets' options, which load
    the plan's models, so it is registered when a command line asks for it (or for the command
    list) rather than on import: `ffc --version` and `ffc run` on a cached plan load no target."""
    if _REGISTERED:
        return
    _REGISTERED.append(True)
    names = tuple(targets())
    choice = _choices("TargetName", names)
    shared = [
        ("project", ProjectArg, Path(".")),
        ("target", Annotated[choice, typer.Option("--target", "-t", help=f"What to compile to: {', '.join(names)} (see the README).")], choice("local")),
        ("out", Annotated[Path | None, typer.Option("--out", help="Output folder (local: default PROJECT/.flowforge; airflow: the DAGs folder).")], None),
        ("env", CompileEnvOpt, None),
        ("profiles_dir", ProfilesDirOpt, None),
        ("engine", EngineOpt, None),
        ("vars", VarsOpt, None),
        ("select", SelectOpt, None),
        ("strict", StrictOpt, False),
        ("allow_outside", AllowOutsideOpt, None),
        ("quiet", QuietOpt, False),
        ("verbose", VerboseOpt, 0),
    ]
    parameters = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation) for name, annotation, default in shared]
    parameters += _target_parameters()

    def compile(**given: Any) -> None:
        _compile(**given)

    compile.__doc__ = _compile.__doc__
    compile.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    app.command("compile")(compile)
