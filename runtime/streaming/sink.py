"""Where a stream's state lives: its sessions table, and beside it, in the same warehouse, the
file offsets it has consumed, its state row and the lines it rejected. One transaction per
batch writes all of them, so a killed process leaves either the whole batch or none of it.

Every statement is built with sqlglot (runtime/statements.py) and rendered for the engine."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from flowforge_compiler.plan import STREAM_TABLE_COLUMNS, PlanNode
from flowforge_compiler.sql_names import column, literal
from runtime.streaming.file_tail import FileCheckpoint
from runtime.streaming.sessionizer import Merge, Session

if TYPE_CHECKING:
    from runtime.executors.base import Executor

SESSION_COLUMNS = [(name, kind) for name, kind, _ in STREAM_TABLE_COLUMNS]
OFFSETS, STATE, REJECTS = "_ff_stream_offsets", "_ff_stream_state", "_ff_stream_rejects"
OFFSET_COLUMNS = [("stream", "VARCHAR"), ("file_key", "VARCHAR"), ("path", "VARCHAR"), ("file_offset", "BIGINT"), ("head", "VARCHAR")]
STATE_COLUMNS = [("stream", "VARCHAR"), ("fingerprint", "VARCHAR"), ("batches", "BIGINT")]
REJECT_COLUMNS = [("stream", "VARCHAR"), ("path", "VARCHAR"), ("file_offset", "BIGINT"), ("reason", "VARCHAR"), ("line", "VARCHAR")]
CHUNK = 500  # values per IN list or INSERT


@dataclass(frozen=True)
class RejectedLine:
    path: str
    offset: int
    reason: str
    line: str


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class SessionSink:
    """The warehouse side of one stream node (`node.relation` holds its sessions)."""

    def __init__(self, ex: Executor, node: PlanNode):
        self.ex = ex
        self.node = node
        self.table = node.relation
        self._mine = exp.EQ(this=column("stream"), expression=literal(node.id))

    def prepare(self) -> None:
        """Idempotent, outside any batch: the tables, and the stream's state row."""
        for name, columns in ((self.table, SESSION_COLUMNS), (OFFSETS, OFFSET_COLUMNS), (STATE, STATE_COLUMNS), (REJECTS, REJECT_COLUMNS)):
            self.ex.create_if_missing(self.ex.statements.create_table(name, columns, exists=True), partial(self._exists, name))
        if not self._state_row():
            self.ex.execute(self.ex.statements.insert_values(STATE, ["stream", "fingerprint", "batches"], [[self.node.id, None, 0]]))

    def _exists(self, name: str) -> bool:
        return self.ex.relation_kind(name) is not None

    def _state_row(self) -> list[tuple[Any, ...]]:
        return self.ex.fetch_rows(self.ex.statements.select_where(STATE, ["fingerprint"], self._mine))

    def fingerprint(self) -> str | None:
        """The fingerprint the stored sessions were computed with (read without claiming)."""
        rows = self._state_row()
        return rows[0][0] if rows else None

    def claim(self) -> str | None:
        """First statement of a batch: counts the batch and, on engines with row locks, holds the
        stream's row until commit, so two processes never apply the same lines; the
        fingerprint the stored sessions were computed with."""
        self.ex.execute(self.ex.statements.update_where(STATE, {"batches": exp.Add(this=column("batches"), expression=literal(1))}, self._mine))
        return self.fingerprint()

    def reset(self, fingerprint: str) -> None:
        """The stream's settings changed (or --full-refresh): forget its sessions and offsets, so
        the files are read again from their start with the new settings."""
        self.ex.execute(self.ex.statements.delete_where(self.table, exp.true()))
        self.ex.execute(self.ex.statements.delete_where(OFFSETS, self._mine))
        self.ex.execute(self.ex.statements.delete_where(REJECTS, self._mine))
        self.ex.execute(self.ex.statements.update_where(STATE, {"fingerprint": literal(fingerprint)}, self._mine))

    def checkpoints(self) -> dict[str, FileCheckpoint]:
        rows = self.ex.fetch_rows(self.ex.statements.select_where(OFFSETS, ["file_key", "path", "file_offset", "head"], self._mine))
        return {key: FileCheckpoint(key, path, int(offset), head) for key, path, offset, head in rows}

    def sessions_near(self, users: Sequence[str], earliest: datetime, latest: datetime) -> list[Session]:
        """The stored sessions of `users` that an event between `earliest` and `latest` (each
        already widened by the gap) can reach."""
        out: list[Session] = []
        names = ["user_id", "session_start", "session_end", "pageviews", "revenue"]
        window = exp.and_(
            exp.GTE(this=column("session_end"), expression=literal(earliest)),
            exp.LTE(this=column("session_start"), expression=literal(latest)),
        )
        for chunk in _chunks(sorted(users)):
            where = exp.and_(column("user_id").isin(*(literal(u) for u in chunk)), window)
            for user, start, end, pageviews, revenue in self.ex.fetch_rows(self.ex.statements.select_where(self.table, names, where)):
                out.append(Session(str(user), start, end, int(pageviews), revenue))
        return out

    def write(self, merged: Merge, checkpoints: dict[str, FileCheckpoint], rejected: Sequence[RejectedLine]) -> None:
        statements = self.ex.statements
        for chunk in _chunks(merged.replaced):
            self.ex.execute(statements.delete_where(self.table, column("session_id").isin(*(literal(i) for i in chunk))))
        rows = [[s.id, s.user, s.start, s.end, s.pageviews, s.revenue] for s in merged.sessions]
        for chunk in _chunks(rows):
            self.ex.execute(statements.insert_values(self.table, [c for c, _ in SESSION_COLUMNS], chunk))
        self.ex.execute(statements.delete_where(OFFSETS, self._mine))
        offsets = [[self.node.id, c.key, c.path, c.offset, c.head] for c in checkpoints.values()]
        for chunk in _chunks(offsets):
            self.ex.execute(statements.insert_values(OFFSETS, [c for c, _ in OFFSET_COLUMNS], chunk))
        reject_rows = [[self.node.id, r.path, r.offset, r.reason, r.line] for r in rejected]
        for chunk in _chunks(reject_rows):
            self.ex.execute(statements.insert_values(REJECTS, [c for c, _ in REJECT_COLUMNS], chunk))
