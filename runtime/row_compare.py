"""Comparing a model's rows with expected rows, as the unit-test DSL defines it.

Only the expected columns are compared (minus `ignore_columns`); values compare with types
normalised (1 == 1.0, a date equals its ISO string, NULL == NULL), numbers within `approx`.
Rows compare in result order, sorted by `order_by`, or as multisets (`any_order`); with `subset`
every expected row must be found and the result may hold more.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Comparison:
    ok: bool
    reason: str = ""
    columns: list[str] = field(default_factory=list)
    missing: list[Row] = field(default_factory=list)  # expected, not found
    unexpected: list[Row] = field(default_factory=list)  # found, not expected

    def diff(self) -> str:
        """A compact CSV diff: `-` expected rows not found, `+` result rows not expected."""
        if not self.columns or (not self.missing and not self.unexpected):
            return ""
        lines = ["  " + ",".join(self.columns)]
        lines += ["- " + _csv(r, self.columns) for r in self.missing]
        lines += ["+ " + _csv(r, self.columns) for r in self.unexpected]
        return "\n".join(lines)


def normalise(value: Any) -> Any:
    """One representation per value: numbers as float, dates as ISO text, NaN as NULL."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float | decimal.Decimal):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, str):
        return _iso_text(value)
    return value


def _iso_text(text: str) -> str:
    """'2024-01-02T03:04:05' and '2024-01-02 03:04:05' are the same timestamp."""
    if len(text) >= 19 and text[4] == "-" and text[10] == "T":
        return text[:10] + " " + text[11:]
    return text


def _csv(row: Row, columns: Sequence[str]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        text = str(value)
        return f'"{text}"' if any(c in text for c in ',"\n') else text

    return ",".join(cell(row.get(c)) for c in columns)


def _equal(a: Any, b: Any, tolerance: float | None) -> bool:
    if isinstance(a, float) and isinstance(b, float) and not isinstance(a, bool) and not isinstance(b, bool):
        return abs(a - b) <= (tolerance or 0.0)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    return a == b


def compare_rows(
    actual: Sequence[Mapping[str, Any]],
    expected: Sequence[Mapping[str, Any]],
    *,
    order_by: Sequence[str] = (),
    any_order: bool = False,
    ignore_columns: Sequence[str] = (),
    subset: bool = False,
    approx: bool | Mapping[str, float] = False,
) -> Comparison:
    ignored = set(ignore_columns)
    columns = [c for c in dict.fromkeys(k for row in expected for k in row) if c not in ignored]
    actual_columns = list(dict.fromkeys(k for row in actual for k in row))
    absent = [c for c in columns if c not in actual_columns]
    if absent and actual:
        return Comparison(False, f"expected column(s) {', '.join(absent)} not in the result (it has: {', '.join(actual_columns)})")
    tolerances = _tolerances(approx, columns)
    if order_by and not any_order:
        unknown = [c for c in order_by if c not in actual_columns]
        if unknown and actual:
            return Comparison(False, f"order_by column(s) {', '.join(unknown)} not in the result")
        expected = sorted(expected, key=lambda r: _sort_key(r, order_by))
        actual = sorted(actual, key=lambda r: _sort_key(r, order_by))
    left = [{c: normalise(r.get(c)) for c in columns} for r in expected]
    right = [{c: normalise(r.get(c)) for c in columns} for r in actual]

    def same(a: Row, b: Row) -> bool:
        return all(_equal(a[c], b[c], tolerances.get(c)) for c in columns)

    if any_order or subset:
        unmatched = list(right)
        missing: list[Row] = []
        for row in left:
            match = next((i for i, candidate in enumerate(unmatched) if same(row, candidate)), None)
            if match is None:
                missing.append(row)
            else:
                unmatched.pop(match)
        unexpected = [] if subset else unmatched
        if missing or unexpected:
            what = "expected rows not in the result" if subset else "rows differ"
            return Comparison(False, f"{what}: {len(missing)} missing, {len(unexpected)} unexpected", columns, missing, unexpected)
        return Comparison(True, columns=columns)
    differing = [i for i, (a, b) in enumerate(zip(left, right, strict=False)) if not same(a, b)]
    if len(left) != len(right) or differing:
        reason = f"expected {len(left)} rows, got {len(right)}" if len(left) != len(right) else f"row {differing[0] + 1} differs"
        missing = [left[i] for i in differing] + left[len(right):]
        unexpected = [right[i] for i in differing] + right[len(left):]
        return Comparison(False, reason, columns, missing, unexpected)
    return Comparison(True, columns=columns)


def _tolerances(approx: bool | Mapping[str, float], columns: Sequence[str]) -> dict[str, float]:
    if approx is True:
        return dict.fromkeys(columns, 1e-09)
    if isinstance(approx, Mapping):
        return {c: float(t) for c, t in approx.items()}
    return {}


def _sort_key(row: Mapping[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
    """NULLs first; values of different types sort by type name, so sorting never raises."""
    key = []
    for column in columns:
        value = normalise(row.get(column))
        key.append((value is not None, type(value).__name__, value if value is not None else 0))
    return tuple(key)
