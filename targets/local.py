"""The local target: the spec's level scheduler behind `ffc run` and `ffc build`.

Levels run one after another; inside a level the run's one pool of `jobs` workers builds nodes. On a
failure, nodes of the level not yet started are cancelled and later levels do not start; with
`keep_going` the current level finishes first. Nodes that never ran are reported as skipped.
A plan whose project says so (`on_failure: descendants`, a dbt project's, as dbt runs) skips
only the failed node's descendants and builds every other node, unless `fail_fast`.

With `run_checks` (`ffc build`) the checks guarding a node run right after it is built, or,
for a check that reads other nodes too (`relationships`), once the last of them is built. A
failing error-severity check keeps the guarded node's descendants from running (they are
reported as skipped), while independent branches go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from flowforge_compiler.plan import Plan, PlanCheck, PlanNode
from runtime import CheckResult, Executor, NodeResult, run_check, run_node
from runtime.bundle import SettingsHook
from runtime.cache import CachePolicy

log = logging.getLogger("flowforge")


class RunReporter(Protocol):
    """Receives progress; the CLI renders it, tests record it."""

    def node_started(self, node: PlanNode) -> None: ...

    def node_finished(self, node: PlanNode, result: NodeResult, error: BaseException | None) -> None: ...

    def checks_finished(self, node: PlanNode | None, results: list[CheckResult]) -> None: ...


class SilentReporter:
    def node_started(self, node: PlanNode) -> None:
        return None

    def node_finished(self, node: PlanNode, result: NodeResult, error: BaseException | None) -> None:
        return None

    def checks_finished(self, node: PlanNode | None, results: list[CheckResult]) -> None:
        return None


@dataclass
class RunSummary:
    results: list[NodeResult] = field(default_factory=list)
    errors: dict[str, BaseException] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def cached(self) -> int:
        return sum(1 for r in self.results if r.status == "skipped" and r.message == "cached")

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.blocking]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.failed_checks


@dataclass
class _Outcome:
    result: NodeResult
    checks: list[CheckResult]


class LevelScheduler:
    """Runs selected nodes of a plan level by level on one shared executor."""

    def __init__(
        self,
        plan: Plan,
        executor: Executor,
        root: Path,
        *,
        jobs: int = 1,
        keep_going: bool = False,
        fail_fast: bool = False,
        full_refresh: bool = False,
        run_checks: bool = False,
        unattached_checks: bool = False,
        cache: CachePolicy | None = None,
        reporter: RunReporter | None = None,
        before_build: Callable[[str], list[CheckResult]] | None = None,
    ):
        self.plan = plan
        self.executor = executor
        self.root = root
        self.jobs = max(1, jobs)
        self.keep_going = keep_going
        # dbt's: a failure skips its descendants only (they are blocked, as after a failed check)
        self.descendants_only = plan.project.on_failure == "descendants" and not fail_fast
        self.full_refresh = full_refresh
        self.with_checks = run_checks
        self.unattached_checks = unattached_checks  # and those that read no node, after the rest (a whole `ffc build`)
        self.cache = cache
        self.reporter = reporter or SilentReporter()
        # a node's unit tests, run before it builds (as dbt build runs a model's): one that fails
        # keeps the node and its descendants from building, and counts as a failed check
        self.before_build = before_build
        self._nodes = plan.node_map()
        self._started: dict[str, float] = {}
        self._blocked: dict[str, str] = {}  # node -> why it must not run (an upstream check failed)
        self._lock = threading.Lock()
        self._guarded_by = {c.id: c.node or "" for c in plan.checks}
        self._done: set[str] = set()
        self._waiting: dict[str, list[PlanCheck]] = {}  # guarded node -> its checks not yet run

    def run(self, node_ids: Sequence[str]) -> RunSummary:
        selected = set(node_ids)
        summary = RunSummary()
        # Nodes outside the selection are taken as built already; checks wait only for the rest.
        self._done = {n.id for n in self.plan.nodes} - selected
        if self.with_checks:
            for check in self.plan.checks:
                if check.node in selected:
                    self._waiting.setdefault(check.node, []).append(check)
        started = time.perf_counter()
        levels = [[n for n in level if n in selected] for level in self.plan.levels]
        # One pool of `jobs` workers for the whole run: an engine keeps a connection per thread,
        # so a pool per level would open `jobs` more connections on every level.
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="ff") as pool:  # no thread before a submit
            self._run_levels(levels, summary, pool)
        if self.unattached_checks and (self.descendants_only or not summary.errors):  # dbt runs them whatever failed
            self._run_unattached_checks(summary)
        summary.seconds = time.perf_counter() - started
        if self.cache is not None:
            self.cache.save()
        return summary

    def _run_unattached_checks(self, summary: RunSummary) -> None:
        """Checks that read no node (a singular test of a query alone) run once the whole
        project is built, as `dbt build` runs them (the caller asks only without a selection)."""
        checks = [run_check(check, self.executor, plan=self.plan, root=self.root) for check in self.plan.checks if not check.nodes]
        if checks:
            self.reporter.checks_finished(None, checks)
            summary.checks.extend(checks)

    def _run_levels(self, levels: list[list[str]], summary: RunSummary, pool: ThreadPoolExecutor) -> None:
        for level in filter(None, levels):
            if summary.errors and not self.descendants_only:
                reason = "not started: " + ", ".join(sorted(summary.errors)) + " failed"
                summary.results.extend(self._skipped(n, reason) for n in level)
                continue
            runnable = []
            for node_id in level:
                blocked = self._upstream_block(node_id)
                if blocked:
                    self._blocked[node_id] = blocked
                    summary.results.append(self._skipped(node_id, blocked))
                else:
                    runnable.append(node_id)
            if runnable:
                self._run_level(runnable, summary, pool)

    def _upstream_block(self, node_id: str) -> str | None:
        for parent in self._nodes[node_id].depends_on:
            if parent in self._blocked:
                return self._blocked[parent]
        return None

    def _run_level(self, level: list[str], summary: RunSummary, pool: ThreadPoolExecutor) -> None:
        """Start nodes as workers free up, so a failure stops what has not started yet."""
        if self.jobs == 1:
            self._run_level_inline(level, summary)
            return
        queue = list(level)
        stopped = False
        pending: dict[Future[_Outcome], str] = {}
        while queue or pending:
            while queue and not stopped and len(pending) < self.jobs:
                node_id = queue.pop(0)
                cached = self._cached(node_id)
                if cached is not None:  # no work: no thread hand-off either
                    self._record(node_id, cached, summary)
                    continue
                pending[pool.submit(self._build, node_id)] = node_id
            if stopped and queue:
                failed = ", ".join(sorted(summary.errors))
                summary.results.extend(self._skipped(n, f"cancelled: {failed} failed") for n in queue)
                queue.clear()
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                node_id = pending.pop(future)
                error = future.exception()
                if error is None:
                    self._record(node_id, future.result(), summary)
                    continue
                self._failed(node_id, error, summary)
                stopped = stopped or not (self.keep_going or self.descendants_only)

    def _run_level_inline(self, level: list[str], summary: RunSummary) -> None:
        """--jobs 1: the same semantics on the calling thread, without a hand-off per node."""
        for position, node_id in enumerate(level):
            try:
                outcome = self._cached(node_id) or self._build(node_id)
            except Exception as error:  # noqa: BLE001 - recorded like a worker's failure
                self._failed(node_id, error, summary)
                if not (self.keep_going or self.descendants_only):
                    failed = ", ".join(sorted(summary.errors))
                    summary.results.extend(self._skipped(n, f"cancelled: {failed} failed") for n in level[position + 1:])
                    return
                continue
            self._record(node_id, outcome, summary)

    def _failed(self, node_id: str, error: BaseException, summary: RunSummary) -> None:
        summary.errors[node_id] = error
        self._blocked[node_id] = f"upstream {node_id!r} failed"
        seconds = time.perf_counter() - self._started.get(node_id, time.perf_counter())
        result = NodeResult(node_id, "failed", seconds=seconds, message=str(error), relation=self._nodes[node_id].relation)
        summary.results.append(result)
        self.reporter.node_finished(self._nodes[node_id], result, error)

    def _record(self, node_id: str, outcome: _Outcome, summary: RunSummary) -> None:
        summary.results.append(outcome.result)
        summary.checks.extend(outcome.checks)
        failed: dict[str, list[str]] = {}
        for check in outcome.checks:
            if check.blocking and check.check_id in self._guarded_by:  # (a unit test blocks its node itself)
                failed.setdefault(self._guarded_by[check.check_id], []).append(check.check_id)
        for guarded, check_ids in failed.items():
            self._blocked[guarded] = f"upstream check failed: {', '.join(check_ids)}"

    def _checks_now_ready(self, node_id: str) -> list[PlanCheck]:
        """Mark `node_id` built; take every waiting check group whose nodes are all built."""
        with self._lock:
            self._done.add(node_id)
            ready = [g for g, checks in self._waiting.items() if all(set(c.nodes) <= self._done for c in checks)]
            return [check for guarded in ready for check in self._waiting.pop(guarded)]

    def _cached(self, node_id: str) -> _Outcome | None:
        """The outcome of a node the cache skips, decided on the scheduling thread."""
        if self.cache is None:
            return None
        node = self._nodes[node_id]
        reason = self.cache.skip_reason(node, self.executor, full_refresh=self.full_refresh)
        if reason is None:
            return None
        self.reporter.node_started(node)
        result = NodeResult(node_id, "skipped", relation=node.relation, materialization=node.materialization.type, message=reason)
        return self._finish(node, result)

    def _build(self, node_id: str) -> _Outcome:
        node = self._nodes[node_id]
        self._started[node_id] = time.perf_counter()
        self.reporter.node_started(node)
        unit = self.before_build(node_id) if self.before_build is not None else []
        failed = [r.check_id for r in unit if r.blocking]
        if failed:
            reason = f"its unit test failed: {', '.join(failed)}"
            self._blocked[node_id] = f"upstream {node_id!r} was not built: {reason}"
            result = NodeResult(node_id, "skipped", relation=node.relation, materialization=node.materialization.type, message=reason)
            self.reporter.node_finished(node, result, None)
            self.reporter.checks_finished(node, unit)
            return _Outcome(result, unit)
        # The cache already said "build" in _cached; run_node need not ask again.
        result = run_node(self.plan, node_id, executor=self.executor, root=self.root, full_refresh=self.full_refresh)
        if self.cache is not None:
            self.cache.built(node)
        outcome = self._finish(node, result)
        if unit:
            self.reporter.checks_finished(node, unit)
        return _Outcome(outcome.result, [*unit, *outcome.checks])

    def _finish(self, node: PlanNode, result: NodeResult) -> _Outcome:
        """Report the node, then run the checks it completes."""
        self.reporter.node_finished(node, result, None)
        checks = [run_check(check, self.executor, plan=self.plan, root=self.root) for check in self._checks_now_ready(node.id)]
        if checks:
            self.reporter.checks_finished(node, checks)
        return _Outcome(result, checks)

    def _skipped(self, node_id: str, reason: str) -> NodeResult:
        result = NodeResult(node_id, "skipped", message=reason, relation=self._nodes[node_id].relation)
        self.reporter.node_finished(self._nodes[node_id], result, None)
        return result


def run_bundle_nodes(
    bundle: str | Path,
    node_ids: Sequence[str],
    *,
    cache: str = "rw",
    cache_store: str = "warehouse",
    full_refresh: bool = False,
    settings: SettingsHook | None = None,
    jobs: int = 1,
    select: Sequence[str] = (),
) -> dict[str, object]:
    """Several nodes of a bundle in one orchestrator task (`--granularity group|dag`): the local
    scheduler on one connection, each node's checks right after it (as `ffc build`). Raises the
    first failure, so the task fails; failed error checks raise TestFailureError."""
    from flowforge_compiler.errors import TestFailureError
    from runtime.bundle import bundle_profile, load_bundle_plan, open_bundle_executor, selected, task_logging

    task_logging()
    root = Path(bundle)
    plan = load_bundle_plan(root)
    node_ids = selected(plan, list(node_ids), list(select))
    profile = bundle_profile(root, plan, settings)
    with open_bundle_executor(profile) as executor:
        policy = CachePolicy.for_run(plan, executor, root, profile.name, mode=cache, store=cache_store)
        scheduler = LevelScheduler(plan, executor, root, jobs=jobs, full_refresh=full_refresh, run_checks=True, cache=policy)
        summary = scheduler.run(list(node_ids))
    for result in summary.results:
        log.info("%s %s: %s", result.status, result.node_id, result.message or f"{result.rows} rows in {result.seconds:.2f}s")
    if summary.errors:
        raise next(iter(summary.errors.values()))
    if summary.failed_checks:
        raise TestFailureError("data-quality checks failed: " + "; ".join(f"{c.check_id}: {c.message}" for c in summary.failed_checks))
    built = sum(1 for r in summary.results if r.status != "skipped")
    return {"built": built, "cached": summary.cached, "nodes": len(summary.results)}
