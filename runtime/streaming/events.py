"""One JSON Lines record -> an Event, or the reason it cannot be one (the line is then rejected,
kept with its file and offset, and the stream goes on)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from flowforge_compiler.plan import StreamEntry
from runtime.streaming.sessionizer import Event


class Rejected(ValueError):
    """Why a line is not an event."""


def parse_event(line: bytes, stream: StreamEntry) -> Event:
    """Numbers keep their decimal digits (`parse_float=Decimal`), so revenue sums are exact in any
    order; a time is an ISO 8601 text (an offset is converted to UTC; none means UTC) or epoch
    seconds; a user id may be a string or an integer and is kept as text."""
    try:
        record = json.loads(line, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected(f"not a JSON line ({exc})") from None
    except RecursionError:  # a poison line must not stop the stream: it is rejected like any other
        raise Rejected("not a JSON line (nested too deeply to read)") from None
    if not isinstance(record, dict):
        raise Rejected("not a JSON object")
    user = record.get(stream.user_column)
    if isinstance(user, bool) or not isinstance(user, (str, int)) or user == "":
        raise Rejected(f"{stream.user_column!r} is missing or not a string or integer")
    return Event(str(user), _time(record.get(stream.time_column), stream.time_column), _revenue(record, stream.revenue_column))


def _time(value: object, column: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise Rejected(f"{column!r} is not an ISO 8601 time: {value[:40]!r}") from None
        return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        seconds = float(value)
        if math.isfinite(seconds) and 0 <= seconds < 253402300800:  # before year 10000
            return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
    raise Rejected(f"{column!r} is missing or not a time (ISO 8601 text or epoch seconds)")


def _revenue(record: dict[str, object], column: str | None) -> Decimal:
    if column is None:
        return Decimal(0)
    value = record.get(column)
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise Rejected(f"{column!r} is not a number")
    try:
        amount = Decimal(value).quantize(Decimal("0.000000001"))
    except InvalidOperation:
        raise Rejected(f"{column!r} does not fit the revenue column (38 digits, 9 after the point)") from None
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 29:
        raise Rejected(f"{column!r} does not fit the revenue column (38 digits, 9 after the point)")
    return amount
