"""Run a stream node: read what is new, fold it into the sessions, commit rows and offsets together.

One call reads until it has caught up (each batch of at most `max_batch_bytes` its own
transaction) and returns; `ffc stream --follow` calls it again every `poll_seconds`, and an
orchestrator task calls it once per run, as a micro-batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from flowforge_compiler.plan import PlanNode, StreamEntry
from runtime.streaming.events import Rejected, parse_event
from runtime.streaming.sessionizer import Event, merge
from runtime.streaming.sink import RejectedLine, SessionSink
from runtime.streaming.sources import Source, open_source

if TYPE_CHECKING:
    from runtime.executors.base import Executor

log = logging.getLogger("flowforge")
REJECTED_TEXT = 1000  # characters of a rejected line kept


@dataclass
class StreamProgress:
    events: int = 0
    rejected: int = 0
    batches: int = 0
    sessions_written: int = 0


def run_stream(
    ex: Executor, node: PlanNode, root: Path, *, full_refresh: bool = False, stop: Callable[[], bool] = lambda: False
) -> StreamProgress:
    """Process everything new in the stream's files; `stop` is asked between batches (a SIGTERM
    lets the batch in flight commit)."""
    stream = node.stream
    if stream is None:
        raise ValueError(f"{node.id!r} is not a stream node")
    sink = SessionSink(ex, node)
    sink.prepare()
    source = open_source(stream, root)
    try:
        return _batches(ex, node, stream, sink, source, full_refresh, stop)
    finally:
        source.close()


def _batches(
    ex: Executor, node: PlanNode, stream: StreamEntry, sink: SessionSink, source: Source, full_refresh: bool, stop: Callable[[], bool]
) -> StreamProgress:
    gap = timedelta(minutes=stream.gap_minutes)
    progress = StreamProgress()
    first = True
    while True:
        settled = not (first and (full_refresh or sink.fingerprint() != node.fingerprint))
        if settled and not source.has_news(sink.checkpoints()):
            return progress
        with ex.transaction():  # the node's _ff_meta row, when it is being built, commits with the first batch
            fingerprint = sink.claim()
            if first and (full_refresh or fingerprint != node.fingerprint):
                if fingerprint is not None:
                    log.warning("%s: %s; reading its files again from the start", node.id, "--full-refresh" if full_refresh else "its settings changed")
                sink.reset(node.fingerprint)
            read = source.read(sink.checkpoints(), stream.source.max_batch_bytes)
            for note in read.notes:
                log.warning("%s: %s", node.id, note)
            events: list[Event] = []
            rejected: list[RejectedLine] = []
            for line in read.lines:
                try:
                    events.append(parse_event(line.data, stream))
                except Rejected as why:
                    rejected.append(RejectedLine(line.path, line.offset, str(why), line.data.decode("utf-8", "replace")[:REJECTED_TEXT]))
            stored = []
            if events:
                users = sorted({e.user for e in events})
                stored = sink.sessions_near(users, min(e.at for e in events) - gap, max(e.at for e in events) + gap)
            merged = merge(stored, events, gap)
            sink.write(merged, read.checkpoints, rejected)
        first = False
        progress.batches += 1
        progress.events += len(events)
        progress.rejected += len(rejected)
        progress.sessions_written += len(merged.sessions)
        for bad in rejected[:3]:
            log.warning("%s: %s at byte %d rejected: %s", node.id, bad.path, bad.offset, bad.reason)
        if not read.lines or stop():
            return progress
