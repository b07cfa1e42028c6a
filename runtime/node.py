"""`run_node`: the single entry point every target calls to build one node of a plan."""

from __future__ import annotations

from pathlib import Path

from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile, resolve_profile
from runtime.executors import Executor, open_executor
from runtime.results import NodeResult


def run_node(
    plan: Plan | Path | str,
    node_id: str,
    *,
    executor: Executor | None = None,
    profile: Profile | None = None,
    root: Path | str | None = None,
    full_refresh: bool = False,
) -> NodeResult:
    """Build `node_id`. Raises a FlowForgeError when it fails, so an orchestrator task fails too.

    `root` is where the node's files live (Python models, seeds): the project folder, or the
    bundle folder beside plan.json. Without an executor, the profile the plan was compiled for
    is resolved from `root/profiles.yml` and the environment, in this process.
    """
    if not isinstance(plan, Plan):
        plan_path = Path(plan)
        plan = Plan.read(plan_path)
        root = root if root is not None else plan_path.parent
    base = Path(root) if root is not None else Path.cwd()
    node = plan.node(node_id)
    if executor is not None:
        return executor.build(plan, node, base, full_refresh=full_refresh)
    profile = profile or resolve_profile(base, plan.profile.name)
    with open_executor(profile) as own:
        return own.build(plan, node, base, full_refresh=full_refresh)
