"""FlowForge's runtime: builds one plan node on an engine, wherever it is called from.

The names below load on first use: every command loads the engine modules (their specs
live beside their executors), and those should not pull in checks and node building."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.checks import CheckResult, run_check
    from runtime.executors import Executor, open_executor
    from runtime.node import run_checks, run_node
    from runtime.results import NodeResult

_HOMES = {
    "CheckResult": "runtime.checks",
    "run_check": "runtime.checks",
    "Executor": "runtime.executors",
    "open_executor": "runtime.executors",
    "run_checks": "runtime.node",
    "run_node": "runtime.node",
    "NodeResult": "runtime.results",
}

__all__ = ["CheckResult", "Executor", "NodeResult", "open_executor", "run_check", "run_checks", "run_node"]  # = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
