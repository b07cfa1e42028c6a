"""Which failures are worth retrying: orchestrators retry transient ones and fail the rest at once.

A compile error, a SQL syntax or binder error, a failed check or a missing relation fails the
same way on every try, so retrying it only delays the alert. A lost connection, a server that
is restarting, a file another process holds or a serialization conflict may pass. FlowForge's
own errors say which they are (`FlowForgeError.transient`, or None: ask the cause); an engine's
driver errors are judged by the engine (`EngineSpec.transient`), down the chain of causes.
"""

from __future__ import annotations

from collections.abc import Iterator

from flowforge_compiler.engine_sdk import engines
from flowforge_compiler.errors import FlowForgeError


def is_transient(error: BaseException) -> bool:
    """Whether trying again later may succeed."""
    for cause in _chain(error):
        if isinstance(cause, FlowForgeError) and cause.transient is not None:
            return cause.transient
        if isinstance(cause, ConnectionError | TimeoutError):
            return True
        if any(spec.transient(cause) for spec in engines().values()):
            return True
    return False


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ if current.__cause__ is not None else None if current.__suppress_context__ else current.__context__
