"""FlowForge's runtime: builds one plan node on an engine, wherever it is called from."""

from __future__ import annotations

from runtime.checks import CheckResult, run_check
from runtime.executors import Executor, open_executor
from runtime.node import run_checks, run_node
from runtime.results import NodeResult

__all__ = ["CheckResult", "Executor", "NodeResult", "open_executor", "run_check", "run_checks", "run_node"]
