"""Tail JSON Lines files: what is new in each since its checkpoint, in whole lines.

A file is known by its identity (device and inode), not its name, so a file renamed away by log
rotation is found again in its folder and read to its end before the new file at the path; a
hash of its first bytes tells a file truncated or rewritten in place (or a new file that reused
an inode), which is then read from its start. A last line without its newline is left for the
next read. Nothing here writes: the caller commits the new checkpoints with the rows.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("flowforge")

HEAD_BYTES = 1024  # how much of a file's start identifies its content


@dataclass(frozen=True)
class FileCheckpoint:
    key: str  # "device:inode"
    path: str  # where the file was last seen
    offset: int  # bytes consumed: the end of the last whole line read
    head: str  # sha256 of the file's first min(offset, HEAD_BYTES) bytes


@dataclass(frozen=True)
class Line:
    key: str
    path: str
    offset: int  # where the line starts in its file
    data: bytes  # without its newline


@dataclass
class TailRead:
    lines: list[Line] = field(default_factory=list)
    checkpoints: dict[str, FileCheckpoint] = field(default_factory=dict)  # every file still known
    notes: list[str] = field(default_factory=list)  # rotations, truncations, files gone

    @property
    def bytes_read(self) -> int:
        return sum(len(line.data) + 1 for line in self.lines)


@dataclass(frozen=True)
class EventFiles:
    """The files a stream reads: those `pattern` matches that resolve, symlinks followed, inside
    `within` (the project, or a folder the profile allows); any other is refused unread."""

    pattern: str
    within: Path

    def matches(self) -> tuple[list[str], list[str]]:
        """The matching files inside `within` and those outside it, in name order."""
        inside: list[str] = []
        outside: list[str] = []
        folder = self.within.resolve()
        for path in sorted(glob.glob(self.pattern)):
            (inside if self.holds(path, folder) else outside).append(path)
        return inside, outside

    def holds(self, path: str, folder: Path | None = None) -> bool:
        return Path(os.path.realpath(path)).is_relative_to(folder or self.within.resolve())


def read_new(files: EventFiles, known: Mapping[str, FileCheckpoint], max_bytes: int) -> TailRead:
    """Whole lines added since `known`, up to about `max_bytes` (a longer line is read whole);
    files rotated away are finished first, then the files matched, in name order."""
    out = TailRead()
    current: dict[str, str] = {}
    inside, outside = files.matches()
    out.notes += [f"{path}: resolves outside {files.within}; not read (a link out of the folder?)" for path in outside]
    for path in inside:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            continue  # removed between the listing and the look
        if os.path.isfile(path):
            current.setdefault(_key(stat), path)
    order: list[tuple[str, str]] = []
    for key, known_checkpoint in known.items():
        if key in current:
            continue
        moved = _find_inode(Path(known_checkpoint.path).parent, key)
        if moved is not None and not files.holds(moved):
            moved = None
        if moved is None:
            out.notes.append(f"{known_checkpoint.path}: no longer there; its checkpoint is dropped")
            continue
        if moved != known_checkpoint.path:
            out.notes.append(f"{known_checkpoint.path}: rotated to {moved}; reading the rest of it first")
        order.append((key, moved))
    order += list(current.items())
    budget = max_bytes
    for key, path in order:
        checkpoint = _valid(known.get(key), path, out.notes)
        if budget <= 0:
            if checkpoint is not None:
                out.checkpoints[key] = FileCheckpoint(key, path, checkpoint.offset, checkpoint.head)
            continue
        start = checkpoint.offset if checkpoint else 0
        lines, consumed = _whole_lines(path, start, budget)
        budget -= consumed
        offset = start + consumed
        out.lines += [Line(key, path, at, data) for at, data in lines]
        same_head = checkpoint is not None and checkpoint.offset >= HEAD_BYTES
        out.checkpoints[key] = FileCheckpoint(key, path, offset, checkpoint.head if same_head and checkpoint else _head(path, offset))
    return out


def has_news(files: EventFiles, known: Mapping[str, FileCheckpoint]) -> bool:
    """Whether a read could find anything (a new file, one grown, shrunk, rotated away, or
    rewritten in place at the same size: its head no longer hashes as read), from the files'
    sizes and heads: a follower polling a quiet stream opens no transaction."""
    seen: set[str] = set()
    for path in files.matches()[0]:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return True
        key = _key(stat)
        seen.add(key)
        checkpoint = known.get(key)
        if checkpoint is None or stat.st_size != checkpoint.offset:
            return True
        try:
            if _head(path, checkpoint.offset) != checkpoint.head:
                return True
        except FileNotFoundError:
            return True
    for key, checkpoint in known.items():
        if key not in seen:
            moved = _find_inode(Path(checkpoint.path).parent, key)
            if moved is None or not files.holds(moved) or os.path.getsize(moved) != checkpoint.offset:
                return True
    return False


def _key(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}"


def _find_inode(folder: Path, key: str) -> str | None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return None
    for entry in entries:
        try:
            if entry.is_file() and _key(entry.stat()) == key:
                return entry.path
        except OSError:
            continue
    return None


def _valid(checkpoint: FileCheckpoint | None, path: str, notes: list[str]) -> FileCheckpoint | None:
    """The checkpoint, if the file still holds what it had read; None (start again) otherwise."""
    if checkpoint is None:
        return None
    size = os.path.getsize(path)
    if size < checkpoint.offset or _head(path, checkpoint.offset) != checkpoint.head:
        notes.append(f"{path}: truncated or rewritten since offset {checkpoint.offset}; reading it from the start")
        return None
    return checkpoint


def _head(path: str, offset: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read(min(offset, HEAD_BYTES))).hexdigest()


def _whole_lines(path: str, start: int, budget: int) -> tuple[list[tuple[int, bytes]], int]:
    """The whole lines from `start`, about `budget` bytes of them; bytes consumed."""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(budget)
        while data and b"\n" not in data:  # one line longer than the budget: read it whole
            more = handle.read(budget)
            if not more:
                break
            data += more
    end = data.rfind(b"\n") + 1  # 0 when no line is complete yet
    lines: list[tuple[int, bytes]] = []
    at = start
    for raw in data[:end].split(b"\n")[:-1]:
        if raw.strip():
            lines.append((at, raw.rstrip(b"\r")))
        at += len(raw) + 1
    return lines, end
