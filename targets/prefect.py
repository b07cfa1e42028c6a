"""The Prefect target: a plan becomes one static flow module plus its bundle.

Tasks are submitted in dependency order with explicit `wait_for`, so a failed task's
descendants never run while independent branches do; the flow returns every future, so its
final state reflects every task. Prefect's own caching is off: FlowForge decides what to build.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import Field

from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile
from flowforge_compiler.schedule import cron_for_prefect
from flowforge_compiler.yaml_files import Strict
from targets.bundle import write_bundle
from targets.codegen import header, project_summary, py_rows
from targets.output import OutputFolder, id_from_name, validate_id
from targets.target import Target, Written, option
from targets.task_graph import OrchestratorOptions, task_graph


class PrefectSettings(Strict):
    """project.yml `prefect:`: what the generated flow carries besides the plan."""

    tags: list[str] = Field(default_factory=list)  # added to ["flowforge", <project name>]


@dataclass(frozen=True, kw_only=True)
class PrefectOptions(OrchestratorOptions):
    flow_name: str | None = option(None, "--flow-name", help="Prefect: the flow name (default: project name).")

    @property
    def module(self) -> str:
        """The file stem: the flow name with '-' as '_', so it can be imported."""
        return str(self.flow_name).replace("-", "_")

    def named(self, plan: Plan) -> PrefectOptions:
        """These options with the flow name given, or the project's name as one."""
        return self if self.flow_name is not None else replace(self, flow_name=default_flow_name(plan.project.name))


class PrefectTarget(Target):
    name = "prefect"
    help = "a Prefect flow module and its bundle, in --out"
    options = PrefectOptions
    settings = PrefectSettings

    def write(self, plan: Plan, root: Path, out: Path | None, profile: Profile, options: Any) -> Written:
        assert out is not None and isinstance(options, PrefectOptions)
        options = options.named(plan)
        module = write_prefect(plan, root, out, profile, options)
        return Written(module, f"Wrote the Prefect flow {options.flow_name!r} ({options.node_count(plan)} nodes) -> {module}")


def default_flow_name(project_name: str) -> str:
    return id_from_name(project_name, "flowforge_flow")


def write_prefect(plan: Plan, root: Path, out: Path, profile: Profile, options: PrefectOptions) -> Path:
    """Write `<out>/<module>.py` and the bundle `<out>/<module>/`; returns the module file.
    Nothing is written outside `out`."""
    options = options.named(plan)
    validate_id(str(options.flow_name), "--flow-name")
    PrefectTarget.settings_of(plan, root)  # project.yml's prefect: block, its errors with their line
    folder = OutputFolder(out)
    module = render_flow(plan, options)  # before anything is written: its errors are about the flags
    write_bundle(plan, root, folder, options.module, profile)
    return folder.write_generated(f"{options.module}.py", module)


def render_flow(plan: Plan, options: PrefectOptions) -> str:
    """The flow module's text: deterministic, every project name repr()-escaped."""
    options = options.named(plan)
    tasks = [(t.key[0], t.node_id, t.name, t.upstream) for t in task_graph(plan, options.tests, options.selected(), options.asset_namespace)]
    workers = 1 if plan.profile.single_writer else max(1, options.jobs)
    doc = project_summary(plan, options.module) + (
        f"\n\nRun once: `python {options.module}.py`. Serve on the project's schedule: `python {options.module}.py --serve`, or "
        "deploy the `flow` object of this module."
    )
    if plan.profile.single_writer:
        doc += f"\n\n{plan.profile.engine} allows one writing process at a time, so tasks run one at a time."
    command = f"ffc compile PROJECT --target prefect --out DIR --flow-name {options.flow_name}"
    return f'''{header("Prefect flow", plan.project.name, command)}"""A FlowForge project as a static Prefect flow: data (TASKS) and a loop. See DESCRIPTION."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from prefect import flow as prefect_flow
from prefect import task
from prefect.tasks import exponential_backoff
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

DESCRIPTION = {doc!r}
BUNDLE = str(Path(__file__).with_name({options.module!r}))
FLOW_NAME = {options.flow_name!r}
SCHEDULE = {cron_for_prefect(plan.project.schedule)!r}  # a cron expression (project.yml presets translated)
MODEL_RETRIES = {options.retries!r}  # only transient failures are retried, 30 s, 60 s, ... apart
TASK_TIMEOUT_SECONDS = {options.task_timeout!r}  # None: no limit
CACHE = {options.cache!r}  # off | rw | ro | wo: skip nodes whose fingerprint is unchanged
CACHE_STORE = {options.cache_store!r}  # warehouse (_ff_meta) | file (needs a disk the workers share)
MAX_WORKERS = {workers!r}
TAGS = {sorted({"flowforge", plan.project.name, *PrefectTarget.settings_of(plan).tags})!r}  # on every task and the served deployment

# (kind, node id, task name, upstream tasks as (kind, node id)), in dependency order. Kind
# "plan" asks the warehouse once what must build; "node" builds the node, or returns at once when
# the plan says it is cached (both retried when the failure is transient); "checks" runs the
# checks guarding it, "*" meaning every check.
TASKS = {py_rows(tasks)}


@contextmanager
def run_logs():
    """FlowForge's log records from this task's thread go to its Prefect run logger (the UI's log)."""
    import logging
    import threading

    from prefect.logging import get_run_logger

    run_logger, thread = get_run_logger(), threading.get_ident()

    class Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.thread == thread:
                run_logger.log(record.levelno, record.getMessage())

    handler = Forward(logging.INFO)
    logging.getLogger("flowforge").addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger("flowforge").removeHandler(handler)


def retry_when_transient(task, task_run, state) -> bool:
    """A failure that repeats on every try (SQL, compile, missing relation) is not retried."""
    from runtime.failures import is_transient

    return isinstance(state.data, BaseException) and is_transient(state.data)


# Model and plan tasks: retried only after transient failures, with exponential backoff.
RETRIED = dict(
    retries=MODEL_RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=30),
    retry_condition_fn=retry_when_transient,
    timeout_seconds=TASK_TIMEOUT_SECONDS,
    cache_policy=NO_CACHE,
    persist_result=False,
    tags=TAGS,
)


@task(**RETRIED)
def run_node(node_id: str, decision: dict | None = None, full_refresh: bool = False) -> dict:
    from runtime.bundle import run_bundle_node

    with run_logs():
        return run_bundle_node(BUNDLE, node_id, cache=CACHE, cache_store=CACHE_STORE, decision=decision, full_refresh=full_refresh)


@task(**RETRIED)
def plan_nodes(node_id: str, full_refresh: bool = False, select: list | None = None) -> dict:
    from runtime.bundle import plan_bundle

    nodes = [row[1] for row in TASKS if row[0] == "node"]
    with run_logs():
        return plan_bundle(BUNDLE, nodes, cache=CACHE, cache_store=CACHE_STORE, full_refresh=full_refresh, select=select)


@task(retries=0, timeout_seconds=TASK_TIMEOUT_SECONDS, cache_policy=NO_CACHE, persist_result=False, tags=TAGS)
def run_checks(node_id: str) -> list:
    from runtime.bundle import run_bundle_all_checks, run_bundle_checks

    with run_logs():
        return run_bundle_all_checks(BUNDLE) if node_id == "*" else run_bundle_checks(BUNDLE, node_id)


@prefect_flow(name=FLOW_NAME, description=DESCRIPTION, task_runner=ThreadPoolTaskRunner(max_workers=MAX_WORKERS))
def flowforge_flow(full_refresh: bool = False, select: list[str] | None = None) -> list:
    """`full_refresh` rebuilds incremental models whole; `select` (--select syntax) builds only
    those nodes. Vars are compiled into the SQL: changing them means compiling again."""
    futures = {{}}
    decisions = {{}}
    for kind, node_id, name, upstream in TASKS:
        waits = [futures[key] for key in upstream if key[0] != "plan"]
        if kind == "plan":
            futures[(kind, node_id)] = plan = plan_nodes.with_options(name=name).submit(node_id, full_refresh, select)
            decisions = plan.result()  # a failed plan fails the flow before anything builds
        elif kind == "node":
            left_out = {{"build": False, "reason": "not selected"}}
            task_run = run_node.with_options(name=name)
            futures[(kind, node_id)] = task_run.submit(node_id, decisions.get(node_id, left_out), full_refresh, wait_for=waits)
        else:
            futures[(kind, node_id)] = run_checks.with_options(name=name).submit(node_id, wait_for=waits)
    return list(futures.values())  # returned futures make the flow's state reflect every task


flow = flowforge_flow


def serve() -> None:
    """Run the flow on the project's schedule (a cron expression or preset like @daily)."""
    if SCHEDULE:
        flow.serve(name=FLOW_NAME, cron=SCHEDULE, tags=TAGS)
    else:
        flow.serve(name=FLOW_NAME, tags=TAGS)


def deploy(work_pool_name: str, **options):
    """A deployment on a work pool, on the project's schedule (as `serve()` uses it). Its code is
    this module's folder (the module and its bundle), so a process worker that sees the same
    path runs it; `options` go to Prefect's `deploy` (an image, job variables, ...)."""
    source = flow.from_source(source=str(Path(__file__).resolve().parent), entrypoint=f"{{Path(__file__).name}}:flow")
    return source.deploy(name=FLOW_NAME, work_pool_name=work_pool_name, cron=SCHEDULE, tags=TAGS, **options)


def main() -> int:
    """Serve, or run once: the exit status is non-zero when the flow run did not complete."""
    if "--serve" in sys.argv[1:]:
        serve()
        return 0
    state = flow(return_state=True)
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())
'''
