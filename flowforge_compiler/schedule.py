"""Schedules: a five-field cron expression or an Airflow preset, checked at compile time.

A typo in a schedule would otherwise surface only when the orchestrator parses the DAG (an
import error on the scheduler) or serves the flow. Prefect takes cron only, so presets are
translated for it; `@once` and `@continuous` have no cron form and are refused there.
"""

from __future__ import annotations

import re

from flowforge_compiler.errors import ProjectFileError

PRESETS: dict[str, str | None] = {
    "@once": None,
    "@continuous": None,
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (field, lowest, highest, names for values from `lowest`)
_FIELDS = [("minute", 0, 59, []), ("hour", 0, 23, []), ("day of month", 1, 31, []), ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _DAYS)]
_PART = re.compile(r"^(?P<range>\*|(?P<low>\w+)(?:-(?P<high>\w+))?)(?:/(?P<step>\d+))?$")


def validate_schedule(text: str, where: str) -> str:
    """`text` when it is a preset or a valid cron expression; else an error naming `where`."""
    problem = schedule_problem(text)
    if problem:
        raise ProjectFileError(f"{where}: {problem}", hint="e.g. '0 6 * * *' (06:00 every day), or a preset such as '@daily'")
    return text


def schedule_problem(text: str) -> str | None:
    """What is wrong with a schedule, or None."""
    value = text.strip()
    if value.startswith("@"):
        return None if value.lower() in PRESETS else f"{text!r} is not a schedule preset (presets: {', '.join(PRESETS)})"
    fields = value.split()
    if len(fields) != 5:
        return f"{text!r} is not a cron expression (it needs 5 fields: minute hour day-of-month month day-of-week)"
    for part_text, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for part in part_text.split(","):
            problem = _field_problem(part, low, high, names)
            if problem:
                return f"{text!r}: the {name} field {part!r} {problem}"
    return None


def _field_problem(part: str, low: int, high: int, names: list[str]) -> str | None:
    match = _PART.match(part)
    if match is None:
        return "is not '*', a number, a range a-b, or either with /step"
    if match.group("step") is not None and int(match.group("step")) == 0:
        return "has a step of 0"
    bounds = [match.group("low"), match.group("high")]
    values = [_value(b, low, names) for b in bounds if b is not None]
    if any(v is None or not low <= v <= high for v in values):
        return f"is outside {low}-{high}"
    if len(values) == 2 and values[0] > values[1]:  # type: ignore[operator]
        return "has a range that runs backwards"
    return None


def _value(text: str, low: int, names: list[str]) -> int | None:
    if text.isdigit():
        return int(text)
    upper = text.upper()
    return names.index(upper) + low if upper in names else None


def cron_for_prefect(schedule: str | None) -> str | None:
    """The schedule as Prefect's `cron=` takes it."""
    if schedule is None or not schedule.strip().startswith("@"):
        return schedule
    cron = PRESETS.get(schedule.strip().lower())
    if cron is None:
        raise ProjectFileError(
            f"project.yml: schedule {schedule!r} has no cron form, which Prefect needs",
            hint="set a cron expression or a preset such as '@daily'",
        )
    return cron
