"""The orchestrator-neutral task graph both emitters render: which tasks, in what order, after what.

A first `plan` task asks the warehouse once which nodes must build; then one task per node that
builds something (ephemeral models are inlined and get none), and check tasks placed as
`--tests` says: after each guarded node (waiting for every node its checks read, and holding
back that node's descendants), once after everything, or not at all.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import quote

from flowforge_compiler.plan import Plan, PlanNode
from targets.codegen import safe_name
from targets.target import TargetOptions, option

TestsPlacement = Literal["after_each", "after_all", "none"]
Granularity = Literal["node", "group", "dag"]
TaskKey = tuple[str, str]  # ("plan", "*") | ("node", node id) | ("checks", guarded node id or "*")
PLAN_TASK: TaskKey = ("plan", "*")
ALL_CHECKS = "*"


CacheMode = Literal["off", "rw", "ro", "wo"]
CacheStore = Literal["warehouse", "file"]


@dataclass(frozen=True, kw_only=True)
class OrchestratorOptions(TargetOptions):
    """What every orchestrator target takes from `ffc compile` (each field with its flag)."""

    tests: TestsPlacement = option("after_each", "--tests", help="Where checks run as tasks.")
    retries: int = option(2, "--retries", help="Retries of model tasks after transient failures (checks never retry).", min=0)
    task_timeout: int | None = option(
        None, "--task-timeout", help="Seconds a task may run (Airflow execution_timeout, Prefect timeout_seconds).", min=1
    )
    jobs: int = option(1, "--jobs", "-j", help="How many tasks run at once (engines with one writer: one).", min=1)
    cache: CacheMode = option("rw", "--cache", help="off: always build; rw: skip unchanged, record; ro: skip, record nothing; wo: build all, record.")
    cache_store: CacheStore = option("warehouse", "--cache-store", help="Where orchestrated runs keep fingerprints (default: warehouse).")
    # Where the profile's relations live, as an Asset URI prefix (`EngineSpec.asset_namespace`);
    # None: `flowforge://<project>`.
    asset_namespace: str | None = None

    def selected(self) -> set[str] | None:
        return set(self.node_ids) if self.node_ids is not None else None


@dataclass(frozen=True)
class TaskSpec:
    key: TaskKey
    name: str  # a valid identifier, unique in the graph
    group: str | None  # model folder, as a valid identifier
    asset: str | None  # URI published when the task succeeds
    doc: str
    upstream: tuple[TaskKey, ...]
    inlets: tuple[str, ...] = ()  # URIs of the relations it reads that the project builds
    nodes: tuple[str, ...] = ()  # a group task's nodes, in plan order

    @property
    def node_id(self) -> str:
        return self.key[1]


def asset_uri(namespace: str, relation: str) -> str:
    """`<namespace>/<relation>`: what other pipelines can schedule on."""
    return f"{namespace}/{quote(relation, safe='')}"


def task_graph(
    plan: Plan, tests: TestsPlacement = "after_each", node_ids: set[str] | None = None, asset_namespace: str | None = None
) -> list[TaskSpec]:
    """Tasks in an order where every task comes after its upstream tasks."""
    namespace = asset_namespace or f"flowforge://{quote(plan.project.name, safe='')}"
    selected = node_ids if node_ids is not None else {n.id for n in plan.nodes}
    nodes = [n for n in plan.nodes if n.id in selected and n.builds_relation]
    kept = {n.id for n in nodes}
    checked = {n.id for n in nodes if tests == "after_each" and plan.checks_guarding(n.id)}
    names: set[str] = set()
    groups: dict[str, str] = {}

    def group_of(node: PlanNode) -> str | None:
        folder = _folder(node)
        if not folder:
            return None
        if folder not in groups:
            groups[folder] = safe_name(folder, set(groups.values()), prefix="g")
        return groups[folder]

    def producer(node_id: str) -> TaskKey:
        return ("checks", node_id) if node_id in checked else ("node", node_id)

    tasks = [TaskSpec(PLAN_TASK, safe_name("flowforge_plan", names), None, None, "Which nodes build, which are cached", ())]
    for node in nodes:  # plan order is topological, and each check task follows its last read
        uri = asset_uri(namespace, node.relation)
        upstream = tuple(producer(p) for p in sorted(plan.built_parents(node.id, kept))) or (PLAN_TASK,)
        inlets = tuple(asset_uri(namespace, plan.node(p).relation) for p in sorted(plan.built_parents(node.id)))
        tasks.append(
            TaskSpec(("node", node.id), safe_name(node.relation, names), group_of(node),
                     None if node.id in checked else uri, _doc(node), upstream, inlets)
        )
        if node.id in checked:
            reads = sorted({n for c in plan.checks_guarding(node.id) for n in c.nodes if n in kept} | {node.id})
            tasks.append(
                TaskSpec(("checks", node.id), safe_name(f"test_{node.relation}", names), group_of(node), uri,
                         f"Checks of {node.id}", tuple(("node", n) for n in reads))
            )
    if tests == "after_all" and plan.checks and nodes:
        parents = {p for n in nodes for p in plan.built_parents(n.id, kept)}
        leaves = tuple(("node", n.id) for n in nodes if n.id not in parents)
        tasks.append(TaskSpec(("checks", ALL_CHECKS), safe_name("run_all_checks", names), None, None, "Every check", leaves))
    return _in_dependency_order(tasks)


def group_graph(plan: Plan, granularity: Granularity, node_ids: set[str] | None = None) -> list[TaskSpec]:
    """Tasks of several nodes each (`group`: one per model folder, seeds together; `dag`: one),
    each running the local scheduler with its nodes' checks. A group waits for every group that
    holds a parent of its nodes or a node their checks read; groups that would wait for each
    other are merged into one task."""
    selected = node_ids if node_ids is not None else {n.id for n in plan.nodes}
    nodes = [n for n in plan.nodes if n.id in selected and n.builds_relation]
    folder_of = {n.id: _group_folder(n) if granularity == "group" else "all" for n in nodes}
    needs: dict[str, set[str]] = {folder: set() for folder in folder_of.values()}
    for node in nodes:
        reads = set(plan.built_parents(node.id, set(folder_of)))
        reads |= {r for c in plan.checks_guarding(node.id) for r in c.nodes if r in folder_of}
        needs[folder_of[node.id]] |= {folder_of[r] for r in reads} - {folder_of[node.id]}
    merged = _merge_cycles(needs)
    names: set[str] = set()
    tasks: dict[str, TaskSpec] = {}
    for component in dict.fromkeys(merged.values()):
        members = [n.id for n in nodes if merged[folder_of[n.id]] == component]
        label = "flowforge_build" if granularity == "dag" else "__".join(sorted({folder_of[n] for n in members}))
        upstream = sorted({merged[f] for folder in component.split("\0") for f in needs[folder]} - {component})
        tasks[component] = TaskSpec(
            ("group", component), safe_name(label, names), None, None, f"Builds and checks {len(members)} nodes",
            tuple(("group", u) for u in upstream), nodes=tuple(members),
        )
    return _in_dependency_order(list(tasks.values()))


def _folder(node: PlanNode) -> str:
    """The folder a node's task is grouped by: "seeds", or its folder under models/ ("" at the top)."""
    return "seeds" if node.kind == "seed" else "/".join(PurePosixPath(node.path).parts[1:-1])


def _group_folder(node: PlanNode) -> str:
    """A `--granularity group` task's folder, as a path from the project ("models/marts")."""
    folder = _folder(node)
    return folder if node.kind == "seed" else "/".join(["models", folder] if folder else ["models"])


def _merge_cycles(needs: dict[str, set[str]]) -> dict[str, str]:
    """Each folder -> its strongly connected component (Tarjan), named by its sorted folders."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    component: dict[str, str] = {}

    def visit(folder: str) -> None:
        index[folder] = low[folder] = len(index)
        stack.append(folder)
        for other in sorted(needs[folder]):
            if other not in index:
                visit(other)
                low[folder] = min(low[folder], low[other])
            elif other in stack:
                low[folder] = min(low[folder], index[other])
        if low[folder] == index[folder]:
            members = []
            while True:
                member = stack.pop()
                members.append(member)
                if member == folder:
                    break
            name = "\0".join(sorted(members))
            component.update(dict.fromkeys(members, name))

    for folder in sorted(needs):
        if folder not in index:
            visit(folder)
    return component


def _in_dependency_order(tasks: list[TaskSpec]) -> list[TaskSpec]:
    """Each task after its upstream tasks (a check task may read a node built later in plan
    order); otherwise the order they were made in."""
    position = {t.key: i for i, t in enumerate(tasks)}
    waiting = {t.key: len(t.upstream) for t in tasks}
    children: dict[TaskKey, list[TaskKey]] = {t.key: [] for t in tasks}
    for t in tasks:
        for parent in t.upstream:
            children[parent].append(t.key)
    ready = [position[k] for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    ordered: list[TaskSpec] = []
    while ready:
        task = tasks[heapq.heappop(ready)]
        ordered.append(task)
        for child in children[task.key]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, position[child])
    return ordered


def _doc(node: PlanNode) -> str:
    """The task's doc_md: what the node is, its description and its SQL (in a fence longer than
    any run of backticks in it, so the SQL cannot end it)."""
    lines = [f"**{node.id}** ({node.kind}, {node.materialization.type}) from `{node.path}`"]
    if node.description:
        lines.append(node.description)
    if node.sql:
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", node.sql)), default=0))
        lines.append(f"{fence}sql\n{node.sql}\n{fence}")
    return "\n\n".join(lines)
