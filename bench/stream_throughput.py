"""Streaming: events per second into sessions, and latency from an append to its visible row.

Throughput: a JSON Lines file of N events (40 users, a quarter of them late by up to 90 minutes)
processed by one `run_stream` call from a cold start, then N more appended and processed (the
merge path against stored sessions). Latency: a follower polls every 50 ms (as `ffc stream
--follow` with `poll_seconds: 0.05`) while single events are appended; the time until each
event's session is readable, median and 95th percentile of 40. DuckDB always; PostgreSQL too when
FF_TEST_PG_DSN (or --dsn) is set. `--kafka-mock` also reads the same events from a Kafka topic
on librdkafka's mock cluster (the client library's test broker, in this process: a figure for
FlowForge's side of the source, not for a Kafka deployment).

    python bench/stream_throughput.py [--events 200000] [--dsn postgresql+psycopg://...] [--kafka-mock]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlglot import exp

from flowforge_compiler.compile import compile_project
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from flowforge_compiler.sql_names import column, literal
from runtime import open_executor
from runtime.streaming import run_stream

PROJECT = """name: bench_stream
version: '1'
streams:
  - name: clicks
    source: {type: file_tail, path: events.jsonl, poll_seconds: 0.05}
    sessionize: {user_column: user_id, time_column: ts, gap_minutes: 30, revenue_column: revenue}
    into: sessions
"""


KAFKA_PROJECT = """name: bench_kafka
version: '1'
streams:
  - name: clicks
    source: {{type: kafka, bootstrap_servers: '{brokers}', topic: clicks}}
    sessionize: {{user_column: user_id, time_column: ts, gap_minutes: 30, revenue_column: revenue}}
    into: sessions
"""


def measure_kafka(environ: dict[str, str], events: int) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": "unused:9092", "test.mock.num.brokers": 1, "log_level": 0})
    brokers = ",".join(f"{b.host}:{b.port}" for b in producer.list_topics(timeout=10).brokers.values())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "project.yml").write_text(KAFKA_PROJECT.format(brokers=brokers))
        write_events(root / "events.jsonl", events, 1, 1_767_225_600)
        for line in (root / "events.jsonl").read_text().splitlines():
            producer.produce("clicks", value=line.encode())
            producer.poll(0)
        producer.flush(60)
        profile = resolve_profile(root, None, environ=environ)
        plan = compile_project(load_project(root), profile, environ=environ)
        with open_executor(profile) as ex:
            ex.prepare_run(plan)
            started = time.perf_counter()
            done = run_stream(ex, plan.node("sessions"), root)
            seconds = time.perf_counter() - started
    print("Kafka source on librdkafka's mock cluster, into DuckDB:")
    print(f"  {done.events:,} events: {seconds:6.2f} s  {done.events / seconds:9,.0f} events/s  ({done.batches} batches, 4 partitions)")


def write_events(path: Path, count: int, seed: int, start: int) -> int:
    rng = random.Random(seed)
    t = start
    with path.open("a") as handle:
        for _ in range(count):
            t += rng.randint(0, 30)
            late = rng.choice([0, 0, 0, rng.randint(0, 5400)])
            handle.write(json.dumps({"user_id": f"u{rng.randint(1, 40)}", "ts": t - late, "revenue": rng.randint(0, 9999) / 100}) + "\n")
    return t


def measure(name: str, environ: dict[str, str], events: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "project.yml").write_text(PROJECT)
        (root / "events.jsonl").write_text("")
        profile = resolve_profile(root, None, environ=environ)
        plan = compile_project(load_project(root), profile, environ=environ)
        node = plan.node("sessions")
        with open_executor(profile) as ex:
            ex.prepare_run(plan)
            end = write_events(root / "events.jsonl", events, 1, 1_767_225_600)
            started = time.perf_counter()
            first = run_stream(ex, node, root)
            cold = time.perf_counter() - started
            write_events(root / "events.jsonl", events, 2, end)
            started = time.perf_counter()
            second = run_stream(ex, node, root)
            warm = time.perf_counter() - started
            latencies = follow_latency(ex, node, root, end + 10_000_000)
        print(f"{name}:")
        print(f"  first {events:,} events: {cold:6.2f} s  {first.events / cold:9,.0f} events/s  ({first.batches} batches, {first.sessions_written:,} sessions)")
        print(f"  next  {events:,} events: {warm:6.2f} s  {second.events / warm:9,.0f} events/s  (merged into the stored sessions)")
        print(f"  append -> visible row: median {statistics.median(latencies) * 1000:.0f} ms, p95 {sorted(latencies)[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms (poll 50 ms)")


def follow_latency(ex, node, root: Path, start: int, samples: int = 40) -> list[float]:
    stop = threading.Event()

    def follower() -> None:
        while not stop.is_set():
            run_stream(ex, node, root, stop=stop.is_set)
            stop.wait(node.stream.source.poll_seconds)

    thread = threading.Thread(target=follower, daemon=True)
    thread.start()
    latencies = []
    try:
        for i in range(samples):
            user = f"probe-{uuid.uuid4().hex[:8]}"
            query = ex.statements.sql(exp.select(exp.Count(this=exp.Star())).from_(exp.to_table(node.relation)).where(exp.EQ(this=column("user_id"), expression=literal(user))))
            with (root / "events.jsonl").open("a") as handle:
                handle.write(json.dumps({"user_id": user, "ts": start + i, "revenue": 1}) + "\n")
            appended = time.perf_counter()
            while ex.scalar(query) == 0:
                time.sleep(0.002)
            latencies.append(time.perf_counter() - appended)
    finally:
        stop.set()
        thread.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--dsn", default=os.environ.get("FF_TEST_PG_DSN"))
    parser.add_argument("--kafka-mock", action="store_true", help="also read the events from Kafka (librdkafka's mock cluster)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure("DuckDB (a file)", {"FF_DUCKDB_PATH": str(Path(tmp) / "w.duckdb")}, args.events)
        if args.kafka_mock:
            measure_kafka({"FF_DUCKDB_PATH": str(Path(tmp) / "k.duckdb")}, args.events)
    if args.dsn:
        schema = f"ff_bench_{uuid.uuid4().hex[:8]}"
        try:
            measure("PostgreSQL", {"FF_ENGINE": "postgres", "FF_PG_DSN": args.dsn, "FF_PG_SCHEMA": schema}, args.events)
        finally:
            import psycopg

            with psycopg.connect(args.dsn.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
                con.execute(exp.Drop(this=exp.to_identifier(schema, quoted=True), kind="SCHEMA", exists=True, cascade=True).sql("postgres"))


if __name__ == "__main__":
    main()
