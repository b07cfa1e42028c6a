"""The data-quality check types: one small class each, in one registry.

A check type turns a check of the plan into one SQL query (built with sqlglot, rendered in the
engine's dialect), a verdict on its value, a message, and the SQL that lists the failing rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlglot
from sqlglot import exp

from flowforge_compiler.plan import PlanCheck, RelationshipsPlanCheck, SqlPlanCheck
from runtime.statements import column, count_star, literal, relation


@dataclass(frozen=True)
class CheckQuery:
    """How to evaluate one check: a scalar query, a verdict on its value, the failing rows."""

    value_sql: str
    fails: Callable[[Any], bool]
    message: Callable[[Any], str]
    failing_rows_sql: str
    counts_rows: bool = True  # the value is the number of failing rows (else one failure)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _not_null(col: exp.Expr) -> exp.Expr:
    return exp.Not(this=exp.Is(this=col, expression=exp.Null()))


@dataclass(frozen=True)
class CheckInput:
    """What every check type builds on: the checked rows (the table, or its `where:` subset),
    the column, the label used in messages, and the dialect's renderer."""

    check: PlanCheck
    source: exp.Expr
    render: Callable[[exp.Expr], str]
    dialect: str  # the engine's, for SQL the plan holds as text

    @property
    def column(self) -> exp.Column:
        return column(self.check.column)  # type: ignore[attr-defined]

    @property
    def label(self) -> str:
        name = getattr(self.check, "column", None)
        return f"{self.check.table}.{name}" if name else self.check.table

    def rows(self) -> exp.Select:
        return exp.select("*").from_(self.source.copy())

    def count_where(self, condition: exp.Expr, what: Callable[[int], str]) -> CheckQuery:
        """A check that fails when some row meets `condition`."""
        return CheckQuery(
            value_sql=self.render(exp.select(count_star()).from_(self.source.copy()).where(condition)),
            fails=lambda n: int(n) > 0,
            message=lambda n: f"{self.label} has {what(int(n))}",
            failing_rows_sql=self.render(self.rows().where(condition)),
        )


class CheckType:
    name: ClassVar[str]

    def query(self, c: CheckInput) -> CheckQuery:
        raise NotImplementedError


class NotNull(CheckType):
    name = "not_null"

    def query(self, c: CheckInput) -> CheckQuery:
        return c.count_where(exp.Is(this=c.column, expression=exp.Null()), lambda n: _plural(n, "null value"))


class GreaterEqual(CheckType):
    name = "greater_equal"

    def query(self, c: CheckInput) -> CheckQuery:
        threshold = c.check.threshold  # type: ignore[attr-defined]
        shown = f"{threshold:g}" if isinstance(threshold, float) else str(threshold)
        return c.count_where(exp.LT(this=c.column, expression=literal(threshold)), lambda n: f"{_plural(n, 'value')} below {shown}")


class AcceptedValues(CheckType):
    name = "accepted_values"

    def query(self, c: CheckInput) -> CheckQuery:
        values = c.check.values  # type: ignore[attr-defined]
        outside = exp.Not(this=exp.In(this=c.column, expressions=[literal(v) for v in values]))
        shown = ", ".join(map(str, values))
        return c.count_where(exp.and_(_not_null(c.column), outside), lambda n: f"{_plural(n, 'value')} outside [{shown}]")


class Relationships(CheckType):
    name = "relationships"

    def query(self, c: CheckInput) -> CheckQuery:
        check: RelationshipsPlanCheck = c.check  # type: ignore[assignment]
        to, to_column = check.to, check.to_column
        parent = exp.select(exp.Literal.number(1)).from_(relation(check.to_relation).as_("parent", quoted=True))
        parent = parent.where(exp.EQ(this=column(to_column, "parent"), expression=c.column))
        condition = exp.and_(_not_null(c.column), exp.Not(this=exp.Exists(this=parent)))
        return c.count_where(condition, lambda n: f"{_plural(n, 'value')} without a match in {to}.{to_column}")


class Unique(CheckType):
    name = "unique"

    def query(self, c: CheckInput) -> CheckQuery:
        duplicates = (
            exp.select(c.column).from_(c.source.copy()).where(_not_null(c.column))
            .group_by(c.column).having(exp.GT(this=count_star(), expression=exp.Literal.number(1)))
        )
        return CheckQuery(
            value_sql=c.render(exp.select(count_star()).from_(duplicates.subquery("duplicates"))),
            fails=lambda n: int(n) > 0,
            message=lambda n: f"{c.label} has {_plural(int(n), 'duplicate')}",
            failing_rows_sql=c.render(c.rows().where(exp.In(this=c.column, query=duplicates.subquery()))),
        )


class NonNegativeSum(CheckType):
    name = "non_negative_sum"

    def query(self, c: CheckInput) -> CheckQuery:
        total = exp.Coalesce(this=exp.Sum(this=c.column), expressions=[exp.Literal.number(0)])
        return CheckQuery(
            value_sql=c.render(exp.select(total).from_(c.source.copy())),
            fails=lambda value: float(value) < 0,
            message=lambda value: f"sum({c.label}) is {float(value):g}, below 0",
            failing_rows_sql=c.render(c.rows().where(exp.LT(this=c.column, expression=exp.Literal.number(0)))),
            counts_rows=False,
        )


class RowCountBetween(CheckType):
    name = "row_count_between"

    def query(self, c: CheckInput) -> CheckQuery:
        low, high = c.check.min, c.check.max  # type: ignore[attr-defined]
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        return CheckQuery(
            value_sql=c.render(exp.select(count_star()).from_(c.source.copy())),
            fails=lambda n: int(n) < low or (high is not None and int(n) > int(high)),
            message=lambda n: f"{c.label} has {_plural(int(n), 'row')}, expected {bounds}",
            failing_rows_sql=c.render(exp.select(count_star().as_("row_count")).from_(c.source.copy())),
            counts_rows=False,
        )


class Freshness(CheckType):
    name = "freshness"

    def query(self, c: CheckInput) -> CheckQuery:
        limit = float(c.check.max_delay_minutes)  # type: ignore[attr-defined]
        # seconds since the epoch on both sides (a timestamp without zone counts as UTC), so
        # every engine subtracts numbers, not its own interval type
        age = exp.Sub(this=exp.TimeToUnix(this=exp.CurrentTimestamp()), expression=exp.TimeToUnix(this=exp.Max(this=c.column)))
        minutes = exp.Div(this=exp.Paren(this=age), expression=exp.Literal.number(60))
        return CheckQuery(
            value_sql=c.render(exp.select(minutes).from_(c.source.copy())),
            fails=lambda value: value is None or float(value) > limit,
            message=lambda value: (
                f"{c.label} has no rows to judge freshness by"
                if value is None
                else f"{c.label} is {float(value):.0f} minutes old (at most {limit:g} allowed)"
            ),
            failing_rows_sql=c.render(exp.select(exp.Max(this=c.column).as_("latest")).from_(c.source.copy())),
            counts_rows=False,
        )


class FailingRows(CheckType):
    """A query of the failing rows (dbt's singular and generic tests): it fails when it returns
    any, or with `fail_calc` when that aggregate over them is neither 0 nor null. The query and
    the aggregate are parsed again here, so a plan edited by hand cannot run a second statement."""

    name = "sql"

    def query(self, c: CheckInput) -> CheckQuery:
        check: SqlPlanCheck = c.check  # type: ignore[assignment]
        statements = [s for s in sqlglot.parse(check.sql, read=c.dialect) if s is not None]
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise ValueError(f"check {check.id!r}: its sql is not one query")
        failing = statements[0]
        value: exp.Expr = count_star()
        if check.fail_calc is not None:
            parsed = [s for s in sqlglot.parse(check.fail_calc, read=c.dialect) if s is not None]
            calc = parsed[0] if len(parsed) == 1 else None
            if not isinstance(calc, exp.Condition) or isinstance(calc, exp.Query):
                raise ValueError(f"check {check.id!r}: its fail_calc is not one expression")
            value = calc
        counted = check.fail_calc is None
        return CheckQuery(
            value_sql=c.render(exp.select(value).from_(failing.subquery("failing", copy=True))),
            # as dbt: with fail_calc, failing when the aggregate is neither 0 nor null
            fails=(lambda n: int(n) > 0) if counted else (lambda n: n is not None and n != 0),
            message=(lambda n: f"{check.path} returned {_plural(int(n), 'row')}") if counted else (lambda n: f"{check.path}: {check.fail_calc} is {n}"),
            failing_rows_sql=c.render(failing),
        )


CHECK_TYPES: dict[str, CheckType] = {
    t.name: t
    for t in (
        NotNull(), Unique(), GreaterEqual(), NonNegativeSum(), RowCountBetween(), Freshness(), AcceptedValues(), Relationships(),
        FailingRows(),
    )
}
