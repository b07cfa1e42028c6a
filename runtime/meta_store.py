"""`_ff_meta`: one audit row per successful build, and the truth the cache decides from.

Its reads and writes sit behind one small object, so an engine changes how the table is kept
(Spark compacts the small files its appends leave) by subclassing the store, never the build.
Every row is written by the executor in the transaction that swaps the node's relation in, where
the engine has transactions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowforge_compiler.plan import PlanNode

if TYPE_CHECKING:
    from runtime.executors.base import Executor

META_TABLE = "_ff_meta"


@dataclass(frozen=True)
class CacheEntry:
    """A node's latest build as `_ff_meta` records it."""

    fingerprint: str
    built_at: float  # seconds since the epoch


class MetaStore:
    """The `_ff_meta` table of one executor's schema."""

    def __init__(self, executor: Executor):
        self.executor = executor
        self._ready = False
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """Create the table unless it exists: once per executor, safe when parallel tasks race."""
        with self._lock:
            if not self._ready:
                ex = self.executor
                ex.create_if_missing(ex.statements.create_meta(META_TABLE), lambda: ex.relation_kind(META_TABLE) is not None)
                self._ready = True

    def row(self, node: PlanNode) -> str:
        """The statement that records a build of `node` (for engines that send it inside a script)."""
        ex = self.executor
        return ex.statements.insert_meta(META_TABLE, [node.id, node.relation, node.fingerprint, ex.engine])

    def publish(self, node: PlanNode) -> None:
        """Record a build of `node`: what the cache trusts from now on."""
        self.executor.execute(self.row(node))

    def read(self) -> dict[str, CacheEntry]:
        """The latest build of every node, in one query; nothing when the table does not exist."""
        ex = self.executor
        if ex.relation_kind(META_TABLE) is None:
            return {}
        # plain rows: a task that only asks (a cached node, the plan task) needs no pyarrow
        latest = ex.fetch_rows(ex.statements.latest_meta(META_TABLE))
        return {node: CacheEntry(fingerprint, float(built_at)) for node, fingerprint, built_at in latest}
