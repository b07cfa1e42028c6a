"""Executors by engine: the engine's compile-time half names its executor by import path, and
the executor module is imported here, when a connection opens."""

from __future__ import annotations

from importlib import import_module

from flowforge_compiler.engine_sdk import EngineSpec, engines
from flowforge_compiler.errors import EngineNotInstalledError, ProfileError
from flowforge_compiler.profiles import Profile
from runtime.executors.base import Executor

DEFAULT_LOCK_TIMEOUT = 60.0


def executor_class(spec: EngineSpec) -> type[Executor]:
    """The engine's Executor class, imported now; a missing driver names the extra to install."""
    if spec.executor is None:
        available = [name for name, other in engines().items() if other.executor is not None]
        raise ProfileError(
            f"the {spec.name} engine has no executor in this version of FlowForge",
            hint=f"engines available: {', '.join(available)}",
        )
    module, _, name = spec.executor.partition(":")
    try:
        found = getattr(import_module(module), name)
    except ModuleNotFoundError as exc:
        _raise_missing_extra(spec, exc)
        raise
    if not (isinstance(found, type) and issubclass(found, Executor)):
        raise ProfileError(f"the {spec.name} engine names {spec.executor!r} as its executor, which is not an Executor class")
    return found


def open_executor(profile: Profile, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Executor:
    """An executor for the profile's engine; close it (or use `with`) when done.

    Secrets are resolved here, not at compile time: a setting whose env_var() is still unset
    stops with the variable's name. `lock_timeout` is how long a single-writer engine waits for
    another process to let go of its database.
    """
    profile.require_resolved()
    cls = executor_class(profile.spec)
    try:
        return cls(profile, lock_timeout=lock_timeout)
    except ModuleNotFoundError as exc:
        _raise_missing_extra(profile.spec, exc)
        raise


def _raise_missing_extra(spec: EngineSpec, exc: ModuleNotFoundError) -> None:
    """A driver the engine's extra installs is missing: say which extra to install (other
    missing modules go on as they are)."""
    if exc.name and any(exc.name.split(".")[0] == required.split(".")[0] for required in spec.requires):
        raise EngineNotInstalledError(spec.name, spec.extra, exc.name) from exc


__all__ = ["DEFAULT_LOCK_TIMEOUT", "Executor", "executor_class", "open_executor"]
