"""The Airflow target: a plan becomes one static DAG file plus its bundle.

The DAG file is data (lists of repr()-escaped literals) and a short loop that makes the tasks:
it reads no file, compiles nothing and imports no engine when Airflow parses it. Every task
calls the shared runtime on the bundle beside the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import Field

from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile
from flowforge_compiler.schedule import validate_schedule
from flowforge_compiler.yaml_files import Strict
from targets.bundle import write_bundle
from targets.codegen import header, project_summary, py_rows
from targets.output import OutputFolder, id_from_name, validate_id
from targets.target import Target, Written, option
from targets.task_graph import PLAN_TASK, Granularity, OrchestratorOptions, group_graph, task_graph


class AirflowSettings(Strict):
    """project.yml `airflow:`: what the generated DAG carries besides the plan."""

    owner: str = "flowforge"
    tags: list[str] = Field(default_factory=list)  # added to ["flowforge", <project name>]
    depends_on_past: bool = False
    # No e-mail keys: Airflow 3 deprecates e-mail on tasks in favour of notifiers.


@dataclass(frozen=True, kw_only=True)
class AirflowOptions(OrchestratorOptions):
    dag_id: str | None = option(None, "--dag-id", help="Airflow: the DAG id (default: project name).")
    schedule: str | None = option(None, "--schedule", help="Airflow: cron or preset (default: project.yml schedule).")
    # a connection id whose credentials the tasks use
    airflow_conn: str | None = option(None, "--airflow-conn", help="Airflow: take the engine's credentials from this connection id.")
    granularity: Granularity = option(
        "node", "--granularity",
        help="Airflow: a task per node (node), per model folder running the local scheduler (group), or one task (dag).",
    )

    def named(self, plan: Plan) -> AirflowOptions:
        """These options with the DAG id given, or the project's name as one."""
        return self if self.dag_id is not None else replace(self, dag_id=default_dag_id(plan.project.name))


class AirflowTarget(Target):
    name = "airflow"
    help = "a static Airflow DAG file and its bundle, in the DAGs folder --out"
    options = AirflowOptions
    settings = AirflowSettings

    def write(self, plan: Plan, root: Path, out: Path | None, profile: Profile, options: Any) -> Written:
        assert out is not None and isinstance(options, AirflowOptions)
        options = options.named(plan)
        dag_file = write_airflow(plan, root, out, profile, options)
        return Written(dag_file, f"Wrote the Airflow DAG {options.dag_id!r} ({options.node_count(plan)} nodes) -> {dag_file}")


def default_dag_id(project_name: str) -> str:
    return id_from_name(project_name, "flowforge")


def write_airflow(plan: Plan, root: Path, out: Path, profile: Profile, options: AirflowOptions) -> Path:
    """Write `<out>/<dag_id>.py` and the bundle `<out>/<dag_id>/`; returns the DAG file.
    Nothing is written outside `out`."""
    options = options.named(plan)
    validate_id(str(options.dag_id), "--dag-id")
    AirflowTarget.settings_of(plan, root)  # project.yml's airflow: block, its errors with their line
    if options.schedule is not None:
        validate_schedule(options.schedule, "--schedule")
    folder = OutputFolder(out)
    module = render_dag(plan, options)  # before anything is written: its errors are about the flags
    bundle = write_bundle(plan, root, folder, str(options.dag_id), profile)
    if plan.profile.single_writer:
        (bundle / "pools.json").write_text(pools_json(plan, options), encoding="utf-8")
    # The DAG processor must not parse the bundle's Python models; `name/` means the folder in
    # both .airflowignore syntaxes (glob, Airflow 3's default, and regexp), as ids hold no
    # pattern characters.
    folder.ensure_line(".airflowignore", f"{options.dag_id}/", "# FlowForge bundle folders (a line per DAG; other lines are kept)")
    return folder.write_generated(f"{options.dag_id}.py", module)


def pool_name(options: AirflowOptions) -> str:
    return f"flowforge_{options.dag_id}"


def pools_json(plan: Plan, options: AirflowOptions) -> str:
    import json

    pool = {
        pool_name(options): {
            "slots": 1,
            "description": f"FlowForge {plan.project.name}: one writing task at a time on {plan.profile.engine}",
            "include_deferred": False,
        }
    }
    return json.dumps(pool, indent=2, sort_keys=True) + "\n"


def _project_default_args(settings: AirflowSettings) -> dict[str, object]:
    """project.yml `airflow:` as default_args."""
    return {"owner": settings.owner, "depends_on_past": settings.depends_on_past}


def render_dag(plan: Plan, options: AirflowOptions) -> str:
    """The DAG module's text: deterministic, readable, every project name repr()-escaped."""
    options = options.named(plan)
    if options.granularity == "node":
        tasks = task_graph(plan, options.tests, options.selected(), options.asset_namespace)
    else:
        tasks = group_graph(plan, options.granularity, options.selected())
    rows = [(t.key[0], t.node_id, t.name, t.group, t.asset, t.inlets, t.doc) for t in tasks]
    edges = sorted((parent, t.key) for t in tasks for parent in t.upstream)
    groups = {t.node_id: list(t.nodes) for t in tasks if t.nodes}
    plan_task = next((t.name for t in tasks if t.key == PLAN_TASK), None)
    return _module(plan, options, rows, edges, groups, plan_task)


def _module(
    plan: Plan,
    options: AirflowOptions,
    tasks: Sequence[tuple[object, ...]],
    edges: Sequence[tuple[object, ...]],
    groups: dict[str, list[str]],
    plan_task: str | None,
) -> str:
    settings = AirflowTarget.settings_of(plan)
    single_writer = plan.profile.single_writer
    schedule = options.schedule if options.schedule is not None else plan.project.schedule
    doc = project_summary(plan, str(options.dag_id))
    if single_writer:
        doc += (
            f"\n\n{plan.profile.engine} allows one writing process at a time: tasks share the one-slot pool "
            f"`{pool_name(options)}`. Create it once: `airflow pools import {options.dag_id}/pools.json`."
        )
    max_tasks = 1 if single_writer else max(1, options.jobs)
    command = f"ffc compile PROJECT --target airflow --out DAGS_FOLDER --dag-id {options.dag_id}"
    return f'''{header("Airflow DAG", plan.project.name, command)}"""A FlowForge project as a static Airflow DAG: data (TASKS, EDGES) and a loop. See DESCRIPTION."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.providers.standard.operators.python import BranchPythonOperator, PythonOperator
from airflow.sdk import DAG, Asset, Param, TaskGroup

DESCRIPTION = {doc!r}
BUNDLE = str(Path(__file__).with_name({options.dag_id!r}))
POOL = {pool_name(options) if single_writer else None!r}
MODEL_RETRIES = {options.retries!r}  # only transient failures are retried, 30 s, 60 s, ... apart (at most 10 min)
TASK_TIMEOUT_SECONDS = {options.task_timeout!r}  # None: no limit
CACHE = {options.cache!r}  # off | rw | ro | wo: skip nodes whose fingerprint is unchanged
CACHE_STORE = {options.cache_store!r}  # warehouse (_ff_meta) | file (needs a disk the workers share)
AIRFLOW_CONN = {options.airflow_conn!r}  # credentials from this Airflow connection, read by each task
PROJECT_DEFAULT_ARGS = {_project_default_args(settings)!r}  # project.yml `airflow:`
PLAN_TASK_ID = {plan_task!r}  # its XCom "chosen": the task ids of the nodes that build in this run

# (kind, node id, task id, task group, asset URI published when it builds, URIs it reads, docs).
# An Asset is the warehouse object itself (engine, place, schema, relation). Kind "plan" asks
# the warehouse once what must build and branches to those node tasks: the scheduler marks the
# others (cached) skipped without starting them; "node" builds the node (both retried when the
# failure is transient); "checks" runs the checks guarding it, "*" meaning every check (never
# retried).
TASKS = {py_rows(tasks)}

# (upstream, downstream), each as (kind, node id)
EDGES = {py_rows(edges)}

# --granularity {options.granularity}: a group task's nodes (empty with one task per node)
GROUP_NODES = {groups!r}


def plan_nodes(node_id: str, params=None, ti=None) -> list:
    """The task ids of the nodes that must build (the branch to follow); the plan is logged."""
    from runtime.bundle import plan_bundle

    params = params or {{}}
    try:
        decisions = plan_bundle(
            BUNDLE, list(NODE_TASK_IDS), cache=CACHE, cache_store=CACHE_STORE, settings=connection_settings(),
            full_refresh=bool(params.get("full_refresh")), select=list(params.get("select") or []),
        )
    except Exception as error:
        fail_unless_transient(error)
        raise
    chosen = [NODE_TASK_IDS[node] for node, decision in decisions.items() if decision["build"]]
    if ti is not None:  # pushed here: a branch that skips tasks returns no XCom of its own
        ti.xcom_push(key="chosen", value=chosen)
    return chosen


def run_node(node_id: str, params=None, ti=None) -> dict:
    # Branching skips a task the plan did not choose unless a chosen one is upstream of it (a
    # join); such a task asks the plan itself, before importing anything.
    chosen = ti.xcom_pull(task_ids=PLAN_TASK_ID, key="chosen") if ti is not None else None
    if chosen is not None and ti.task_id not in chosen:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{{node_id}}: not chosen by {{PLAN_TASK_ID}} (cached or not selected)")
    from runtime.bundle import run_bundle_node

    full_refresh = bool((params or {{}}).get("full_refresh"))
    try:
        return run_bundle_node(
            BUNDLE, node_id, cache=CACHE, cache_store=CACHE_STORE, settings=connection_settings(), full_refresh=full_refresh
        )
    except Exception as error:
        fail_unless_transient(error)
        raise


def connection_settings():
    """The runtime's settings hook: the profile's settings from AIRFLOW_CONN, read in the task."""
    from targets.airflow_connection import airflow_settings

    return airflow_settings(AIRFLOW_CONN)


def fail_unless_transient(error: Exception) -> None:
    """A failure that repeats on every try (SQL, compile, missing relation) fails the task now."""
    from runtime.failures import is_transient

    if not is_transient(error):
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{{error}}\\n(not retried: it fails the same way every time)") from error


def run_checks(node_id: str, ti=None) -> list:
    from runtime.bundle import run_bundle_all_checks, run_bundle_checks

    if node_id == "*":
        return run_bundle_all_checks(BUNDLE, settings=connection_settings())
    results = run_bundle_checks(BUNDLE, node_id, settings=connection_settings())
    chosen = ti.xcom_pull(task_ids=PLAN_TASK_ID, key="chosen") if ti is not None and PLAN_TASK_ID else None
    if chosen is not None and NODE_TASK_IDS.get(node_id) not in chosen:
        from airflow.sdk.exceptions import AirflowSkipException

        # the checks passed, but the relation was not built in this run: no Asset event
        raise AirflowSkipException(f"checks of {{node_id}} passed; it was not built in this run, so no Asset event")
    return results


def run_group(group: str, params=None) -> dict:
    """`--granularity group|dag`: the local scheduler on the group's nodes, checks included."""
    from targets.local import run_bundle_nodes

    params = params or {{}}
    try:
        return run_bundle_nodes(
            BUNDLE, GROUP_NODES[group], cache=CACHE, cache_store=CACHE_STORE, settings=connection_settings(),
            full_refresh=bool(params.get("full_refresh")), select=list(params.get("select") or []),
        )
    except Exception as error:
        fail_unless_transient(error)
        raise


with DAG(
    dag_id={options.dag_id!r},
    schedule={schedule!r},
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    max_active_tasks={max_tasks!r},
    tags={sorted({"flowforge", plan.project.name, *settings.tags})!r},
    doc_md=DESCRIPTION,
    # Trigger-time controls (the Trigger DAG form, or `airflow dags trigger --conf`). Vars are
    # compiled into the SQL, so changing them means compiling again with --vars.
    params={{
        "full_refresh": Param(False, type="boolean", description="Rebuild incremental models whole."),
        "select": Param([], type="array", description="Build only these nodes (--select syntax: name, +name, name+, tag:x)."),
    }},
    default_args={{
        **PROJECT_DEFAULT_ARGS,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(seconds=TASK_TIMEOUT_SECONDS) if TASK_TIMEOUT_SECONDS else None,
    }},
) as dag:
    groups = {{name: TaskGroup(group_id=name) for name in sorted({{row[3] for row in TASKS if row[3]}})}}
    callables = {{"plan": plan_nodes, "node": run_node, "checks": run_checks, "group": run_group}}
    tasks = {{}}
    for kind, node_id, task_id, group, asset, inlets, doc in TASKS:
        operator = BranchPythonOperator if kind == "plan" else PythonOperator
        tasks[(kind, node_id)] = operator(
            task_id=task_id,
            python_callable=callables[kind],
            op_args=[node_id],
            retries=0 if kind == "checks" else MODEL_RETRIES,
            # a node the plan skips (cached) lets its children and checks run
            trigger_rule="none_failed" if kind in ("node", "checks") else "all_success",
            pool=POOL or "default_pool",
            outlets=[Asset(asset)] if asset else [],  # a skipped (cached) task publishes no event
            inlets=[Asset(uri) for uri in inlets],
            doc_md=doc,
            task_group=groups.get(group),
        )
    for upstream, downstream in EDGES:
        tasks[upstream] >> tasks[downstream]
    NODE_TASK_IDS = {{key[1]: task.task_id for key, task in tasks.items() if key[0] == "node"}}
    for key, task in tasks.items():  # the plan branches to every node task it decides to build
        if key[0] == "node":
            tasks[("plan", "*")] >> task
'''
