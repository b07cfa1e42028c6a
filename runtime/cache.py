"""The fingerprint cache: skip a node when nothing that defines its data has changed.

A node is skipped (reported as cached, never as built) only when all of these hold:
  - the cache mode reads (`rw`, `ro`) and no `--rebuild` glob names it;
  - the store holds the node's current fingerprint, and its relation exists on the engine;
  - it reads no external source (FlowForge cannot see that data change);
  - no parent was built after it, in this run or (by the store's timestamps) since.

Two stores: a JSON file per profile and engine for local runs, and the warehouse's `_ff_meta`
table for orchestrated runs whose workers share no disk.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

from flowforge_compiler.plan import Plan, PlanNode
from runtime.executors.base import Executor

log = logging.getLogger("flowforge")


class CacheMode(str, Enum):
    OFF = "off"  # always build
    RW = "rw"  # skip on a match; record builds
    RO = "ro"  # skip on a match; record nothing
    WO = "wo"  # always build; record builds

    @property
    def reads(self) -> bool:
        return self in (CacheMode.RW, CacheMode.RO)

    @property
    def writes(self) -> bool:
        return self in (CacheMode.RW, CacheMode.WO)


@dataclass(frozen=True)
class CacheEntry:
    fingerprint: str
    built_at: float  # seconds since the epoch


class FingerprintStore(Protocol):
    def get(self, node_id: str) -> CacheEntry | None: ...

    def put(self, node_id: str, entry: CacheEntry) -> None: ...

    def save(self) -> None: ...


class FileStore:
    """`<project>/.flowforge/cache/<profile>-<engine>.json`, written atomically.

    A file that cannot be read is an empty cache (everything builds) plus a warning.
    """

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._entries = self._load()
        self._dirty = False

    @classmethod
    def for_profile(cls, root: Path, profile_name: str, engine: str) -> FileStore:
        return cls(root / ".flowforge" / "cache" / f"{profile_name}-{engine}.json")

    def _load(self) -> dict[str, CacheEntry]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {k: CacheEntry(str(v["fingerprint"]), float(v["built_at"])) for k, v in data["nodes"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("the cache file %s is unreadable (%s); starting with an empty cache", self.path, exc)
            return {}

    def get(self, node_id: str) -> CacheEntry | None:
        with self._lock:
            return self._entries.get(node_id)

    def put(self, node_id: str, entry: CacheEntry) -> None:
        with self._lock:
            self._entries[node_id] = entry
            self._dirty = True

    def save(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            data = {"version": 1, "nodes": {k: vars(v) for k, v in sorted(self._entries.items())}}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
            self._dirty = False


class WarehouseStore:
    """The `_ff_meta` table: every successful build leaves a row there, so it is the store.

    Builds are recorded whatever the mode (the table is also the audit trail), so `ro` reads it
    like `rw`.
    """

    def __init__(self, executor: Executor):
        self._entries = executor.read_meta()

    def get(self, node_id: str) -> CacheEntry | None:
        return self._entries.get(node_id)

    def put(self, node_id: str, entry: CacheEntry) -> None:
        return None  # the build wrote its row; its timestamp is the warehouse's, never this clock

    def save(self) -> None:
        return None


@dataclass
class CachePolicy:
    """Decides skip or build per node, and records builds in the store."""

    plan: Plan
    mode: CacheMode
    store: FingerprintStore
    rebuild: Sequence[str] = ()
    _built_now: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _relations: set[str] | None = None

    def __post_init__(self) -> None:
        self._nodes = self.plan.node_map()
        produced = {n.relation for n in self.plan.nodes}
        self._external = {n.id for n in self.plan.nodes if set(n.source_relations) - produced}

    def skip_reason(self, node: PlanNode, executor: Executor, *, full_refresh: bool = False) -> str | None:
        """'cached' when the node can be skipped; None when it must be built."""
        if not self.mode.reads or node.materialization == "ephemeral" or self._forced(node):
            return None
        if full_refresh and node.materialization == "incremental":
            return None
        if node.id in self._external:
            return None
        entry = self.store.get(node.id)
        if entry is None or entry.fingerprint != node.fingerprint:
            return None
        for parent in self._table_parents(node):
            with self._lock:
                if parent in self._built_now:
                    return None
            parent_entry = self.store.get(parent)
            if parent_entry is not None and parent_entry.built_at > entry.built_at:
                return None
        if not self._exists(node.relation, executor):
            return None
        return "cached"

    def _exists(self, relation: str, executor: Executor) -> bool:
        """Relation existence from one catalog snapshot taken at the first question (a skipped
        node's relation predates this run); schema-qualified names are asked one by one."""
        if "." in relation:
            return executor.relation_kind(relation) is not None
        with self._lock:
            if self._relations is None:
                self._relations = executor.existing_relations()
            return relation in self._relations

    def built(self, node: PlanNode) -> None:
        with self._lock:
            self._built_now.add(node.id)
        if self.mode.writes:
            self.store.put(node.id, CacheEntry(node.fingerprint, time.time()))

    def save(self) -> None:
        if self.mode.writes:
            self.store.save()

    def _forced(self, node: PlanNode) -> bool:
        return any(fnmatch.fnmatchcase(node.id, g) or fnmatch.fnmatchcase(node.relation, g) for g in self.rebuild)

    def _table_parents(self, node: PlanNode) -> list[str]:
        """Parents that are built; through an ephemeral parent, its own parents."""
        out: list[str] = []
        for parent in node.depends_on:
            if self._nodes[parent].materialization == "ephemeral":
                out += self._table_parents(self._nodes[parent])
            else:
                out.append(parent)
        return out
