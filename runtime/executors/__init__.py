"""Executors by engine, found in the engine registry and imported only when a connection opens."""

from __future__ import annotations

from flowforge_compiler.errors import EngineNotInstalledError, ProfileError
from flowforge_compiler.profiles import Profile
from runtime.executors.base import Executor

DEFAULT_LOCK_TIMEOUT = 60.0


def open_executor(profile: Profile, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Executor:
    """An executor for the profile's engine; close it (or use `with`) when done.

    Secrets are resolved here, not at compile time: a setting whose env_var() is still unset
    stops with the variable's name. `lock_timeout` is how long a single-writer engine waits for
    another process to let go of its database.
    """
    profile.require_resolved()
    spec = profile.spec
    if spec.executor is None:
        from flowforge_compiler.engine_sdk import engines

        available = [name for name, other in engines().items() if other.executor is not None]
        raise ProfileError(
            f"the {spec.name} engine has no executor in this version of FlowForge",
            hint=f"engines available: {', '.join(available)}",
        )
    try:
        return spec.executor()(profile, lock_timeout=lock_timeout)
    except ModuleNotFoundError as exc:
        if exc.name and any(exc.name.split(".")[0] == required.split(".")[0] for required in spec.requires):
            raise EngineNotInstalledError(spec.name, spec.extra, exc.name) from exc
        raise


__all__ = ["DEFAULT_LOCK_TIMEOUT", "Executor", "open_executor"]
