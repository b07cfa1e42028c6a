"""The fingerprint cache: skip a node when nothing that defines its data has changed.

A node is skipped (reported as cached, never as built) only when all of these hold:
  - the cache mode reads (`rw`, `ro`) and no `--rebuild` glob names it;
  - the warehouse proves it: the latest `_ff_meta` row of the node (written in the same
    transaction as every build, in every mode) holds its current fingerprint, and its relation
    exists;
  - it reads no external source (FlowForge cannot see that data change);
  - no parent was built after it, in this run or (by the warehouse's timestamps) since.

The warehouse is the truth. The optional file store (`--cache-store file`) is a pre-filter: a
node whose fingerprint the file does not hold is built without asking; one it holds is still
checked against `_ff_meta`, so the file can make a run cheaper, never serve a stale table. The
file records each node as soon as it is built (a journal line), so a killed run's finished
nodes are not rebuilt.
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
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO

from flowforge_compiler.plan import Plan, PlanNode
from runtime.executors.base import Executor
from runtime.meta_store import CacheEntry

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


class FileStore:
    """`<project>/.flowforge/cache/<profile>-<engine>.json` (written atomically) plus a journal
    beside it that gets one line per build as it happens.

    A file that cannot be read is an empty cache (everything builds) plus a warning.
    """

    def __init__(self, path: Path):
        self.path = path
        self.journal = path.with_name(path.name + ".journal")
        self._lock = threading.Lock()
        self._entries = self._load()
        self._dirty = False
        self._appending: IO[str] | None = None  # the journal, open from the first build to save()

    @classmethod
    def for_profile(cls, root: Path, profile_name: str, engine: str) -> FileStore:
        return cls(root / ".flowforge" / "cache" / f"{profile_name}-{engine}.json")

    def _load(self) -> dict[str, CacheEntry]:
        entries: dict[str, CacheEntry] = {}
        try:
            if self.path.exists():
                data = json.loads(self.path.read_text(encoding="utf-8"))
                entries = {k: CacheEntry(str(v["fingerprint"]), float(v["built_at"])) for k, v in data["nodes"].items()}
            if self.journal.exists():
                for line in self.journal.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        row = json.loads(line)
                        entries[str(row["node"])] = CacheEntry(str(row["fingerprint"]), float(row["built_at"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("the cache file %s is unreadable (%s); starting with an empty cache", self.path, exc)
            return {}
        return entries

    def get(self, node_id: str) -> CacheEntry | None:
        with self._lock:
            return self._entries.get(node_id)

    def put(self, node_id: str, entry: CacheEntry) -> None:
        """Record a build now: a journal line survives a run that is killed later."""
        line = json.dumps({"node": node_id, **asdict(entry)}, sort_keys=True) + "\n"
        with self._lock:
            self._entries[node_id] = entry
            self._dirty = True
            if self._appending is None:
                self.journal.parent.mkdir(parents=True, exist_ok=True)
                self._appending = self.journal.open("a", encoding="utf-8")
            self._appending.write(line)
            self._appending.flush()  # in the operating system's hands: a killed process keeps it

    def save(self) -> None:
        """Fold the journal into the file, atomically."""
        with self._lock:
            if self._appending is not None:
                self._appending.close()
                self._appending = None
            if not self._dirty:
                return
            data = {"version": 1, "nodes": {k: vars(v) for k, v in sorted(self._entries.items())}}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
            self.journal.unlink(missing_ok=True)
            self._dirty = False


@dataclass(frozen=True)
class Decision:
    build: bool
    reason: str


class WarehouseStore:
    """The latest `_ff_meta` row of every node: what the warehouse holds, read once, lazily."""

    def __init__(self, executor: Executor):
        self._executor = executor
        self._entries: dict[str, CacheEntry] | None = None
        self._lock = threading.Lock()

    def get(self, node_id: str) -> CacheEntry | None:
        with self._lock:
            if self._entries is None:
                self._entries = self._executor.meta.read()
            return self._entries.get(node_id)


@dataclass
class CachePolicy:
    """Decides skip or build per node from the warehouse; keeps the optional file in step."""

    plan: Plan
    mode: CacheMode
    warehouse: WarehouseStore
    rebuild: Sequence[str] = ()
    file: FileStore | None = None
    _built_now: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _relations: set[str] | None = None

    @classmethod
    def for_run(
        cls, plan: Plan, executor: Executor, root: Path, profile_name: str, *, mode: str = "rw", store: str = "warehouse",
        rebuild: Sequence[str] = (),
    ) -> CachePolicy:
        """The policy a run uses: `_ff_meta` always, plus the file under `root` with `store="file"`."""
        file = FileStore.for_profile(root, profile_name, executor.engine) if store == "file" else None
        return cls(plan, CacheMode(mode), WarehouseStore(executor), rebuild, file=file)

    def __post_init__(self) -> None:
        produced = {n.relation for n in self.plan.nodes}
        seeded = {s.identifier if s.schema_ is None else f"{s.schema_}.{s.identifier}" for s in self.plan.sources if s.node}
        self._external = {n.id for n in self.plan.nodes if set(n.source_relations) - produced - seeded}

    def skip_reason(self, node: PlanNode, executor: Executor, *, full_refresh: bool = False) -> str | None:
        """'cached' when the node can be skipped; None when it must be built."""
        decision = self.decide(node, executor, full_refresh=full_refresh)
        return None if decision.build else decision.reason

    def decide(self, node: PlanNode, executor: Executor, *, full_refresh: bool = False) -> Decision:
        """Build or skip, and why (what `ffc plan` shows)."""
        if not self.mode.reads:
            return Decision(True, f"cache mode {self.mode.value}")
        if not node.materialization.cacheable:
            return Decision(True, node.materialization.uncached_reason)
        if self._forced(node):
            return Decision(True, "--rebuild names it")
        if full_refresh and node.materialization.full_refresh_rebuilds:
            return Decision(True, "--full-refresh")
        if node.id in self._external:
            return Decision(True, "reads an external source, whose changes FlowForge cannot see")
        if node.render_at_run_time is not None:
            return Decision(True, "renders at run time, reading the warehouse")
        if self.file is not None:
            hint = self.file.get(node.id)
            if hint is None:  # the file never saw a build: no need to ask the warehouse
                return Decision(True, "never built here (by the cache file)")
            if hint.fingerprint != node.fingerprint:
                return Decision(True, "changed since its last build")
        entry = self.warehouse.get(node.id)
        if entry is None:
            return Decision(True, "never built here")
        if entry.fingerprint != node.fingerprint:
            return Decision(True, "changed since its last build")
        for parent in self.plan.built_parents(node.id):
            with self._lock:
                if parent in self._built_now:
                    return Decision(True, f"its parent {parent!r} builds in this run")
            parent_entry = self.warehouse.get(parent)
            if parent_entry is not None and parent_entry.built_at > entry.built_at:
                return Decision(True, f"its parent {parent!r} was built after it")
        if not self._exists(node.relation, executor):
            return Decision(True, f"its relation {node.relation!r} is missing")
        return Decision(False, "cached")

    def plan_run(self, node_ids: Sequence[str], executor: Executor, *, full_refresh: bool = False) -> dict[str, Decision]:
        """Every decision of a run up front (in the plan's order), asking the warehouse once: a
        node decided "build" counts as built for its children, as it will be by the time they run."""
        wanted = set(node_ids)
        decisions: dict[str, Decision] = {}
        for node in self.plan.nodes:
            if node.id not in wanted:
                continue
            decisions[node.id] = decision = self.decide(node, executor, full_refresh=full_refresh)
            if decision.build and node.builds_relation:
                with self._lock:
                    self._built_now.add(node.id)
        return decisions

    def _exists(self, relation: str, executor: Executor) -> bool:
        """Relation existence from one catalog snapshot of the profile's schema (where every node
        builds), taken at the first question: a skipped node's relation predates this run."""
        with self._lock:
            if self._relations is None:
                self._relations = executor.existing_relations()
            return executor.catalog_name(relation) in self._relations

    def built(self, node: PlanNode) -> None:
        """After a build (whose `_ff_meta` row is committed): remember it for this run and, when
        the mode records, in the file."""
        with self._lock:
            self._built_now.add(node.id)
        if self.file is not None and self.mode.writes:
            self.file.put(node.id, CacheEntry(node.fingerprint, time.time()))

    def save(self) -> None:
        if self.file is not None and self.mode.writes:
            self.file.save()

    def _forced(self, node: PlanNode) -> bool:
        return any(fnmatch.fnmatchcase(node.id, g) or fnmatch.fnmatchcase(node.relation, g) for g in self.rebuild)
