"""Running nodes from a bundle (plan.json + model files + profiles.yml) inside an orchestrator task.

This is what generated Airflow DAGs and Prefect flows call. The profile is the one the compile
fixed in the bundle (only its secrets come from the worker); an engine connection is opened
late and closed early, and a DuckDB file held by another process is waited for, since tasks may
run in separate processes.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flowforge_compiler.errors import TestFailureError
from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile, resolve_profile
from runtime.cache import CachePolicy
from runtime.checks import CheckResult
from runtime.executors import Executor, open_executor
from runtime.node import run_checks, run_node
from runtime.results import NodeResult

log = logging.getLogger("flowforge")

_PLANS: dict[tuple[Path, int], Plan] = {}
_PLANS_LOCK = threading.Lock()
LOCK_WAIT_SECONDS = 120.0
SQL_IN_LOGS = 1000  # characters of a model's SQL logged at INFO; FLOWFORGE_SQL_DEBUG=1 logs every statement whole


def task_logging() -> None:
    """In a task, FlowForge logs at INFO (the orchestrator's log shows the node, its file, its
    SQL, rows and timing); FLOWFORGE_SQL_DEBUG=1 adds every statement run, as on the command line."""
    logger = logging.getLogger("flowforge")
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    if os.environ.get("FLOWFORGE_SQL_DEBUG", "").lower() in {"1", "true", "yes"}:
        logging.getLogger("flowforge.sql").setLevel(logging.DEBUG)


def load_bundle_plan(bundle: Path) -> Plan:
    """The bundle's plan, parsed once per process and version of the file."""
    path = bundle / "plan.json"
    key = (path.resolve(), path.stat().st_mtime_ns)
    with _PLANS_LOCK:
        if key not in _PLANS:
            _PLANS[key] = Plan.read(path)
        return _PLANS[key]


# An orchestrator's own way to fill in the profile's settings in the worker (an Airflow
# connection, say): the profile as the bundle has it in, the profile to connect with out.
SettingsHook = Callable[[Profile], Profile]


def bundle_profile(bundle: Path, plan: Plan, settings: SettingsHook | None = None) -> Profile:
    """The profile the plan was compiled for: its settings as the compile fixed them, its
    env_var() secrets from the worker's environment, and what the orchestrator's `settings` hook
    adds (the target that generated the task supplies it). `FF_*` variables of the worker change
    nothing, so one set for another DAG cannot redirect this one."""
    profile = resolve_profile(bundle, plan.profile.name, profiles_path=bundle / "profiles.yml", overrides=False)
    return settings(profile) if settings is not None else profile


def plan_bundle(
    bundle: str | Path,
    node_ids: list[str] | None = None,
    *,
    cache: str = "rw",
    cache_store: str = "warehouse",
    full_refresh: bool = False,
    settings: SettingsHook | None = None,
    select: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The run's decisions, node id -> {"build": bool, "reason": str}, from one look at the
    warehouse (the orchestrators' first task): node tasks told "skip" then open no connection.
    `select` (a trigger-time parameter, `--select` syntax) leaves the other nodes out."""
    task_logging()
    root = Path(bundle)
    plan = load_bundle_plan(root)
    wanted = [n.id for n in plan.nodes] if node_ids is None else node_ids
    wanted = selected(plan, wanted, select)
    profile = bundle_profile(root, plan, settings)
    with open_bundle_executor(profile) as executor:
        policy = CachePolicy.for_run(plan, executor, root, profile.name, mode=cache, store=cache_store)
        decisions = policy.plan_run(wanted, executor, full_refresh=full_refresh)
    building = sum(d.build for d in decisions.values())
    log.info("plan: %d to build, %d to skip", building, len(decisions) - building)
    for node_id, decision in decisions.items():
        log.info("%s %s: %s", "build" if decision.build else "skip", node_id, decision.reason)
    return {node_id: asdict(decision) for node_id, decision in decisions.items()}


def selected(plan: Plan, node_ids: list[str], select: list[str] | None) -> list[str]:
    """`node_ids` narrowed by a trigger-time `select` (`--select` syntax); all of them without one."""
    if not select:
        return node_ids
    from flowforge_compiler.selection import select_nodes  # a query on the plan, no compiling

    chosen = set(select_nodes(plan, select))
    kept = [n for n in node_ids if n in chosen]
    log.info("selected at trigger time: %s", ", ".join(kept) or "nothing")
    return kept


def run_bundle_node(
    bundle: str | Path,
    node_id: str,
    *,
    cache: str = "rw",
    cache_store: str = "warehouse",
    full_refresh: bool = False,
    settings: SettingsHook | None = None,
    decision: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build one node unless the cache says it is unchanged; raises (so the task fails) when it
    fails. Returns a small summary for the orchestrator's logs and XComs.

    With the plan task's `decision` saying skip, nothing is opened: the warehouse was asked
    already. The default store is the warehouse's `_ff_meta`, since workers share no disk;
    `file` keeps the cache in the bundle folder, for workers that do share one.
    """
    task_logging()
    root = Path(bundle)
    plan = load_bundle_plan(root)
    node = plan.node(node_id)
    if decision is not None and not decision["build"]:
        log.info("skipped %s: %s (decided by the plan task)", node_id, decision["reason"])
        return asdict(NodeResult(node_id, "skipped", relation=node.relation, materialization=node.materialization.type, message=decision["reason"]))
    log.info("node %s (%s, %s) from %s", node_id, node.kind, node.materialization.type, node.path)
    if node.sql:
        shown = node.sql if len(node.sql) <= SQL_IN_LOGS else node.sql[:SQL_IN_LOGS] + f"... ({len(node.sql)} characters)"
        log.info("SQL:\n%s", shown)
    profile = bundle_profile(root, plan, settings)
    with open_bundle_executor(profile) as executor:
        policy = CachePolicy.for_run(plan, executor, root, profile.name, mode=cache, store=cache_store)
        result = run_node(plan, node_id, executor=executor, root=root, full_refresh=full_refresh, cache=policy)
        policy.save()
    if result.status == "skipped":
        log.info("skipped %s: %s", node_id, result.message)
    else:
        log.info("built %s as %s %s: %s rows in %.2fs", node_id, node.materialization.type, node.relation, result.rows, result.seconds)
    return asdict(result)


def run_bundle_checks(bundle: str | Path, node_id: str, *, settings: SettingsHook | None = None) -> list[dict[str, Any]]:
    """Run the checks guarding `node_id`; raises TestFailureError when an error check fails."""
    task_logging()
    root = Path(bundle)
    plan = load_bundle_plan(root)
    with open_bundle_executor(bundle_profile(root, plan, settings)) as executor:
        results = run_checks(plan, node_id, executor=executor, root=root)
    return _report(results)


def run_bundle_all_checks(bundle: str | Path, *, settings: SettingsHook | None = None) -> list[dict[str, Any]]:
    """Every check of the plan (the `--tests after_all` task)."""
    task_logging()
    root = Path(bundle)
    plan = load_bundle_plan(root)
    from runtime.checks import run_check

    with open_bundle_executor(bundle_profile(root, plan, settings)) as executor:
        results = [run_check(check, executor, plan=plan, root=root) for check in plan.checks]
    return _report(results)


def _report(results: list[CheckResult]) -> list[dict[str, Any]]:
    for r in results:
        level = logging.INFO if r.status == "pass" else logging.WARNING
        log.log(level, "%s %s: %s", r.status.upper(), r.check_id, r.message)
        if r.status == "fail":
            log.log(level, "failing rows: %s", r.failing_rows_sql)
    blocking = [r for r in results if r.blocking]
    if blocking:
        raise TestFailureError(
            "data-quality checks failed: " + "; ".join(f"{r.check_id}: {r.message}" for r in blocking)
        )
    return [{"check": r.check_id, "status": r.status, "message": r.message} for r in results]


def open_bundle_executor(profile: Profile) -> Executor:
    """Tasks run in separate processes: wait longer than a laptop run for a single-writer file."""
    return open_executor(profile, lock_timeout=LOCK_WAIT_SECONDS)
