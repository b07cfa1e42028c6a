"""What a stream reads from, behind one interface: whole records since the checkpoints the
warehouse holds. The checkpoints commit with the rows they produced, so a source never needs its
own bookkeeping (no consumer-group commits, no offset files)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from flowforge_compiler.errors import ProfileError
from flowforge_compiler.plan import StreamEntry
from runtime.streaming.file_tail import EventFiles, FileCheckpoint, TailRead, has_news, read_new


class Source(Protocol):
    def has_news(self, known: Mapping[str, FileCheckpoint]) -> bool:
        """Whether a read could find anything; cheap, so a quiet stream opens no transaction."""

    def read(self, known: Mapping[str, FileCheckpoint], max_bytes: int) -> TailRead:
        """Records after `known`, about `max_bytes` of them, and the checkpoints after them."""

    def close(self) -> None: ...


class FileTail:
    def __init__(self, files: EventFiles):
        self.files = files

    def has_news(self, known: Mapping[str, FileCheckpoint]) -> bool:
        return has_news(self.files, known)

    def read(self, known: Mapping[str, FileCheckpoint], max_bytes: int) -> TailRead:
        return read_new(self.files, known, max_bytes)

    def close(self) -> None:
        pass


def event_files(stream: StreamEntry, root: Path) -> EventFiles:
    """A file_tail source's files: its path and the folder they must lie in, relative ones from
    `root`, the folder of the plan (the project's, or a bundle's, where the compile rebased them)."""
    source = stream.source
    return EventFiles(str(root / (source.path or "")), root / source.within)


def open_source(stream: StreamEntry, root: Path) -> Source:
    if stream.source.type == "kafka":
        from runtime.streaming.kafka import KafkaTopic

        try:
            return KafkaTopic(stream.source)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("confluent_kafka"):
                raise ProfileError(
                    f"stream {stream.name!r} reads Kafka, and confluent-kafka is not installed", hint='pip install "flowforge[kafka]"'
                ) from exc
            raise
    return FileTail(event_files(stream, root))
