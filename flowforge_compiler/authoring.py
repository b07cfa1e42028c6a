"""The API model authors import: `model`, `relation_for`, `is_incremental`.

The decorator only annotates the function. The compiler finds models by reading the file's
syntax tree, never by importing it; the runtime imports the file to call the function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_INCREMENTAL: ContextVar[bool] = ContextVar("flowforge_is_incremental", default=False)


@dataclass(frozen=True)
class ModelSpec:
    """What `@model(...)` declared, attached to the function as `__flowforge_model__`."""

    name: str
    deps: tuple[str, ...]
    requires: Mapping[str, frozenset[str]] | frozenset[str]


def relation_for(node_name: str) -> str:
    """The physical relation of a node: its logical name without a trailing `.ff`."""
    return node_name[:-3] if node_name.endswith(".ff") else node_name


def model(
    name: str | Callable[..., Any] | None = None,
    deps: Iterable[str] | None = None,
    requires: Mapping[str, Iterable[str]] | Iterable[str] | None = None,
    *,
    require: Mapping[str, Iterable[str]] | Iterable[str] | None = None,
) -> Callable[[F], F]:
    """Declare a Python model: its name, the nodes it reads, and the columns it needs."""
    if callable(name):  # bare `@model`
        return model()(name)
    needed = requires if requires is not None else require

    def decorate(func: F) -> F:
        spec_requires: Mapping[str, frozenset[str]] | frozenset[str]
        if needed is None:
            spec_requires = {}
        elif isinstance(needed, Mapping):
            spec_requires = {k: frozenset(v) for k, v in needed.items()}
        else:
            spec_requires = frozenset(needed)
        func.__flowforge_model__ = ModelSpec(  # type: ignore[attr-defined]
            name=str(name or func.__name__), deps=tuple(deps or ()), requires=spec_requires
        )
        return func

    return decorate


def is_incremental() -> bool:
    """True while the runtime applies new rows to an existing incremental model: the function
    should then return only the new (or changed) rows."""
    return _INCREMENTAL.get()


@contextmanager
def incremental_run(active: bool) -> Iterator[None]:
    """Set by the runtime around a Python model's call; read with `is_incremental()`."""
    token = _INCREMENTAL.set(active)
    try:
        yield
    finally:
        _INCREMENTAL.reset(token)
