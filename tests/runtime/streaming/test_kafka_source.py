"""The Kafka source against librdkafka's mock cluster (confluent-kafka's own test broker, not a
Kafka server): partitions read from the offsets the warehouse holds, exactly once."""

from __future__ import annotations

import json
import random

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.errors import ProfileError
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from runtime import open_executor
from runtime.streaming import run_stream
from runtime.streaming import sink as sink_module
from runtime.streaming.sink import SessionSink
from tests.runtime.streaming.test_stream_sink import expected, stored

pytestmark = pytest.mark.kafka

PROJECT = """name: k
version: '1'
streams:
  - name: web
    source: {{type: kafka, bootstrap_servers: '{brokers}', topic: {topic}, max_batch_bytes: 4096{options}}}
    sessionize: {{user_column: user_id, time_column: ts, gap_minutes: 30, revenue_column: revenue}}
    into: sessions
"""


def produce(producer, topic: str, lines: list[str]) -> None:
    for i, line in enumerate(lines):  # spread over the mock's 4 partitions (keyless records stick to one per batch)
        producer.produce(topic, value=line.encode(), partition=i % 4)
    producer.flush(10)


def events(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    t = 1_767_225_600
    out = []
    for _ in range(count):
        t += rng.randint(0, 600)
        out.append(json.dumps({"user_id": f"u{rng.randint(1, 9)}", "ts": t - rng.choice([0, 0, rng.randint(0, 4000)]), "revenue": rng.randint(0, 999) / 100}))
    return out


def stream_project(make_project, brokers: str, topic: str, options: str = ""):
    root = make_project({"project.yml": PROJECT.format(brokers=brokers, topic=topic, options=options)})
    profile = resolve_profile(root, None, environ={"FF_DUCKDB_PATH": str(root / "w.duckdb")})
    return root, profile, compile_project(load_project(root), profile, environ={})


def test_partitions_are_read_from_the_warehouses_offsets_and_each_record_once(kafka_mock, make_project) -> None:
    producer, brokers = kafka_mock
    root, profile, plan = stream_project(make_project, brokers, "clicks")
    lines = events(500, seed=1)
    produce(producer, "clicks", lines[:300])
    node = plan.node("sessions")
    with open_executor(profile) as ex:
        first = run_stream(ex, node, root)
        assert first.events == 300 and first.batches > 1  # 4 KB a batch
        produce(producer, "clicks", lines[300:])
        assert run_stream(ex, node, root).events == 200
        assert run_stream(ex, node, root).events == 0
        assert stored(ex) == expected(plan, lines)
        checkpoints = SessionSink(ex, node).checkpoints()
        assert sorted(checkpoints) == [f"kafka:clicks:{p}" for p in range(4)]  # the mock's 4 partitions
        assert sum(c.offset for c in checkpoints.values()) == 500


def test_a_batch_that_fails_before_its_commit_is_read_again_from_the_same_offsets(kafka_mock, make_project, monkeypatch) -> None:
    producer, brokers = kafka_mock
    root, profile, plan = stream_project(make_project, brokers, "retry")
    lines = events(120, seed=2)
    produce(producer, "retry", lines)
    node = plan.node("sessions")
    real_write = sink_module.SessionSink.write
    calls = []

    def die_once(self, *args, **kwargs):
        real_write(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")

    monkeypatch.setattr(sink_module.SessionSink, "write", die_once)
    with open_executor(profile) as ex:
        with pytest.raises(KeyboardInterrupt):
            run_stream(ex, node, root)
        monkeypatch.undo()
        run_stream(ex, node, root)
        assert stored(ex) == expected(plan, lines)


def test_a_secret_option_must_come_from_the_environment(kafka_mock, make_project, monkeypatch) -> None:
    _, brokers = kafka_mock
    with pytest.raises(Exception, match="looks secret"):
        stream_project(make_project, brokers, "t", ", options: {sasl.password: hunter2}")
    root, profile, plan = stream_project(make_project, brokers, "t", ", options: {sasl.password: '${KAFKA_PASSWORD}'}")
    assert "hunter2" not in plan.to_json()
    with open_executor(profile) as ex, pytest.raises(ProfileError, match="KAFKA_PASSWORD"):
        run_stream(ex, plan.node("sessions"), root)


def test_without_confluent_kafka_the_error_names_the_extra(make_project, monkeypatch) -> None:
    import sys

    from runtime.streaming.sources import open_source

    root, _, plan = stream_project(make_project, "127.0.0.1:9", "t")
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)  # as if not installed
    with pytest.raises(ProfileError, match=r'flowforge\[kafka\]'):
        open_source(plan.node("sessions").stream, root)
