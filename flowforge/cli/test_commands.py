"""Commands that test: `test` (data-quality checks) and `utest` (model unit tests)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flowforge.cli.app import (
    Compiled,
    EngineOpt,
    EnvOpt,
    JobsOpt,
    LockTimeoutOpt,
    ProfilesDirOpt,
    ProjectArg,
    QuietOpt,
    VarsOpt,
    VerboseOpt,
    app,
    compile_at,
    session,
)
from flowforge_compiler.authoring import relation_for
from flowforge_compiler.errors import EXIT_TEST_FAILURE

if TYPE_CHECKING:
    from flowforge_compiler.unit_test_file import UnitTestCase
    from runtime.unit_tests import CaseResult

log = logging.getLogger("flowforge")


@app.command()
def test(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    select: Annotated[
        list[str] | None, typer.Option("--select", "-s", help="Check tags (batch or tag:batch), ids or tables.")
    ] = None,
    jobs: JobsOpt = None,
    vars: VarsOpt = None,
    lock_timeout: LockTimeoutOpt = 60.0,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Run the data-quality checks of project.yml against the built tables."""
    from concurrent.futures import ThreadPoolExecutor

    from flowforge.cli.check_report import print_check_summary
    from flowforge_compiler.selection import select_checks
    from runtime import open_executor, run_check

    console = session(quiet, verbose)
    compiled = compile_at(project, env, engine, vars, profiles_dir=profiles_dir)
    checks = select_checks(compiled.plan, select)
    if not checks:
        console.print("Nothing to do: no check selected." if compiled.plan.checks else "No checks defined in project.yml.")
        return
    with open_executor(compiled.profile, lock_timeout=lock_timeout) as executor, ThreadPoolExecutor(jobs or compiled.profile.threads or 1) as pool:
        results = list(pool.map(lambda check: run_check(check, executor, plan=compiled.plan, root=compiled.root), checks))
    print_check_summary(console, results)
    if any(r.blocking for r in results):
        raise typer.Exit(EXIT_TEST_FAILURE)


@app.command()
def utest(
    project: ProjectArg = Path("."),
    model: Annotated[str | None, typer.Option("--model", help="Only the specs of this model.")] = None,
    case: Annotated[str | None, typer.Option("--case", help="Only the case with this name.")] = None,
    path: Annotated[list[Path] | None, typer.Option("--path", help="Only this spec file (repeatable).")] = None,
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    vars: VarsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Run model unit tests (tests/unit/*.yml, and a dbt project's unit_tests:): each model alone, on given inputs, isolated."""
    from flowforge_compiler.unit_test_file import load_unit_tests

    console = session(quiet, verbose)
    compiled = compile_at(project, env, None, vars, profiles_dir=profiles_dir, lineage=True)  # lineage: an input's columns
    paths = [p if p.is_absolute() else Path.cwd() / p for p in path] if path else None
    cases: list[Any] = list(load_unit_tests(compiled.root, paths))
    if compiled.plan.dbt is not None and not paths:  # dbt's unit_tests: in the schema files
        from flowforge_compiler.dbt_unit_tests import dbt_unit_tests

        cases += dbt_unit_tests(compiled.root, compiled.plan)
    if model:
        cases = [c for c in cases if relation_for(c.model) == relation_for(model)]
    if case:
        cases = [c for c in cases if c.name == case]
    if not cases:
        if model or case:
            log.warning("no unit test case matches%s%s", f" --model {model}" if model else "", f" --case {case}" if case else "")
            console.print("Nothing to do: no unit test case selected.")
        else:
            console.print("No unit tests: the project has no tests/unit/*.yml" + (" and no unit_tests: in its schema files." if compiled.plan.dbt is not None else "."))
        return
    results = [run_unit_test(compiled, c, engine, env) for c in cases]
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


def _run_case(compiled: Compiled, case: UnitTestCase, engine: str | None, env: str | None) -> CaseResult:
    """One case on a fresh, isolated engine, never the tables of a real run.

    Engine precedence: --engine, the spec's `engine:`, the profile (--env).
    """
    from flowforge_compiler.profiles import resolve_profile
    from runtime.unit_tests import isolated_executor, run_case

    chosen = engine or case.engine or compiled.profile.engine
    profile = compiled.profile if chosen == compiled.profile.engine else resolve_profile(compiled.root, env, engine=chosen, profiles_dir=compiled.profiles_dir)
    with isolated_executor(profile) as executor:
        return run_case(compiled.plan, case, executor, compiled.root)


def run_unit_test(compiled: Compiled, case: Any, engine: str | None, env: str | None) -> CaseResult:
    """A case's result; a dbt unit test FlowForge cannot run (`CannotRun`) fails, saying why."""
    from flowforge_compiler.unit_test_file import UnitTestCase
    from runtime.unit_tests import CaseResult

    if isinstance(case, UnitTestCase):
        return _run_case(compiled, case, engine, env)
    return CaseResult(case.model, case.name, case.path, False, f"{case.path}: the dbt unit test cannot run as dbt runs it: {case.why}", "", 0.0)
