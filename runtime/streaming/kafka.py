"""A Kafka topic as a stream source (confluent-kafka, the `kafka` extra).

Partitions are assigned by hand at the offsets the warehouse holds (a checkpoint per partition,
key `kafka:<topic>:<partition>`); nothing is committed to Kafka, so a batch's offsets commit
with its rows or not at all, exactly as for files. A partition never seen starts at its
earliest offset. Each record's value is one JSON object, as a line of a file would be.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from flowforge_compiler.errors import ProfileError
from flowforge_compiler.plan import SECRET_OPTION, StreamSourceEntry
from runtime.streaming.file_tail import FileCheckpoint, Line, TailRead

POLL_TIMEOUT = 0.5  # seconds one poll waits
METADATA_TIMEOUT = 10.0  # also the most one batch waits for every partition to reach its end


def client_settings(source: StreamSourceEntry) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key, value in source.options.items():
        match = SECRET_OPTION.match(value)
        if match:
            if match.group(1) not in os.environ:
                raise ProfileError(f"the Kafka option {key!r} reads ${{{match.group(1)}}}, which is not set", hint=f"export {match.group(1)}=...")
            value = os.environ[match.group(1)]
        settings[key] = value
    settings.update(
        {
            "bootstrap.servers": source.bootstrap_servers,
            "group.id": f"flowforge-{source.topic}",  # required by the client; never committed to
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
        }
    )
    return settings


class KafkaTopic:
    def __init__(self, source: StreamSourceEntry):
        from confluent_kafka import Consumer

        self.topic = source.topic or ""
        self.consumer = Consumer(client_settings(source))

    def key(self, partition: int) -> str:
        return f"kafka:{self.topic}:{partition}"

    def _partitions(self) -> list[int]:
        metadata = self.consumer.list_topics(self.topic, timeout=METADATA_TIMEOUT)
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            return []
        return sorted(topic.partitions)

    def has_news(self, known: Mapping[str, FileCheckpoint]) -> bool:
        from confluent_kafka import TopicPartition

        for partition in self._partitions():
            low, high = self.consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=METADATA_TIMEOUT)
            checkpoint = known.get(self.key(partition))
            if high > (checkpoint.offset if checkpoint else low):
                return True
        return False

    def read(self, known: Mapping[str, FileCheckpoint], max_bytes: int) -> TailRead:
        from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

        out = TailRead(checkpoints=dict(known))
        partitions = self._partitions()
        if not partitions:
            return out
        assignment = []
        for partition in partitions:
            checkpoint = known.get(self.key(partition))
            assignment.append(TopicPartition(self.topic, partition, checkpoint.offset if checkpoint else OFFSET_BEGINNING))
        self.consumer.assign(assignment)
        done: set[int] = set()
        budget = max_bytes
        deadline = time.monotonic() + METADATA_TIMEOUT
        try:
            while budget > 0 and len(done) < len(partitions) and time.monotonic() < deadline:
                message = self.consumer.poll(POLL_TIMEOUT)
                if message is None:
                    continue  # the first fetch after an assignment takes a moment; each partition ends with an EOF
                error, part, offset = message.error(), message.partition(), message.offset()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF and part is not None:
                        done.add(part)
                        continue
                    raise ProfileError(f"Kafka topic {self.topic!r}: {error}")
                if part is None or offset is None:
                    continue  # only error events lack them
                value = message.value() or b""
                key = self.key(part)
                out.lines.append(Line(key, self.topic, offset, value))
                out.checkpoints[key] = FileCheckpoint(key, self.topic, offset + 1, "")
                budget -= len(value) + 1
        finally:
            self.consumer.unassign()
        return out

    def close(self) -> None:
        self.consumer.close()
