"""Data-quality checks: each one SQL query on the engine, no data pulled into Python.

Every check counts its failures in the warehouse (`failures`), and carries the SQL that lists
the failing rows, so a user can look at them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlglot import exp

from flowforge_compiler.check_types import CheckedRows, CheckQuery, PlanCheck
from flowforge_compiler.errors import Location
from flowforge_compiler.sql_names import relation
from flowforge_compiler.sql_statements import boolean_filter
from runtime.executors.base import Executor


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


def build_query(check: PlanCheck, ex: Executor) -> CheckQuery:
    """The SQL for one check, built with sqlglot and rendered in the executor's dialect: no
    parameter can close a parenthesis or start a statement (names are quoted identifiers, values
    literals, and a `where:` filter is parsed as one expression)."""
    source: exp.Expr = relation(check.relation)
    if check.where:
        # validated at compile time; checked again so a hand-edited plan cannot smuggle a statement in
        dialect = ex.profile.dialect
        where = boolean_filter(check.where, Location("plan.json"), what=f"the where: of check {check.id!r}", dialect=dialect)
        source = exp.select("*").from_(source).where(exp.maybe_parse(where, dialect=dialect)).subquery("checked")
    return check.query(CheckedRows(source, ex.statements.sql, ex.profile.dialect))


def run_check(check: PlanCheck, executor: Executor) -> CheckResult:
    """Evaluate one check; an engine error (a missing table, say) is a result, not an exception."""
    started = time.perf_counter()
    query = build_query(check, executor)
    column = getattr(check, "column", None)
    severity: str = check.severity
    try:
        value = executor.scalar(query.value_sql)
        failed = query.fails(value)
        failures = 0 if not failed else (int(value) if query.counts_rows else 1)
        status, message = "pass", query.message(value)
        if query.counts_rows and value is not None:  # a count, or fail_calc's aggregate: dbt's thresholds
            status, severity = check.verdict(float(value))
        elif failed:
            status, severity = check.verdict(1.0)
    except Exception as exc:  # noqa: BLE001 - the engine's message is the report
        status, failures = "error", 1
        message = f"could not run the check: {type(exc).__name__}: {str(exc).strip()}"
    return CheckResult(
        check_id=check.id,
        type=check.type,
        table=check.table,
        column=column,
        severity=severity,
        status=status,
        failures=failures,
        message=message,
        seconds=time.perf_counter() - started,
        sql=query.value_sql,
        failing_rows_sql=query.failing_rows_sql,
    )

