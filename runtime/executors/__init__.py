"""Executors by engine name, imported lazily so an engine's library is needed only when used."""

from __future__ import annotations

import importlib

from flowforge_compiler.errors import EngineNotInstalledError, ProfileError
from flowforge_compiler.profiles import Profile
from runtime.executors.base import Executor

# engine -> (module, class, extra, the library whose absence means the extra is missing)
_EXECUTORS: dict[str, tuple[str, str, str, str]] = {
    "duckdb": ("runtime.executors.duckdb", "DuckDBExecutor", "duckdb", "duckdb"),
    "postgres": ("runtime.executors.postgres", "PostgresExecutor", "postgres", "sqlalchemy"),
}


DEFAULT_LOCK_TIMEOUT = 60.0


def open_executor(profile: Profile, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Executor:
    """An executor for the profile's engine; close it (or use `with`) when done.

    Secrets are resolved here, not at compile time: a setting whose env_var() is still unset
    stops with the variable's name. `lock_timeout` is how long a single-writer engine waits for
    another process to let go of its database.
    """
    profile.require_resolved()
    entry = _EXECUTORS.get(profile.engine)
    if entry is None:
        raise ProfileError(
            f"the {profile.engine} engine has no executor in this version of FlowForge",
            hint=f"engines available: {', '.join(sorted(_EXECUTORS))}",
        )
    module_name, class_name, extra, library = entry
    try:
        module = importlib.import_module(module_name)
        return getattr(module, class_name)(profile, lock_timeout=lock_timeout)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in {library, "psycopg"}:
            raise EngineNotInstalledError(profile.engine, extra, library) from exc
        raise


__all__ = ["DEFAULT_LOCK_TIMEOUT", "Executor", "open_executor"]
