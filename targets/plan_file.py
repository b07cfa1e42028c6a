"""The local target of `ffc compile`: the plan itself, as plan.json, which `ffc run` executes
(the local level scheduler, `targets/local.py`, is the one target that runs a plan)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile
from targets.output import OutputFolder
from targets.target import Target, Written


class LocalTarget(Target):
    name = "local"
    help = "plan.json, with column lineage (default --out: PROJECT/.flowforge)"
    needs_out = False
    lineage = True

    def write(self, plan: Plan, root: Path, out: Path | None, profile: Profile, options: Any) -> Written:
        destination = OutputFolder(out or root / ".flowforge").path("plan.json")
        plan.write(destination)
        return Written(destination, f"Compiled {len(plan.nodes)} nodes for profile {profile.name!r} -> {destination}")
