"""Tailing files: whole lines only, checkpoints by identity, rotation and truncation found."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.streaming.file_tail import EventFiles, has_news, read_new


def files(pattern: Path) -> EventFiles:
    return EventFiles(str(pattern), pattern.parent)


def follow(pattern: Path, known=None, max_bytes: int = 1 << 20):
    read = read_new(files(pattern), known or {}, max_bytes)
    return [line.data for line in read.lines], read


def test_a_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_bytes(b'{"a": 1}\n{"a": 2')
    lines, read = follow(events)
    assert lines == [b'{"a": 1}']
    assert has_news(files(events), read.checkpoints)  # the partial line is still to come
    with events.open("ab") as handle:
        handle.write(b'}\n\n{"a": 3}\r\n')
    lines, read = follow(events, read.checkpoints)
    assert lines == [b'{"a": 2}', b'{"a": 3}']  # blank lines skipped, CRLF trimmed
    assert next(iter(read.checkpoints.values())).offset == events.stat().st_size
    assert not has_news(files(events), read.checkpoints)
    assert follow(events, read.checkpoints)[0] == []


def test_a_truncated_or_rewritten_file_is_read_from_its_start(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_bytes(b"one\ntwo\n")
    _, read = follow(events)
    events.write_bytes(b"three\n")  # copytruncate, then a new line: smaller than the checkpoint
    lines, read2 = follow(events, read.checkpoints)
    assert lines == [b"three"] and any("truncated" in n for n in read2.notes)
    with events.open("r+b") as handle:  # rewritten in place, same size and more
        handle.write(b"THREE\nfour\n")
    lines, _ = follow(events, read2.checkpoints)
    assert lines == [b"THREE", b"four"]


def test_a_file_rewritten_in_place_at_the_same_size_is_news_and_read_again(tmp_path: Path) -> None:
    """A follower polls sizes; a rewrite of the same size used to wait until the file grew."""
    events = tmp_path / "e.jsonl"
    events.write_bytes(b"one\ntwo\n")
    _, read = follow(events)
    assert not has_news(files(events), read.checkpoints)
    events.write_bytes(b"six\nten\n")  # same size, other lines
    assert has_news(files(events), read.checkpoints)
    lines, again = follow(events, read.checkpoints)
    assert lines == [b"six", b"ten"] and any("rewritten" in n for n in again.notes)
    assert not has_news(files(events), again.checkpoints)


def test_a_file_rotated_away_is_finished_before_the_new_one(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_bytes(b"a\n")
    _, read = follow(events)
    with events.open("ab") as handle:
        handle.write(b"b\n")  # written before the rotation, not read yet
    os.rename(events, tmp_path / "e.jsonl.1")
    events.write_bytes(b"c\n")
    lines, read = follow(events, read.checkpoints)
    assert lines == [b"b", b"c"]
    assert any("rotated to" in n for n in read.notes)
    assert not has_news(files(events), read.checkpoints)
    (tmp_path / "e.jsonl.1").unlink()
    lines, read = follow(events, read.checkpoints)
    assert lines == [] and len(read.checkpoints) == 1


def test_a_glob_reads_every_file_and_a_batch_stops_near_its_byte_budget(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_bytes(b"".join(b"%s%03d\n" % (name.encode(), i) for i in range(100)))
    pattern = tmp_path / "*.jsonl"
    seen: list[bytes] = []
    known = {}
    rounds = 0
    while True:
        lines, read = follow(pattern, known, max_bytes=300)
        if not lines:
            break
        assert sum(len(x) + 1 for x in lines) <= 300 + 5
        seen += lines
        known = read.checkpoints
        rounds += 1
    assert seen == [b"a%03d" % i for i in range(100)] + [b"b%03d" % i for i in range(100)]
    assert rounds >= 4  # 1,200 bytes, 300 a batch


def test_a_line_longer_than_the_budget_is_read_whole(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_bytes(b"x" * 5000 + b"\nshort\n")
    lines, _ = follow(events, max_bytes=1024)
    assert lines[0] == b"x" * 5000


def test_a_file_linked_from_outside_the_folder_is_never_read(tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "events", tmp_path / "private"
    folder.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.jsonl").write_bytes(b'{"secret": 1}\n')
    (folder / "a.jsonl").write_bytes(b'{"a": 1}\n')
    (folder / "b.jsonl").symlink_to(elsewhere / "secret.jsonl")
    (folder / "c.jsonl").symlink_to(folder / "a.jsonl")  # a link that stays inside is a file like any other
    watched = EventFiles(str(folder / "*.jsonl"), folder)
    read = read_new(watched, {}, 1 << 20)
    assert [line.data for line in read.lines] == [b'{"a": 1}']  # c.jsonl is a.jsonl: one file, read once
    assert [n for n in read.notes if "b.jsonl" in n and "not read" in n]
    assert not has_news(watched, read.checkpoints)  # the refused file is no news, now or later
