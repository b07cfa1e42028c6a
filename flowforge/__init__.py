"""`from flowforge import model` works as `from flowforge_compiler import model` does: the
authoring API under the distribution's name, as the spec's examples write it."""

from flowforge_compiler.authoring import is_incremental, model, relation_for

__all__ = ["is_incremental", "model", "relation_for"]
