"""Each node's last build, read from the warehouse's `_ff_meta` when it can be read.

The docs must build without a warehouse (a fresh checkout, a CI job without credentials), so a
warehouse that cannot be reached is a reason shown on the site, never an error; one that does not
exist yet is not created by looking at it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flowforge_compiler.errors import FlowForgeError, ProfileError
from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile
from targets.docs.catalog import BuildStatus

log = logging.getLogger("flowforge")

LOCK_TIMEOUT = 2.0  # a run holding a single-writer warehouse: show no status rather than wait


@dataclass(frozen=True)
class StatusRead:
    statuses: dict[str, BuildStatus]
    problem: str | None = None  # why there are none, shown on the index page


def read_build_status(plan: Plan, profile: Profile) -> StatusRead:
    absent = profile.spec.warehouse_absent(profile.engine_settings)
    if absent:
        return StatusRead({}, f"nothing has been built on profile {profile.name!r} yet ({absent})")
    from runtime import open_executor

    try:
        with open_executor(profile, lock_timeout=LOCK_TIMEOUT) as executor:
            meta = executor.meta.read()
    except Exception as exc:  # noqa: BLE001 - an engine driver's own error too: the site still builds
        return _unreadable(profile, exc)
    statuses = {
        node.id: BuildStatus("never")
        if node.id not in meta
        else BuildStatus("current" if meta[node.id].fingerprint == node.fingerprint else "stale", meta[node.id].built_at)
        for node in plan.nodes
        if node.builds_relation
    }
    return StatusRead(statuses)


def _unreadable(profile: Profile, exc: Exception) -> StatusRead:
    """The page says so in words. A site is published: a connection error names the host, port,
    database and user (a driver's might hold a connection string), so its reason goes to the
    terminal only; a profile that is not set up (a variable unset) is said on the page."""
    message = str(exc).strip().splitlines()[0] if isinstance(exc, FlowForgeError) and str(exc).strip() else type(exc).__name__
    log.warning("build status not shown: the warehouse of profile %r cannot be read (%s)", profile.name, message)
    shown = f": {message}" if isinstance(exc, ProfileError) else " when the site was made (the reason is in the log of `ffc docs`)"
    return StatusRead({}, f"the warehouse of profile {profile.name!r} could not be read{shown}")
