"""Data-quality checks: each one SQL query on the engine, no data pulled into Python.

Every check counts its failures in the warehouse (`failures`), and carries the SQL that lists
the failing rows, so a user can look at them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from flowforge_compiler.errors import Location
from flowforge_compiler.plan import Plan, PlanCheck
from flowforge_compiler.sql_statements import boolean_filter
from runtime.executors.base import Executor
from runtime.statements import column, count_star, literal, relation


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


def build_query(check: PlanCheck, ex: Executor) -> CheckQuery:
    """The SQL for one check, built with sqlglot and rendered in the executor's dialect: no
    parameter can close a parenthesis or start a statement (names are quoted identifiers, values
    literals, and a `where:` filter is parsed as one expression)."""
    p = check.params
    sql = ex.statements.sql
    source: exp.Expression = relation(check.table)
    if check.where:
        # validated at compile time; checked again so a hand-edited plan cannot smuggle a statement in
        where = boolean_filter(check.where, Location("plan.json"), what=f"the where: of check {check.id!r}", dialect=ex.profile.dialect)
        source = exp.select("*").from_(source).where(exp.maybe_parse(where, dialect=ex.profile.dialect)).subquery("checked")
    col = column(p["column"]) if "column" in p else None
    label = f"{check.table}.{p['column']}" if "column" in p else check.table

    def rows_where(condition: exp.Expression) -> exp.Select:
        return exp.select("*").from_(source.copy()).where(condition)

    def count_where(condition: exp.Expression, what: Callable[[int], str]) -> CheckQuery:
        return CheckQuery(
            value_sql=sql(exp.select(count_star()).from_(source.copy()).where(condition)),
            fails=lambda n: int(n) > 0,
            message=lambda n: f"{label} has {what(int(n))}",
            failing_rows_sql=sql(rows_where(condition)),
        )

    if check.type == "not_null":
        return count_where(exp.Is(this=col, expression=exp.Null()), lambda n: _plural(n, "null value"))
    if check.type == "greater_equal":
        threshold = p.get("threshold", 0)
        shown = f"{threshold:g}" if isinstance(threshold, float) else str(threshold)
        return count_where(exp.LT(this=col, expression=literal(threshold)), lambda n: f"{_plural(n, 'value')} below {shown}")
    if check.type == "accepted_values":
        outside = exp.Not(this=exp.In(this=col, expressions=[literal(v) for v in p["values"]]))
        shown_values = ", ".join(map(str, p["values"]))
        return count_where(
            exp.and_(exp.Not(this=exp.Is(this=col, expression=exp.Null())), outside),
            lambda n: f"{_plural(n, 'value')} outside [{shown_values}]",
        )
    if check.type == "relationships":
        to_column = p.get("to_column", "id")
        parent = exp.select(exp.Literal.number(1)).from_(relation(p["to"]).as_("parent", quoted=True))
        parent = parent.where(exp.EQ(this=column(to_column, "parent"), expression=col))
        condition = exp.and_(exp.Not(this=exp.Is(this=col, expression=exp.Null())), exp.Not(this=exp.Exists(this=parent)))
        return count_where(condition, lambda n: f"{_plural(n, 'value')} without a match in {p['to']}.{to_column}")
    if check.type == "unique":
        duplicates = (
            exp.select(col).from_(source.copy()).where(exp.Not(this=exp.Is(this=col, expression=exp.Null())))
            .group_by(col).having(exp.GT(this=count_star(), expression=exp.Literal.number(1)))
        )
        return CheckQuery(
            value_sql=sql(exp.select(count_star()).from_(duplicates.subquery("duplicates"))),
            fails=lambda n: int(n) > 0,
            message=lambda n: f"{label} has {_plural(int(n), 'duplicate')}",
            failing_rows_sql=sql(rows_where(exp.In(this=col, query=duplicates.subquery()))),
        )
    if check.type == "non_negative_sum":
        return CheckQuery(
            value_sql=sql(exp.select(exp.Coalesce(this=exp.Sum(this=col), expressions=[exp.Literal.number(0)])).from_(source)),
            fails=lambda total: float(total) < 0,
            message=lambda total: f"sum({label}) is {float(total):g}, below 0",
            failing_rows_sql=sql(rows_where(exp.LT(this=col, expression=exp.Literal.number(0)))),
            counts_rows=False,
        )
    if check.type == "row_count_between":
        low, high = int(p.get("min", 1)), p.get("max")
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        return CheckQuery(
            value_sql=sql(exp.select(count_star()).from_(source)),
            fails=lambda n: int(n) < low or (high is not None and int(n) > int(high)),
            message=lambda n: f"{label} has {_plural(int(n), 'row')}, expected {bounds}",
            failing_rows_sql=sql(exp.select(count_star().as_("row_count")).from_(source.copy())),
            counts_rows=False,
        )
    if check.type == "freshness":
        limit = float(p["max_delay_minutes"])
        age = exp.Sub(this=exp.CurrentTimestamp(), expression=exp.Max(this=col))
        minutes = exp.Div(this=exp.Extract(this=exp.var("epoch"), expression=exp.Paren(this=age)), expression=exp.Literal.number(60))
        return CheckQuery(
            value_sql=sql(exp.select(minutes).from_(source)),
            fails=lambda minutes: minutes is None or float(minutes) > limit,
            message=lambda minutes: (
                f"{label} has no rows to judge freshness by"
                if minutes is None
                else f"{label} is {float(minutes):.0f} minutes old (at most {limit:g} allowed)"
            ),
            failing_rows_sql=sql(exp.select(exp.Max(this=col).as_("latest")).from_(source.copy())),
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
