"""Data-quality checks: each one SQL query on the engine, no data pulled into Python.

Every check counts its failures in the warehouse (`failures`), and carries the SQL that lists
the failing rows, so a user can look at them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowforge_compiler.errors import Location
from flowforge_compiler.plan import Plan, PlanCheck
from flowforge_compiler.sql_statements import boolean_filter
from runtime.executors.base import Executor


@dataclass(frozen=True)
class CheckQuery:
    """How to evaluate one check: a scalar query, a verdict on its value, the failing rows."""

    value_sql: str
    fails: Callable[[Any], bool]
    message: Callable[[Any], str]
    failing_rows_sql: str
    counts_rows: bool = True  # the value is the number of failing rows (else one failure)


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    type: str
    table: str
    column: str | None
    severity: str
    status: str  # "pass", "fail", "error"
    failures: int
    message: str
    seconds: float
    sql: str
    failing_rows_sql: str

    @property
    def blocking(self) -> bool:
        """A result that fails the run: an error-severity check that failed or could not run."""
        return self.status != "pass" and self.severity == "error"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def build_query(check: PlanCheck, ex: Executor) -> CheckQuery:
    """The SQL for one check on this executor's dialect."""
    p = check.params
    source = ex.quote(check.table)
    if check.where:
        # validated at compile time; checked again so a hand-edited plan cannot smuggle a statement in
        where = boolean_filter(check.where, Location("plan.json"), what=f"the where: of check {check.id!r}", dialect=ex.profile.dialect)
        source = f"(select * from {source} where {where}) as checked"
    column = ex.quote(p["column"]) if "column" in p else ""
    label = f"{check.table}.{p['column']}" if "column" in p else check.table

    def count_where(condition: str, what: Callable[[int], str]) -> CheckQuery:
        return CheckQuery(
            value_sql=f"select count(*) from {source} where {condition}",
            fails=lambda n: int(n) > 0,
            message=lambda n: f"{label} has {what(int(n))}",
            failing_rows_sql=f"select * from {source} where {condition}",
        )

    if check.type == "not_null":
        return count_where(f"{column} is null", lambda n: _plural(n, "null value"))
    if check.type == "greater_equal":
        threshold = p.get("threshold", 0)
        shown = f"{threshold:g}" if isinstance(threshold, float) else str(threshold)
        return count_where(f"{column} < {_literal(threshold)}", lambda n: f"{_plural(n, 'value')} below {shown}")
    if check.type == "accepted_values":
        values = ", ".join(_literal(v) for v in p["values"])
        shown = ", ".join(map(str, p["values"]))
        return count_where(
            f"{column} is not null and {column} not in ({values})",
            lambda n: f"{_plural(n, 'value')} outside [{shown}]",
        )
    if check.type == "relationships":
        target = ex.quote(p["to"])
        to_column = ex.quote(p.get("to_column", "id"))
        condition = (
            f"{column} is not null and not exists "
            f"(select 1 from {target} as parent where parent.{to_column} = {column})"
        )
        return count_where(
            condition, lambda n: f"{_plural(n, 'value')} without a match in {p['to']}.{p.get('to_column', 'id')}"
        )
    if check.type == "unique":
        duplicates = f"select {column} from {source} where {column} is not null group by {column} having count(*) > 1"
        return CheckQuery(
            value_sql=f"select count(*) from ({duplicates}) as duplicates",
            fails=lambda n: int(n) > 0,
            message=lambda n: f"{label} has {_plural(int(n), 'duplicate')}",
            failing_rows_sql=f"select * from {source} where {column} in ({duplicates})",
        )
    if check.type == "non_negative_sum":
        return CheckQuery(
            value_sql=f"select coalesce(sum({column}), 0) from {source}",
            fails=lambda total: float(total) < 0,
            message=lambda total: f"sum({label}) is {float(total):g}, below 0",
            failing_rows_sql=f"select * from {source} where {column} < 0",
            counts_rows=False,
        )
    if check.type == "row_count_between":
        low, high = int(p.get("min", 1)), p.get("max")
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        return CheckQuery(
            value_sql=f"select count(*) from {source}",
            fails=lambda n: int(n) < low or (high is not None and int(n) > int(high)),
            message=lambda n: f"{label} has {_plural(int(n), 'row')}, expected {bounds}",
            failing_rows_sql=f"select count(*) as row_count from {source}",
            counts_rows=False,
        )
    if check.type == "freshness":
        limit = float(p["max_delay_minutes"])
        return CheckQuery(
            value_sql=f"select {ex.minutes_since_sql(f'max({column})')} from {source}",
            fails=lambda minutes: minutes is None or float(minutes) > limit,
            message=lambda minutes: (
                f"{label} has no rows to judge freshness by"
                if minutes is None
                else f"{label} is {float(minutes):.0f} minutes old (at most {limit:g} allowed)"
            ),
            failing_rows_sql=f"select max({column}) as latest from {source}",
            counts_rows=False,
        )
    raise ValueError(f"unknown check type {check.type!r}")


def run_check(check: PlanCheck, executor: Executor) -> CheckResult:
    """Evaluate one check; an engine error (a missing table, say) is a result, not an exception."""
    started = time.perf_counter()
    query = build_query(check, executor)
    column = check.params.get("column")
    try:
        value = executor.scalar(query.value_sql)
        failed = query.fails(value)
        status, message = ("fail" if failed else "pass"), query.message(value)
        failures = 0 if not failed else (int(value) if query.counts_rows else 1)
    except Exception as exc:  # noqa: BLE001 - the engine's message is the report
        status, failures = "error", 1
        message = f"could not run the check: {type(exc).__name__}: {str(exc).strip()}"
    return CheckResult(
        check_id=check.id,
        type=check.type,
        table=check.table,
        column=column,
        severity=check.severity,
        status=status,
        failures=failures,
        message=message,
        seconds=time.perf_counter() - started,
        sql=query.value_sql,
        failing_rows_sql=query.failing_rows_sql,
    )


def checks_guarding(plan: Plan, node_id: str) -> list[PlanCheck]:
    """The checks that guard `node_id`'s table, in plan order. They may read other nodes too
    (`relationships`): run them once every node in `check.nodes` is built."""
    return [c for c in plan.checks if c.node == node_id]
