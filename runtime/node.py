"""`run_node`: the single entry point every target calls to build one node of a plan."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile, resolve_profile
from runtime.cache import CachePolicy
from runtime.checks import CheckResult, run_check
from runtime.executors import Executor, open_executor
from runtime.results import NodeResult
from runtime.warehouse import ExecutorWarehouse


def run_node(
    plan: Plan | Path | str,
    node_id: str,
    *,
    executor: Executor | None = None,
    profile: Profile | None = None,
    root: Path | str | None = None,
    full_refresh: bool = False,
    cache: CachePolicy | None = None,
) -> NodeResult:
    """Build `node_id`. Raises a FlowForgeError when it fails, so an orchestrator task fails too.

    With a `cache`, a node whose fingerprint is unchanged is skipped (status "skipped",
    message "cached"). `root` is where the node's files live (Python models, seeds): the project folder, or the
    bundle folder beside plan.json. Without an executor, the profile the plan was compiled for
    is resolved from `root/profiles.yml` and the environment, in this process.
    """
    plan, base = _plan_and_root(plan, root)
    node = plan.node(node_id)
    with _executor(plan, base, executor, profile) as ex:
        if node.render_at_run_time is not None:  # a dbt model whose template reads the warehouse
            from flowforge_compiler.run_render import render_at_run_time

            node = render_at_run_time(plan, node, base, ExecutorWarehouse(ex), ex.profile)
        reason = cache.skip_reason(node, ex, full_refresh=full_refresh) if cache else None
        if reason:
            return NodeResult(node.id, "skipped", relation=node.relation, materialization=node.materialization.type, message=reason)
        result = ex.build(plan, node, base, full_refresh=full_refresh)
        if cache:
            cache.built(node)
        return result


def run_checks(
    plan: Plan | Path | str,
    node_id: str,
    *,
    executor: Executor | None = None,
    profile: Profile | None = None,
    root: Path | str | None = None,
) -> list[CheckResult]:
    """Run the checks that guard `node_id` (see `Plan.checks_guarding`); results, not exceptions."""
    plan, base = _plan_and_root(plan, root)
    with _executor(plan, base, executor, profile) as ex:
        return [run_check(check, ex, plan=plan, root=base) for check in plan.checks_guarding(node_id)]


def _plan_and_root(plan: Plan | Path | str, root: Path | str | None) -> tuple[Plan, Path]:
    if not isinstance(plan, Plan):
        plan_path = Path(plan)
        plan = Plan.read(plan_path)
        root = root if root is not None else plan_path.parent
    return plan, Path(root) if root is not None else Path.cwd()


@contextmanager
def _executor(plan: Plan, root: Path, executor: Executor | None, profile: Profile | None) -> Iterator[Executor]:
    """The caller's executor, or one opened (and closed) for this call from the worker's profile."""
    if executor is not None:
        yield executor
        return
    with open_executor(profile or resolve_profile(root, plan.profile.name)) as own:
        yield own
