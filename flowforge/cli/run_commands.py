"""Commands that build: run (models), build (models and their checks), seed (seeds only)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flowforge.cli.app import (
    AllowOutsideOpt,
    Compiled,
    EngineOpt,
    EnvOpt,
    JobsOpt,
    LockTimeoutOpt,
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
from flowforge.cli.console import Console
from flowforge_compiler.errors import EXIT_TEST_FAILURE

if TYPE_CHECKING:
    from runtime import Executor
    from runtime.cache import CachePolicy
    from runtime.checks import CheckResult

log = logging.getLogger("flowforge")

class CacheOpt(str, Enum):
    off = "off"
    rw = "rw"
    ro = "ro"
    wo = "wo"


class StoreOpt(str, Enum):
    file = "file"
    warehouse = "warehouse"


CacheModeOpt = Annotated[CacheOpt, typer.Option("--cache", help="off: always build; rw: skip unchanged, record; ro: skip, record nothing; wo: build all, record.")]
RebuildOpt = Annotated[list[str] | None, typer.Option("--rebuild", help="Ignore the cache for nodes matching this glob (repeatable).")]
CacheStoreOpt = Annotated[StoreOpt, typer.Option("--cache-store", help="file: .flowforge/cache/<profile>-<engine>.json; warehouse: the _ff_meta table.")]
KeepGoingOpt = Annotated[bool, typer.Option("--keep-going", help="On failure, finish the current level before stopping.")]
FailFastOpt = Annotated[
    bool, typer.Option("--fail-fast", "-x", help="A dbt project: stop at the first failure (by default only its descendants are skipped, as in dbt).")
]
FullRefreshOpt = Annotated[bool, typer.Option("--full-refresh", help="Rebuild incremental models whole.")]
EmptyOpt = Annotated[bool, typer.Option("--empty", help="Build every model from none of the rows it reads (dbt's --empty): its columns, no rows.")]


def _build_command(*, checks: bool, doc: str) -> Callable[..., None]:
    """`run` and `build` take the same flags; `build` also runs each node's checks after it."""

    def command(
        project: ProjectArg = Path("."),
        env: EnvOpt = None,
        profiles_dir: ProfilesDirOpt = None,
        engine: EngineOpt = None,
        jobs: JobsOpt = None,
        keep_going: KeepGoingOpt = False,
        fail_fast: FailFastOpt = False,
        select: SelectOpt = None,
        full_refresh: FullRefreshOpt = False,
        empty: EmptyOpt = False,
        cache: CacheModeOpt = CacheOpt.rw,
        rebuild: RebuildOpt = None,
        cache_store: CacheStoreOpt = StoreOpt.file,
        vars: VarsOpt = None,
        lock_timeout: LockTimeoutOpt = 60.0,
        strict: StrictOpt = False,
        allow_outside: AllowOutsideOpt = None,
        quiet: QuietOpt = False,
        verbose: VerboseOpt = 0,
    ) -> None:
        from flowforge_compiler.selection import select_nodes, unmatched_globs

        console = session(quiet, verbose)
        compiled = compile_at(project, env, engine, vars, strict=strict, profiles_dir=profiles_dir, allow_outside=allow_outside, empty=empty)
        nodes = select_nodes(compiled.plan, select)
        for glob in unmatched_globs(compiled.plan, rebuild or []):
            log.warning("--rebuild %s matches no node", glob)
        caching = CacheSettings(cache.value, tuple(rebuild or ()), cache_store.value)
        unit_tests = _dbt_unit_tests(compiled, vars) if checks and compiled.plan.dbt is not None else None
        execute(
            console, compiled, nodes, jobs=jobs, keep_going=keep_going, fail_fast=fail_fast, full_refresh=full_refresh, checks=checks,
            unattached_checks=checks and not select, cache=caching, lock_timeout=lock_timeout, before_build=unit_tests,
        )

    command.__doc__ = doc
    return command


def _dbt_unit_tests(compiled: Compiled, vars: str | None) -> Callable[[str], list[CheckResult]] | None:
    """A dbt project's unit tests, run before their model builds, as dbt build runs them (each
    on an isolated engine, as `ffc utest` runs it); None without any."""
    from flowforge.cli.test_commands import run_unit_test
    from flowforge_compiler.dbt_unit_tests import dbt_unit_tests
    from flowforge_compiler.plan_cache import compile_cached
    from runtime.unit_tests import as_check

    if not dbt_unit_tests(compiled.root, compiled.plan):
        return None
    from flowforge.cli.app import parse_vars

    plan = compile_cached(compiled.root, compiled.profile, vars=parse_vars(vars), lineage=True, empty=compiled.plan.project.empty)  # an input's columns
    with_lineage = Compiled(compiled.root, compiled.profile, plan, compiled.profiles_dir)
    by_node: dict[str, list[Any]] = {}
    for case in dbt_unit_tests(compiled.root, plan):
        node = plan.find(case.model)
        by_node.setdefault(node.id if node else case.model, []).append(case)

    def run(node_id: str) -> list[CheckResult]:
        """In name order, as dbt runs them, and none after one fails (dbt skips the rest with the model)."""
        done: list[CheckResult] = []
        for case in sorted(by_node.get(node_id, []), key=lambda c: c.name):
            done.append(as_check(run_unit_test(with_lineage, case, None, None)))
            if done[-1].blocking:
                break
        return done

    return run


app.command("run")(_build_command(checks=False, doc="Build seeds and models level by level (the local target)."))
app.command("build")(
    _build_command(checks=True, doc="Build and check, interleaved: each node's checks run right after it is built.")
)


@app.command("plan")
def plan_command(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    select: SelectOpt = None,
    full_refresh: FullRefreshOpt = False,
    cache: CacheModeOpt = CacheOpt.rw,
    rebuild: RebuildOpt = None,
    cache_store: CacheStoreOpt = StoreOpt.file,
    vars: VarsOpt = None,
    lock_timeout: LockTimeoutOpt = 60.0,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """What `ffc run` would build and skip, and why, asking the warehouse once; builds nothing."""
    from flowforge.cli.console import aligned
    from flowforge_compiler.selection import select_nodes
    from runtime import open_executor

    console = session(quiet, verbose)
    compiled = compile_at(project, env, engine, vars, profiles_dir=profiles_dir)
    nodes = select_nodes(compiled.plan, select)
    caching = CacheSettings(cache.value, tuple(rebuild or ()), cache_store.value)
    with open_executor(compiled.profile, lock_timeout=lock_timeout) as executor:
        decisions = caching.policy(compiled, executor).plan_run(nodes, executor, full_refresh=full_refresh)
    rows = [("node", "action", "why")] + [(n, "build" if d.build else "skip", d.reason) for n, d in decisions.items()]
    console.result(aligned(rows))
    building = sum(d.build for d in decisions.values())
    console.print(f"\n{building} to build, {len(decisions) - building} to skip")
    waiting = [(n.id, n.render_at_run_time) for n in compiled.plan.nodes if n.id in decisions and n.render_at_run_time]
    if waiting:
        console.print("\nRendered at run time, in their tasks (their templates read the warehouse or the run while compiling):")
        console.result(aligned([("node", "why"), *waiting]))


@app.command()
def seed(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    select: SelectOpt = None,
    lock_timeout: LockTimeoutOpt = 60.0,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Load the seeds (CSV, Parquet, SQL) into the profile's engine."""
    from flowforge_compiler.selection import select_nodes

    console = session(quiet, verbose)
    compiled = compile_at(project, env, engine, None, profiles_dir=profiles_dir)
    nodes = compiled.plan.node_map()
    seeds = [n for n in select_nodes(compiled.plan, select) if nodes[n].kind == "seed"]
    execute(console, compiled, seeds, cache=CacheSettings(mode="wo"), lock_timeout=lock_timeout)


@dataclass(frozen=True)
class CacheSettings:
    mode: str = "rw"
    rebuild: tuple[str, ...] = ()
    store: str = "file"

    def policy(self, compiled: Compiled, executor: Executor) -> CachePolicy:
        from runtime.cache import CachePolicy

        return CachePolicy.for_run(
            compiled.plan, executor, compiled.root, compiled.profile.name, mode=self.mode, store=self.store, rebuild=self.rebuild
        )


def execute(
    console: Console,
    compiled: Compiled,
    node_ids: list[str],
    *,
    jobs: int | None = None,
    keep_going: bool = False,
    fail_fast: bool = False,
    full_refresh: bool = False,
    checks: bool = False,
    unattached_checks: bool = False,
    cache: CacheSettings | None = None,
    lock_timeout: float = 60.0,
    before_build: Callable[[str], list[CheckResult]] | None = None,
) -> None:
    """Run nodes with the level scheduler, report, and exit 1 (model failed) or 2 (check failed);
    `unattached_checks`: also the checks that read no node, once the rest is built;
    `before_build`: a node's unit tests, run before it."""
    from flowforge.cli.check_report import print_check_summary
    from flowforge.cli.progress import RunProgress, failures_exit_code, print_summary
    from runtime import open_executor
    from targets.local import LevelScheduler

    if not node_ids:
        console.print("Nothing to do: no node selected.")
        return
    jobs = jobs or compiled.profile.threads or 1
    with open_executor(compiled.profile, lock_timeout=lock_timeout) as executor:
        console.print(
            f"Running {len(node_ids)} nodes of {compiled.plan.project.name!r} on {compiled.profile.engine} "
            f"(profile {compiled.profile.name!r}, {jobs} job{'s' if jobs != 1 else ''})"
        )
        with RunProgress(console, len(node_ids)) as progress:
            scheduler = LevelScheduler(
                compiled.plan,
                executor,
                compiled.root,
                jobs=jobs,
                keep_going=keep_going,
                fail_fast=fail_fast,
                full_refresh=full_refresh,
                run_checks=checks,
                unattached_checks=unattached_checks,
                cache=(cache or CacheSettings()).policy(compiled, executor),
                reporter=progress,
                before_build=before_build,
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


@app.command("run-operation")
def run_operation(
    macro: Annotated[str, typer.Argument(help="The macro to call: a name, or package.name.")],
    project: ProjectArg = Path("."),
    args: Annotated[str | None, typer.Option("--args", help="The macro's arguments as YAML, e.g. '{days: 7}'.")] = None,
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    vars: VarsOpt = None,
    lock_timeout: LockTimeoutOpt = 60.0,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Call a dbt project's macro on the warehouse, as `dbt run-operation` does (in one transaction)."""
    from flowforge_compiler.errors import ProjectFileError
    from flowforge_compiler.run_render import run_operation as call
    from flowforge_compiler.yaml_files import parse_yaml
    from runtime import open_executor
    from runtime.warehouse import ExecutorWarehouse

    console = session(quiet, max(verbose, 1))  # the macro's log(..., info=True) lines show, as dbt prints them
    compiled = compile_at(project, env, engine, vars, profiles_dir=profiles_dir)
    if compiled.plan.dbt is None:
        raise ProjectFileError("run-operation calls a dbt project's macros; this project has no dbt_project.yml", hint="write the SQL as a model")
    arguments = parse_yaml(args, "--args")[0] if args else {}
    if not isinstance(arguments, dict):
        raise ProjectFileError("--args must be a mapping of the macro's arguments, e.g. '{days: 7}'")
    with open_executor(compiled.profile, lock_timeout=lock_timeout) as executor, executor.transaction():
        rendered = call(compiled.plan, compiled.root, ExecutorWarehouse(executor), compiled.profile, macro, arguments)
    if rendered.strip():
        console.print(rendered.strip())
