"""The `ffc` command (alias `flowforge`): load, compile, and hand the plan to a target."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from flowforge_compiler import __version__
from flowforge_compiler.cli.check_report import print_check_summary
from flowforge_compiler.cli.console import Console, configure_logging
from flowforge_compiler.cli.progress import RunProgress, failures_exit_code, print_summary
from flowforge_compiler.compile import compile_project
from flowforge_compiler.errors import (
    EXIT_PROJECT_ERROR,
    EXIT_TEST_FAILURE,
    EXIT_UNEXPECTED,
    FlowForgeError,
    ProfileError,
    ProjectFileError,
    SelectionError,
)
from flowforge_compiler.authoring import relation_for
from flowforge_compiler.graph import mermaid
from flowforge_compiler.plan import Plan, plan_json_schema
from flowforge_compiler.profiles import Profile, resolve_profile
from flowforge_compiler.project import Project, load_project
from flowforge_compiler.selection import select_checks, select_nodes
from flowforge_compiler.unit_test_file import UnitTestCase, load_unit_tests

if TYPE_CHECKING:
    from runtime.unit_tests import CaseResult

try:  # Typer >= 0.25 bundles its own click
    from typer._click.exceptions import ClickException as UsageError
except ImportError:  # pragma: no cover - older Typer on top of click
    from click.exceptions import ClickException as UsageError  # type: ignore[assignment]

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
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")]
VerboseOpt = Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v progress details, -vv debug + SQL.")]


class Target(str, Enum):
    local = "local"


@dataclass
class Compiled:
    project: Project
    profile: Profile
    plan: Plan


def _session(quiet: bool, verbose: int) -> Console:
    configure_logging(-1 if quiet else verbose)
    return Console(quiet=quiet)


def _parse_vars(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProjectFileError(f"--vars is not valid YAML: {exc}") from exc
    if not isinstance(value, dict):
        raise ProjectFileError("--vars must be a mapping, e.g. '{min_amount: 5}'")
    return value


def _compile(project_dir: Path, env: str | None, engine: str | None, vars_text: str | None) -> Compiled:
    project = load_project(project_dir)
    profile = resolve_profile(project.root, env, engine=engine)
    plan = compile_project(project, profile, vars=_parse_vars(vars_text))
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


@app.command()
def compile(
    project: ProjectArg = Path("."),
    target: Annotated[Target, typer.Option("--target", "-t", help="What to compile to.")] = Target.local,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: PROJECT/.flowforge).")] = None,
    env: EnvOpt = None,
    engine: EngineOpt = None,
    vars: VarsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Compile the project into plan.json (the plan every target runs)."""
    console = _session(quiet, verbose)
    compiled = _compile(project, env, engine, vars)
    destination = (out or compiled.project.root / ".flowforge") / "plan.json"
    compiled.plan.write(destination)
    console.print(f"Compiled {len(compiled.plan.nodes)} nodes for profile {compiled.profile.name!r} -> {destination}")


@app.command()
def run(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    engine: EngineOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Nodes built at once within a level.")] = 1,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", help="On failure, finish the current level before stopping.")
    ] = False,
    select: SelectOpt = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild incremental models whole.")] = False,
    vars: VarsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Build seeds and models level by level (the local target)."""
    console = _session(quiet, verbose)
    compiled = _compile(project, env, engine, vars)
    _execute(console, compiled, select_nodes(compiled.plan, select), jobs, keep_going, full_refresh)


@app.command()
def seed(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    engine: EngineOpt = None,
    select: SelectOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Load the seeds (CSV, Parquet, SQL) into the profile's engine."""
    console = _session(quiet, verbose)
    compiled = _compile(project, env, engine, None)
    nodes = compiled.plan.node_map()
    chosen = [n for n in select_nodes(compiled.plan, select) if nodes[n].kind == "seed"]
    _execute(console, compiled, chosen, 1, False, False)


def _execute(
    console: Console,
    compiled: Compiled,
    node_ids: list[str],
    jobs: int,
    keep_going: bool,
    full_refresh: bool,
    *,
    checks: bool = False,
) -> None:
    from runtime import open_executor
    from targets.local import LevelScheduler

    if not node_ids:
        console.print("Nothing to do: no node selected.")
        return
    console.print(
        f"Running {len(node_ids)} nodes of {compiled.plan.project.name!r} on {compiled.profile.engine} "
        f"(profile {compiled.profile.name!r}, {jobs} job{'s' if jobs != 1 else ''})"
    )
    with open_executor(compiled.profile) as executor, RunProgress(console, len(node_ids)) as progress:
        scheduler = LevelScheduler(
            compiled.plan,
            executor,
            compiled.project.root,
            jobs=jobs,
            keep_going=keep_going,
            full_refresh=full_refresh,
            run_checks=checks,
            reporter=progress,
        )
        summary = scheduler.run(node_ids)
    if checks and summary.checks:
        console.print("")
        print_check_summary(console, summary.checks)
    print_summary(console, summary)
    code = failures_exit_code(list(summary.errors.values()))
    if code == 0 and summary.failed_checks:
        code = EXIT_TEST_FAILURE
    if code:
        raise typer.Exit(code)


@app.command()
def test(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    engine: EngineOpt = None,
    select: Annotated[
        list[str] | None, typer.Option("--select", "-s", help="Check tags (batch or tag:batch), ids or tables.")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Checks run at once.")] = 1,
    vars: VarsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Run the data-quality checks of project.yml against the built tables."""
    from concurrent.futures import ThreadPoolExecutor

    from runtime import open_executor, run_check

    console = _session(quiet, verbose)
    compiled = _compile(project, env, engine, vars)
    checks = select_checks(compiled.plan, select)
    if not checks:
        console.print("No checks defined in project.yml.")
        return
    with open_executor(compiled.profile) as executor, ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda check: run_check(check, executor), checks))
    print_check_summary(console, results)
    if any(r.blocking for r in results):
        raise typer.Exit(EXIT_TEST_FAILURE)


@app.command()
def build(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    engine: EngineOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Nodes built at once within a level.")] = 1,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", help="On failure, finish the current level before stopping.")
    ] = False,
    select: SelectOpt = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild incremental models whole.")] = False,
    vars: VarsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Build and check, interleaved: each node's checks run right after it is built."""
    console = _session(quiet, verbose)
    compiled = _compile(project, env, engine, vars)
    _execute(console, compiled, select_nodes(compiled.plan, select), jobs, keep_going, full_refresh, checks=True)


@app.command()
def utest(
    project: ProjectArg = Path("."),
    model: Annotated[str | None, typer.Option("--model", help="Only the specs of this model.")] = None,
    case: Annotated[str | None, typer.Option("--case", help="Only the case with this name.")] = None,
    path: Annotated[list[Path] | None, typer.Option("--path", help="Only this spec file (repeatable).")] = None,
    env: EnvOpt = None,
    engine: EngineOpt = None,
    vars: VarsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Run model unit tests (tests/unit/*.yml): each model alone, on given inputs, isolated."""
    console = _session(quiet, verbose)
    compiled = _compile(project, env, None, vars)
    cases = load_unit_tests(compiled.project.root, [p if p.is_absolute() else Path.cwd() / p for p in path] if path else None)
    if model:
        cases = [c for c in cases if c.model == model or relation_for(c.model) == relation_for(model)]
    if case:
        cases = [c for c in cases if c.name == case]
    if not cases:
        raise SelectionError(
            "no unit test case matches" + (f" --model {model}" if model else "") + (f" --case {case}" if case else ""),
            hint="specs live in tests/unit/*.yml",
        )
    results = [run_unit_case(compiled, c, engine) for c in cases]
    for result in results:
        console.print(f"→ {result.model} :: {result.case}")
        if result.ok:
            console.print(f"  ✅ passed ({result.seconds * 1000:.0f}ms)", style="green")
        else:
            console.print(f"  ❌ {result.reason}", style="red")
            if result.diff:
                console.print(result.diff)
    failed = sum(1 for r in results if not r.ok)
    console.print("")
    console.print(f"Unit tests: {len(results) - failed} passed, {failed} failed", style="bold")
    if failed:
        raise typer.Exit(EXIT_TEST_FAILURE)


def run_unit_case(compiled: Compiled, case: UnitTestCase, engine: str | None) -> CaseResult:
    """One case on a fresh, isolated engine: an in-memory DuckDB, never the run's database."""
    from flowforge_compiler.profiles import DuckDBProfile
    from runtime import open_executor
    from runtime.unit_tests import run_case

    chosen = engine or case.engine or compiled.profile.engine
    if chosen != "duckdb":
        raise ProfileError(
            f"unit tests on the {chosen} engine are not available in this version",
            hint="run them on an isolated in-memory DuckDB: --engine duckdb",
        )
    isolated = Profile(name="utest", settings=DuckDBProfile(engine="duckdb"))
    with open_executor(isolated) as executor:
        return run_case(compiled.plan, case, executor, compiled.project.root)


@app.command("ls")
def list_nodes(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    engine: EngineOpt = None,
    select: SelectOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """List nodes with kind, materialization and dependencies, in build order."""
    console = _session(quiet, verbose)
    compiled = _compile(project, env, engine, None)
    nodes = compiled.plan.node_map()
    rows = [("NAME", "KIND", "MATERIALIZATION", "DEPENDS ON")]
    for node_id in select_nodes(compiled.plan, select):
        node = nodes[node_id]
        rows.append((node.id, node.kind, node.materialization, ", ".join(node.depends_on) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        console.result("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])


@app.command()
def dag(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    engine: EngineOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Print the dependency graph as Mermaid text."""
    console = _session(quiet, verbose)
    compiled = _compile(project, env, engine, None)
    deps = {n.id: n.depends_on for n in compiled.plan.nodes}
    console.result(mermaid(deps, {n.id: n.kind for n in compiled.plan.nodes}).rstrip("\n"))


@app.command("plan-schema")
def plan_schema() -> None:
    """Print the JSON Schema of plan.json."""
    sys.stdout.write(plan_json_schema())


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps every outcome to the spec's exit codes (1 project, 2 checks, 99 unexpected)."""
    try:
        code = app(args=argv, standalone_mode=False)
    except typer.Abort:
        sys.exit(130)
    except UsageError as exc:
        exc.show()
        sys.exit(EXIT_PROJECT_ERROR)
    except FlowForgeError as exc:
        Console().error(exc)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: report, never a raw traceback
        Console().error(exc)
        sys.exit(EXIT_UNEXPECTED)
    sys.exit(code if isinstance(code, int) else 0)
