"""A stream on a real warehouse (a DuckDB file, a PostgreSQL schema): sessions equal to one pass
over the file however it is cut into runs, offsets committed with the rows, a failed batch
leaving nothing behind, changed settings read again from the start."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlglot import exp

from flowforge_compiler.compile import compile_project
from flowforge_compiler.project import load_project
from runtime import open_executor, run_node
from runtime.streaming import run_stream
from runtime.streaming import sink as sink_module
from runtime.streaming.events import parse_event
from runtime.streaming.sessionizer import batch_sessions
from runtime.streaming.sink import SessionSink
from tests.runtime.engines import engine_profile

ENGINES = [pytest.param("duckdb", marks=pytest.mark.duckdb), pytest.param("postgres", marks=pytest.mark.postgres)]
HOSTILE_USER = "O'Brien\"; drop table x; --"


def project_yml(gap: float = 30) -> str:
    return f"""
        name: s
        version: '1'
        streams:
          - name: web
            source: {{type: file_tail, path: events/*.jsonl, max_batch_bytes: 2048}}
            sessionize: {{user_column: user_id, time_column: ts, gap_minutes: {gap}, revenue_column: revenue}}
            into: sessions
        """


def event_lines(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    users = ["a", "b", "c", HOSTILE_USER, "7"]
    lines, t = [], 1_767_225_600
    for _ in range(count):
        t += rng.randint(0, 900)
        late = rng.choice([0, 0, 0, rng.randint(0, 5400)])  # a quarter arrive up to 90 minutes late
        lines.append(json.dumps({"user_id": rng.choice(users), "ts": t - late, "revenue": float(Decimal(rng.randint(0, 9999)) / 100)}))
    return lines


def stored(ex, table: str = "sessions") -> list[tuple]:
    rows = ex.fetch_rows(ex.statements.sql(exp.select("*").from_(exp.to_table(table))))
    return sorted((str(u), s, e, int(p), Decimal(r)) for _, u, s, e, p, r in rows)


def expected(plan, lines: list[str], gap_minutes: float | None = None) -> list[tuple]:
    node = plan.node("sessions")
    events = [parse_event(line.encode(), node.stream) for line in lines]
    sessions = batch_sessions(events, timedelta(minutes=gap_minutes or node.stream.gap_minutes))
    return sorted((s.user, s.start, s.end, s.pageviews, s.revenue) for s in sessions)


@pytest.fixture
def stream_project(make_project):
    def make(gap: float = 30):
        root = make_project({"project.yml": project_yml(gap)})
        (root / "events").mkdir()
        return root

    return make


def compiled(root: Path, profile):
    return compile_project(load_project(root), profile, environ={})


@pytest.mark.parametrize("engine", ENGINES)
def test_sessions_equal_one_pass_however_the_file_is_cut_into_runs(engine, stream_project, request, tmp_path: Path) -> None:
    root = stream_project()
    profile = engine_profile(request, engine, root, tmp_path)
    plan = compiled(root, profile)
    lines = event_lines(400, seed=1)
    events = root / "events" / "web.jsonl"
    written = 0
    with open_executor(profile) as ex:
        for cut in (37, 150, 151, 300, 400):  # appended in pieces, one run after each
            with events.open("a") as handle:
                handle.write("".join(line + "\n" for line in lines[written:cut]))
            written = cut
            result = run_node(plan, "sessions", executor=ex, root=root)
            assert result.status == "built"
        assert stored(ex) == expected(plan, lines)
        sink = SessionSink(ex, plan.node("sessions"))
        assert [c.offset for c in sink.checkpoints().values()] == [events.stat().st_size]
        assert run_stream(ex, plan.node("sessions"), root).events == 0  # nothing new: nothing done
        assert stored(ex) == expected(plan, lines)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_batch_that_fails_before_its_commit_leaves_rows_and_offsets_as_they_were(
    engine, stream_project, request, tmp_path: Path, monkeypatch
) -> None:
    root = stream_project()
    profile = engine_profile(request, engine, root, tmp_path)
    plan = compiled(root, profile)
    lines = event_lines(120, seed=2)
    (root / "events" / "web.jsonl").write_text("".join(line + "\n" for line in lines[:60]))
    node = plan.node("sessions")
    with open_executor(profile) as ex:
        run_stream(ex, node, root)
        before, offsets = stored(ex), SessionSink(ex, node).checkpoints()
        with (root / "events" / "web.jsonl").open("a") as handle:
            handle.write("".join(line + "\n" for line in lines[60:]))
        real_write = sink_module.SessionSink.write

        def write_then_die(self, *args, **kwargs):
            real_write(self, *args, **kwargs)  # every row and offset written, not committed
            raise KeyboardInterrupt("killed")

        monkeypatch.setattr(sink_module.SessionSink, "write", write_then_die)
        with pytest.raises(KeyboardInterrupt):
            run_stream(ex, node, root)
        monkeypatch.undo()
        assert stored(ex) == before and SessionSink(ex, node).checkpoints() == offsets
        run_stream(ex, node, root)
        assert stored(ex) == expected(plan, lines)  # each event exactly once


@pytest.mark.parametrize("engine", ENGINES)
def test_changed_settings_read_the_files_again_with_them(engine, stream_project, request, tmp_path: Path) -> None:
    root = stream_project(gap=30)
    profile = engine_profile(request, engine, root, tmp_path)
    lines = event_lines(200, seed=3)
    (root / "events" / "web.jsonl").write_text("".join(line + "\n" for line in lines))
    with open_executor(profile) as ex:
        run_stream(ex, compiled(root, profile).node("sessions"), root)
        (root / "project.yml").write_text(project_yml(gap=5).replace("\n        ", "\n").lstrip())
        plan = compiled(root, profile)
        run_stream(ex, plan.node("sessions"), root)
        assert stored(ex) == expected(plan, lines)
        assert len(stored(ex)) > len(expected(plan, lines, gap_minutes=30))  # not the old sessions


@pytest.mark.postgres
def test_two_processes_never_apply_the_same_lines(stream_project, request, tmp_path: Path) -> None:
    """On PostgreSQL the batch's first statement locks the stream's state row: a second runner
    waits for the first to commit, then reads the offsets it committed."""
    root = stream_project()
    profile = engine_profile(request, "postgres", root, tmp_path)
    plan = compiled(root, profile)
    node = plan.node("sessions")
    lines = event_lines(80, seed=4)
    (root / "events" / "web.jsonl").write_text("".join(line + "\n" for line in lines))
    with open_executor(profile) as first, open_executor(profile) as second:
        SessionSink(first, node).prepare()
        first.execute(first.statements.begin())
        SessionSink(first, node).claim()  # holds the row, as a batch in flight does
        done = threading.Event()
        worker = threading.Thread(target=lambda: (run_stream(second, node, root), done.set()))
        worker.start()
        time.sleep(1.0)
        assert not done.is_set()  # waiting on the lock
        run_stream_in_open_transaction(first, node, root)
        worker.join(timeout=60)
        assert done.is_set()
        assert stored(first) == expected(plan, lines)


def run_stream_in_open_transaction(ex, node, root: Path) -> None:
    """Finish the batch the test began by hand: read, merge, write, commit."""
    from runtime.streaming.file_tail import EventFiles, read_new
    from runtime.streaming.sessionizer import merge

    sink = SessionSink(ex, node)
    sink.reset(node.fingerprint)
    read = read_new(EventFiles(str(root / "events" / "*.jsonl"), root), {}, 1 << 20)
    events = [parse_event(line.data, node.stream) for line in read.lines]
    sink.write(merge([], events, timedelta(minutes=node.stream.gap_minutes)), read.checkpoints, [])
    ex.execute(ex.statements.commit())


def test_the_docs_describe_exactly_the_columns_the_sink_creates() -> None:
    from flowforge_compiler.compile import STREAM_COLUMNS

    assert list(STREAM_COLUMNS) == [name for name, _ in sink_module.SESSION_COLUMNS]


@pytest.mark.duckdb
def test_a_hostile_rejected_line_is_kept_verbatim_and_runs_nothing(stream_project, request, tmp_path: Path) -> None:
    root = stream_project()
    profile = engine_profile(request, "duckdb", root, tmp_path)
    plan = compiled(root, profile)
    hostile = """{"user_id": "x'); drop table sessions; --", "ts": "it's \\"late\\"; delete from _ff_stream_offsets"}"""
    (root / "events" / "web.jsonl").write_text(hostile + "\n" + event_lines(1, seed=5)[0] + "\n")
    with open_executor(profile) as ex:
        assert run_stream(ex, plan.node("sessions"), root).rejected == 1
        rows = ex.fetch_rows(ex.statements.select_where("_ff_stream_rejects", ["line", "reason"], exp.true()))
        assert rows[0][0] == hostile and "not an ISO 8601 time" in rows[0][1]
        assert len(stored(ex)) == 1 and len(SessionSink(ex, plan.node("sessions")).checkpoints()) == 1
