"""`ffc stream` as users run it, and the promise it keeps: while a writer appends to the file,
`ffc stream --follow` is killed with SIGKILL at random moments and started again, over and over;
at the end the sessions table holds exactly the sessions one SQL pass over the final file gives."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from runtime.streaming.sessionizer import session_id

pytestmark = pytest.mark.e2e
ENGINES = [pytest.param("duckdb", marks=pytest.mark.duckdb), pytest.param("postgres", marks=pytest.mark.postgres)]

PROJECT_YML = """name: clicks
version: '1'
streams:
  - name: web_sessions
    source: {type: file_tail, path: events/events.jsonl, poll_seconds: 0.05, max_batch_bytes: 4096}
    sessionize: {user_column: user_id, time_column: ts, gap_minutes: 30, revenue_column: revenue}
    into: fct_sessions_streaming
    tags: [streaming]
tests:
  - {type: unique, table: fct_sessions_streaming, column: session_id, tags: [streaming]}
  - {type: row_count_between, table: fct_sessions_streaming, min: 1, tags: [streaming]}
"""

# Writes events in pieces that split lines, flushing each piece, with pauses between.
APPENDER = r"""
import json, random, sys, time
path, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
t = 1767225600
with open(path, "ab", buffering=0) as out:
    pending = b""
    for i in range(count):
        t += rng.randint(0, 600)
        late = rng.choice([0, 0, 0, rng.randint(0, 4000)])
        record = {"user_id": "u%d" % rng.randint(1, 25), "ts": t - late, "revenue": rng.randint(0, 99999) / 100}
        pending += (json.dumps(record) + "\n").encode()
        if rng.random() < 0.3:
            cut = rng.randint(1, len(pending))
            out.write(pending[:cut])
            pending = pending[cut:]
            time.sleep(rng.uniform(0, 0.004))
    out.write(pending)
"""

REFERENCE = """
with e as (
    select user_id, to_timestamp(ts)::timestamp as t, revenue
    from read_json(?, format = 'newline_delimited', columns = {user_id: 'VARCHAR', ts: 'BIGINT', revenue: 'DECIMAL(38, 9)'})
),
g as (select *, case when t - lag(t) over (partition by user_id order by t) <= interval 30 minute then 0 else 1 end as starts from e),
s as (select *, sum(starts) over (partition by user_id order by t rows unbounded preceding) as n from g)
select user_id, min(t), max(t), count(*), sum(revenue) from s group by user_id, n order by 1, 2
"""


def reference_sessions(events: Path) -> list[tuple]:
    """Sessions by one SQL pass over the final file, independent of FlowForge's code."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    rows = con.execute(REFERENCE, [str(events)]).fetchall()
    return [(u, s, e, int(n), Decimal(r)) for u, s, e, n, r in rows]


def stream_env(engine: str, tmp_path: Path, request) -> dict[str, str]:
    if engine == "duckdb":
        return {"FF_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    return {"FF_ENGINE": "postgres", "FF_PG_DSN": request.getfixturevalue("pg_dsn"), "FF_PG_SCHEMA": request.getfixturevalue("pg_schema")}


def table_rows(engine: str, env: dict[str, str]) -> list[tuple]:
    sql = "select session_id, user_id, session_start, session_end, pageviews, revenue from fct_sessions_streaming"
    if engine == "duckdb":
        with duckdb.connect(env["FF_DUCKDB_PATH"], read_only=True) as con:
            rows = con.execute(sql).fetchall()
    else:
        import psycopg

        with psycopg.connect(env["FF_PG_DSN"].replace("postgresql+psycopg://", "postgresql://")) as con:
            rows = con.execute(sql.replace("from ", f'from "{env["FF_PG_SCHEMA"]}".')).fetchall()
    return sorted(rows, key=lambda r: (r[1], r[2]))


def ffc_process(project: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("FF_")} | env
    return subprocess.Popen(
        [sys.executable, "-m", "flowforge.cli", "stream", str(project), *args],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def clicks(tmp_path: Path) -> Path:
    project = tmp_path / "clicks"
    (project / "events").mkdir(parents=True)
    (project / "project.yml").write_text(PROJECT_YML)
    (project / "events" / "events.jsonl").write_bytes(b"")
    return project


@pytest.mark.parametrize("engine", ENGINES)
def test_kill_9_at_random_points_and_restart_gives_the_sessions_of_one_pass(engine, clicks: Path, tmp_path: Path, request, ffc) -> None:
    env = stream_env(engine, tmp_path, request)
    events = clicks / "events" / "events.jsonl"
    appender = subprocess.Popen([sys.executable, "-c", APPENDER, str(events), "6000", "9"])
    rng = random.Random(17)
    kills = 0
    try:
        while appender.poll() is None or kills < 6:
            follower = ffc_process(clicks, env, "--follow")
            time.sleep(rng.uniform(0.2, 1.2))
            follower.send_signal(signal.SIGKILL)
            follower.wait(timeout=30)
            kills += 1
            if kills > 60:
                break
    finally:
        appender.wait(timeout=120)
    assert kills >= 6
    result = ffc("stream", clicks, "--once", env=env)
    assert result.exit_code == 0, result.output
    rows = table_rows(engine, env)
    expected = reference_sessions(events)
    assert len(expected) > 100
    assert [(u, s, e, int(n), Decimal(r)) for _, u, s, e, n, r in rows] == expected
    assert all(sid == session_id(u, s) for sid, u, s, *_ in rows)
    checks = ffc("test", clicks, "--select", "streaming", env=env)
    assert checks.exit_code == 0, checks.output
    assert "passed: 2" in checks.stdout


def test_sigterm_lets_the_batch_in_flight_commit_and_exits_0(clicks: Path, tmp_path: Path) -> None:
    env = {"FF_DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    events = clicks / "events" / "events.jsonl"
    lines = [json.dumps({"user_id": f"u{i % 7}", "ts": 1767225600 + 60 * i, "revenue": 1.25}) for i in range(3000)]
    events.write_text("".join(line + "\n" for line in lines))
    follower = ffc_process(clicks, env, "--follow")
    time.sleep(1.5)
    follower.send_signal(signal.SIGTERM)
    assert follower.wait(timeout=60) == 0, follower.stderr.read()
    with events.open("a") as handle:  # more after it stopped: the next run takes exactly those
        handle.write(json.dumps({"user_id": "u0", "ts": 1767225600 + 60 * 3000, "revenue": 1}) + "\n")
    subprocess.run([sys.executable, "-m", "flowforge.cli", "stream", str(clicks)], env=os.environ | env, check=True, capture_output=True)
    with duckdb.connect(env["FF_DUCKDB_PATH"], read_only=True) as con:
        assert con.execute("select sum(pageviews), sum(revenue) from fct_sessions_streaming").fetchone() == (3001, Decimal("3751.000000000"))


def test_a_stream_that_does_not_exist_is_exit_1_naming_the_streams(clicks: Path, ffc) -> None:
    result = ffc("stream", clicks, "--stream", "nope")
    assert result.exit_code == 1
    assert "no stream named 'nope'" in result.output and "web_sessions (into fct_sessions_streaming)" in result.output


def test_bad_stream_config_is_a_project_error_with_its_line(make_project, ffc) -> None:
    project = make_project(
        {
            "project.yml": "name: t\nversion: '1'\nstreams:\n  - name: s\n    source: {type: file_tail, path: ../outside.jsonl}\n"
            "    sessionize: {user_column: u, time_column: t, gap_minutes: 30}\n    into: x\n"
        }
    )
    result = ffc("stream", project)
    assert result.exit_code == 1
    assert "project.yml:5" in result.output and "leaves the project folder" in result.output


def test_the_streaming_example_builds_its_sessions_and_the_model_reading_them(example_copy, ffc) -> None:
    project = example_copy("streaming")
    result = ffc("build", project, "--env", "dev")
    assert result.exit_code == 0, result.output
    assert "built stream fct_sessions_streaming (240 rows)" in result.stdout
    again = ffc("stream", project, "--env", "dev")
    assert again.exit_code == 0 and "0 events" in again.stdout  # nothing new: nothing read twice
    with duckdb.connect(str(project / ".local" / "streaming.duckdb"), read_only=True) as con:
        assert con.execute("select sum(pageviews) from daily_revenue").fetchone() == (240,)


@pytest.mark.kafka
def test_kill_9_while_reading_kafka_gives_the_sessions_of_one_pass(kafka_mock, tmp_path: Path, ffc) -> None:
    """As above, with the Kafka source against librdkafka's mock cluster (in this test process;
    `ffc stream` reaches it over localhost): partitions' offsets commit with the rows."""
    import threading

    producer, brokers = kafka_mock
    project = tmp_path / "kclicks"
    project.mkdir()
    (project / "project.yml").write_text(
        PROJECT_YML.replace("{type: file_tail, path: events/events.jsonl, poll_seconds: 0.05, max_batch_bytes: 4096}",
                            f"{{type: kafka, bootstrap_servers: '{brokers}', topic: clicks, poll_seconds: 0.05, max_batch_bytes: 4096}}")
    )
    env = {"FF_DUCKDB_PATH": str(tmp_path / "k.duckdb")}
    produced = tmp_path / "produced.jsonl"
    rng = random.Random(23)

    def produce() -> None:
        t = 1767225600
        with produced.open("w") as copy:
            for i in range(3000):
                t += rng.randint(0, 600)
                line = json.dumps({"user_id": f"u{rng.randint(1, 20)}", "ts": t - rng.choice([0, 0, 0, rng.randint(0, 4000)]), "revenue": rng.randint(0, 9999) / 100})
                producer.produce("clicks", value=line.encode())
                copy.write(line + "\n")
                if i % 50 == 0:
                    producer.flush(10)
                    time.sleep(0.02)
        producer.flush(10)

    writer = threading.Thread(target=produce)
    writer.start()
    kills = 0
    while writer.is_alive() or kills < 5:
        follower = ffc_process(project, env, "--follow")
        time.sleep(random.Random(kills).uniform(0.5, 1.5))
        follower.send_signal(signal.SIGKILL)
        follower.wait(timeout=30)
        kills += 1
        if kills > 40:
            break
    writer.join(timeout=60)
    result = ffc("stream", project, "--once", env=env)
    assert result.exit_code == 0, result.output
    rows = table_rows("duckdb", env)
    assert [(u, s, e, int(n), Decimal(r)) for _, u, s, e, n, r in rows] == reference_sessions(produced)


def test_rotation_and_truncation_between_runs_lose_and_double_nothing(clicks: Path, tmp_path: Path, ffc) -> None:
    """logrotate's two ways, each while the follower is stopped (so it cannot have read ahead):
    rename the file away with unread lines in it and start a new one (the rest of the old file
    is still read), then truncate the new one in place and write to it again (read from its
    start)."""
    env = {"FF_DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    events = clicks / "events" / "events.jsonl"
    batches = []

    def write(path: Path, first: int, count: int, mode: str = "a") -> None:
        lines = [json.dumps({"user_id": f"u{i % 5}", "ts": 1767225600 + 700 * i, "revenue": 0.5}) for i in range(first, first + count)]
        with path.open(mode) as handle:
            handle.write("".join(line + "\n" for line in lines))
        batches.append(lines)

    def follow_for(seconds: float) -> None:
        follower = ffc_process(clicks, env, "--follow")
        time.sleep(seconds)
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(timeout=60) == 0

    write(events, 0, 200)
    follow_for(1.5)
    write(events, 200, 50)  # not read yet when the file is rotated
    os.rename(events, clicks / "events" / "events.jsonl.1")
    write(events, 250, 100, "w")
    follow_for(1.5)
    write(events, 350, 40, "w")  # copytruncate: the file starts again, shorter
    follow_for(1.5)
    assert ffc("stream", clicks, env=env).exit_code == 0
    everything = tmp_path / "all.jsonl"
    everything.write_text("".join(line + "\n" for lines in batches for line in lines))
    rows = table_rows("duckdb", env)
    assert [(u, s, e, int(n), Decimal(r)) for _, u, s, e, n, r in rows] == reference_sessions(everything)
    assert sum(r[4] for r in rows) == 390


def test_a_poison_line_is_rejected_and_the_lines_around_it_are_ingested(clicks: Path, tmp_path: Path, ffc) -> None:
    """1,500 nested brackets (3 KB) used to stop every `ffc stream` with a RecursionError."""
    env = stream_env("duckdb", tmp_path, None)
    poison = b'{"user_id": "u1", "ts": 1767225600, "x": ' + b"[" * 1500 + b"]" * 1500 + b"}"
    good = [json.dumps({"user_id": "u1", "ts": 1767225600 + i, "revenue": 1}).encode() for i in (0, 60)]
    (clicks / "events" / "events.jsonl").write_bytes(b"\n".join([good[0], poison, good[1]]) + b"\n")
    result = ffc("stream", clicks, env=env)
    assert result.exit_code == 0, result.output
    with duckdb.connect(env["FF_DUCKDB_PATH"], read_only=True) as con:
        assert con.execute("select pageviews from fct_sessions_streaming").fetchall() == [(2,)]
        assert con.execute("select file_offset, reason from _ff_stream_rejects").fetchall() == [(len(good[0]) + 1, "not a JSON line (nested too deeply to read)")]
    again = ffc("stream", clicks, env=env)
    assert again.exit_code == 0 and "0 events" in again.stdout, again.output  # read once, not again


def outside_events(clicks: Path, tmp_path: Path) -> Path:
    """A log folder beside the project, and the stream pointed at it by absolute path."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "web.jsonl").write_text(json.dumps({"user_id": "u1", "ts": 1767225600, "revenue": 2}) + "\n")
    (clicks / "project.yml").write_text(PROJECT_YML.replace("path: events/events.jsonl", f"path: {logs}/*.jsonl"))
    return logs


def test_a_stream_reading_outside_the_project_is_refused_before_it_reads(clicks: Path, tmp_path: Path, ffc) -> None:
    """`path: /etc/passwd` used to copy the file into _ff_stream_rejects."""
    env = stream_env("duckdb", tmp_path, None)
    (clicks / "project.yml").write_text(PROJECT_YML.replace("path: events/events.jsonl", "path: /etc/passwd"))
    result = ffc("stream", clicks, env=env)
    assert result.exit_code == 1, result.output
    assert "project.yml" in result.output and "/etc/passwd" in result.output and "allow_outside" in result.output
    assert not Path(env["FF_DUCKDB_PATH"]).exists()  # nothing opened, nothing read
    (clicks / "project.yml").write_text(PROJECT_YML.replace("path: events/events.jsonl", "path: ../../etc/passwd"))
    assert ffc("stream", clicks, env=env).exit_code == 1  # relative, through `..`: the same
    assert ffc("ls", clicks, env=env).exit_code == 1  # every command compiles the same refusal


@pytest.mark.parametrize("allowed_by", ["flag", "profile"])
def test_a_folder_outside_is_read_when_the_flag_or_the_profile_allows_it(clicks: Path, tmp_path: Path, ffc, allowed_by: str) -> None:
    env = stream_env("duckdb", tmp_path, None)
    logs = outside_events(clicks, tmp_path)
    if allowed_by == "flag":
        result = ffc("stream", clicks, "--allow-outside", str(logs), env=env)
    else:
        (clicks / "profiles.yml").write_text("default:\n  engine: duckdb\n  allow_outside: [../logs]\n")
        result = ffc("stream", clicks, env=env)
    assert result.exit_code == 0 and "1 events" in result.stdout, result.output


def test_allow_outside_must_be_a_list_of_folders(clicks: Path, tmp_path: Path, ffc) -> None:
    (clicks / "profiles.yml").write_text("default:\n  engine: duckdb\n  allow_outside: /var/log\n")
    result = ffc("ls", clicks, env=stream_env("duckdb", tmp_path, None))
    assert result.exit_code == 1 and "profiles.yml:3" in result.output and "allow_outside" in result.output, result.output


def test_a_file_linked_into_the_events_folder_from_outside_is_not_ingested(clicks: Path, tmp_path: Path, ffc) -> None:
    env = stream_env("duckdb", tmp_path, None)
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps({"user_id": "intruder", "ts": 1767225600}) + "\n")
    (clicks / "project.yml").write_text(PROJECT_YML.replace("path: events/events.jsonl", "path: events/*.jsonl"))
    (clicks / "events" / "events.jsonl").write_text(json.dumps({"user_id": "u1", "ts": 1767225600}) + "\n")
    (clicks / "events" / "linked.jsonl").symlink_to(secret)
    result = ffc("stream", clicks, env=env)
    assert result.exit_code == 0 and "1 events (0 rejected)" in result.stdout, result.output
    assert "linked.jsonl" in result.output and "not read" in result.output
    with duckdb.connect(env["FF_DUCKDB_PATH"], read_only=True) as con:
        assert con.execute("select user_id from fct_sessions_streaming").fetchall() == [("u1",)]
        assert con.execute("select count(*) from _ff_stream_rejects").fetchone() == (0,)
