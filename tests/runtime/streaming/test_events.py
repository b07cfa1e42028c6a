"""JSON Lines records as events: times to UTC, exact decimals, and reasons for the lines refused."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from flowforge_compiler.plan import StreamEntry, StreamSourceEntry
from runtime.streaming.events import Rejected, parse_event

STREAM = StreamEntry(
    name="s", source=StreamSourceEntry(type="file_tail", path="e.jsonl"), user_column="user", time_column="ts", gap_minutes=30, revenue_column="amount"
)


def test_times_and_amounts() -> None:
    event = parse_event(b'{"user": 7, "ts": "2026-01-01T10:00:00+02:00", "amount": 0.1}', STREAM)
    assert (event.user, event.at, event.revenue) == ("7", datetime(2026, 1, 1, 8, 0), Decimal("0.1"))
    assert parse_event(b'{"user": "a", "ts": 1767225600.5}', STREAM).at == datetime(2026, 1, 1, 0, 0, 0, 500000)
    assert parse_event(b'{"user": "a", "ts": "2026-01-01 10:00:00"}', STREAM).revenue == 0  # no amount: 0
    total = sum(parse_event(b'{"user": "a", "ts": 1, "amount": 0.1}', STREAM).revenue for _ in range(3))
    assert total == Decimal("0.3")  # exact, unlike 0.1 + 0.1 + 0.1 in floats


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json", "not a JSON line"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"ts": 1}', "'user' is missing"),
        (b'{"user": true, "ts": 1}', "'user' is missing"),
        (b'{"user": "a", "ts": "yesterday"}', "not an ISO 8601 time"),
        (b'{"user": "a"}', "'ts' is missing"),
        (b'{"user": "a", "ts": 1, "amount": "12"}', "'amount' is not a number"),
        (b'{"user": "a", "ts": 1, "amount": 1e40}', "does not fit"),
        (b'\xff\xfe', "not a JSON line"),
        (b'{"user": "a", "ts": 1, "x": ' + b"[" * 1500 + b"]" * 1500 + b"}", "nested too deeply"),
        (b"[" * 100_000, "not a JSON line"),
        (b'{"user": "a", "ts": 1e300}', "'ts' is missing or not a time"),
        (b'{"user": "a", "ts": 1, "amount": 1e999999999}', "does not fit"),
        (b'{"user": "a", "ts": 1, "amount": ' + b"9" * 5000 + b"}", "not a JSON line"),
    ],
)
def test_a_line_that_is_not_an_event_says_why(line: bytes, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        parse_event(line, STREAM)
