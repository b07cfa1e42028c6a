"""Merging batches of events into stored sessions gives exactly the sessions of one pass."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from runtime.streaming.sessionizer import Event, Session, batch_sessions, merge, session_id

GAP = timedelta(minutes=30)
T0 = datetime(2026, 1, 1, 9, 0)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fold(batches, gap=GAP) -> list[Session]:
    """What the sink does batch after batch, with a dict standing in for the table."""
    table: dict[str, Session] = {}
    for events in batches:
        result = merge(list(table.values()), events, gap)
        for old in result.replaced:
            del table[old]
        for session in result.sessions:
            table[session.id] = session
    return sorted(table.values(), key=lambda s: (s.user, s.start))


def test_a_late_event_bridging_two_sessions_merges_them() -> None:
    first = [Event("u", at(0)), Event("u", at(10), Decimal("1.10"))]
    second = [Event("u", at(70), Decimal("2.20"))]
    assert [(s.start, s.end, s.pageviews) for s in fold([first, second])] == [(at(0), at(10), 2), (at(70), at(70), 1)]
    bridge = [Event("u", at(40))]  # 30 minutes after 10, 30 minutes before 70: one session
    (merged,) = fold([first, second, bridge])
    assert (merged.start, merged.end, merged.pageviews, merged.revenue) == (at(0), at(70), 4, Decimal("3.30"))


def test_an_event_before_a_session_moves_its_start_and_so_its_id() -> None:
    sessions = fold([[Event("u", at(60))], [Event("u", at(35))]])
    assert [(s.start, s.id) for s in sessions] == [(at(35), session_id("u", at(35)))]
    assert fold([[Event("u", at(60))], [Event("u", at(29))]])[0].start == at(29)  # 31 minutes: a session of its own
    assert len(fold([[Event("u", at(60))], [Event("u", at(29))]])) == 2


def test_exactly_the_gap_stays_one_session_as_in_the_batch_definition() -> None:
    events = [Event("u", at(0)), Event("u", at(30))]
    assert len(batch_sessions(events, GAP)) == 1 == len(fold([[events[0]], [events[1]]]))


def test_random_batches_in_any_order_give_the_batch_sessions() -> None:
    rng = random.Random(5)
    for trial in range(60):
        events = [
            Event(f"u{rng.randint(1, 4)}", at(rng.uniform(0, 600)), Decimal(rng.randint(0, 999)) / 100)
            for _ in range(rng.randint(1, 80))
        ]
        shuffled = events[:]
        if trial % 2:
            rng.shuffle(shuffled)  # late events of any lateness
        cuts = sorted(rng.sample(range(len(shuffled) + 1), k=min(3, len(shuffled) + 1)))
        batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)])]
        expected = sorted(batch_sessions(events, GAP), key=lambda s: (s.user, s.start))
        assert fold(batches) == expected, trial


def test_an_untouched_stored_session_is_neither_rewritten_nor_replaced() -> None:
    stored = [Session("u", at(0), at(5), 2, Decimal(1)), Session("u", at(200), at(200), 1, Decimal(0))]
    result = merge(stored, [Event("u", at(220))], GAP)
    assert [s.start for s in result.sessions] == [at(200)]
    assert result.replaced == [session_id("u", at(200))]
