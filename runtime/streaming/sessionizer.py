"""Sessions from events, computed in batches that give exactly the sessions of one pass over all.

A user's session is a maximal run of their events, in time order, in which no two neighbours are
more than the gap apart. A new event at time t joins every stored session of its user whose
[start - gap, end + gap] holds t (at most the one before it and the one after it, which it then
bridges), so merging a batch into the stored sessions needs only each session's start, end,
count and sum: no event is kept, and an event of any lateness lands where a batch computation
over the final file would put it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class Event:
    user: str
    at: datetime  # UTC, naive
    revenue: Decimal = Decimal(0)


@dataclass(frozen=True)
class Session:
    user: str
    start: datetime
    end: datetime  # the last event
    pageviews: int
    revenue: Decimal

    @property
    def id(self) -> str:
        return session_id(self.user, self.start)

    def reaches(self, at: datetime, gap: timedelta) -> bool:
        return self.start - gap <= at <= self.end + gap

    def joined(self, other: Session) -> Session:
        return Session(
            self.user, min(self.start, other.start), max(self.end, other.end), self.pageviews + other.pageviews, self.revenue + other.revenue
        )


def session_id(user: str, start: datetime) -> str:
    """Deterministic from the user and the session's first event: the same in every run."""
    return hashlib.sha256(f"{user}\x1f{start.isoformat()}".encode()).hexdigest()[:32]


def single(event: Event) -> Session:
    return Session(event.user, event.at, event.at, 1, event.revenue)


@dataclass(frozen=True)
class Merge:
    sessions: list[Session]  # the user's sessions that changed or are new, to be written
    replaced: list[str]  # ids of stored sessions to delete (their rows are superseded)


def merge(stored: Sequence[Session], events: Iterable[Event], gap: timedelta) -> Merge:
    """Fold `events` into the `stored` sessions they may touch (of the same users, within the gap
    of the events); stored sessions that nothing touched come back unchanged and unreplaced."""
    by_user: dict[str, list[Session]] = {}
    for session in stored:
        by_user.setdefault(session.user, []).append(session)
    touched: set[str] = set()
    for event in sorted(events, key=lambda e: (e.user, e.at)):
        sessions = by_user.setdefault(event.user, [])
        joined = single(event)
        keep: list[Session] = []
        for session in sessions:
            if session.reaches(event.at, gap):
                joined = joined.joined(session)
            else:
                keep.append(session)
        keep.append(joined)
        by_user[event.user] = keep
        touched.add(event.user)
    result = [s for user in sorted(touched) for s in sorted(by_user[user], key=lambda s: s.start)]
    stored_ids = {s.id: s for s in stored}
    changed = [s for s in result if stored_ids.get(s.id) != s]
    kept_ids = {s.id for s in result if stored_ids.get(s.id) == s}
    replaced = sorted(i for i, s in stored_ids.items() if i not in kept_ids and s.user in touched)
    return Merge(changed, replaced)


def batch_sessions(events: Iterable[Event], gap: timedelta) -> list[Session]:
    """Sessions of all `events` in one pass: the definition the merges must agree with."""
    out: list[Session] = []
    current: Session | None = None
    for event in sorted(events, key=lambda e: (e.user, e.at)):
        if current is not None and current.user == event.user and event.at - current.end <= gap:
            current = current.joined(single(event))
        else:
            if current is not None:
                out.append(current)
            current = single(event)
    if current is not None:
        out.append(current)
    return out
