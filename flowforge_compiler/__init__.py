"""FlowForge's compiler: project -> plan. Model authors import `model` and `relation_for` from here."""

from __future__ import annotations

from flowforge_compiler.authoring import is_incremental, model, relation_for

__version__ = "0.1.0"

__all__ = ["__version__", "is_incremental", "model", "relation_for"]
