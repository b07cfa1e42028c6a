"""Data-quality checks: each one SQL query on the engine, no data pulled into Python.

Every check counts its failures in the warehouse (`failures`), and carries the SQL that lists
the failing rows, so a user can look at them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from flowforge_compiler.check_types import CheckedRows, CheckQuery, PlanCheck
from flowforge_compiler.errors import FlowForgeError, Location
from flowforge_compiler.plan import Plan
from flowforge_compiler.sql_names import relation
from flowforge_compiler.sql_statements import boolean_filter
from runtime.executors.base import Executor
from runtime.warehouse import ExecutorWarehouse


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
    return check.query(CheckedRows(source, ex.statements.sql, ex.profile.dialect, ex.statements.with_query))


def run_check(check: PlanCheck, executor: Executor, *, plan: Plan | None = None, root: Path | None = None) -> CheckResult:
    """Evaluate one check; an engine error (a missing table, say) is a result, not an exception.
    A dbt test rendered at run time renders first, from `plan` and the files under `root`."""
    started = time.perf_counter()
    if check.render_at_run_time is not None:
        try:
            check = _rendered(check, executor, plan, root)
        except FlowForgeError as exc:
            return _result(check, "error", 1, f"could not render the test: {exc.render()}", started, "", "")
    query = build_query(check, executor)
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
    return _result(check, status, failures, message, started, query.value_sql, query.failing_rows_sql, severity)


def _result(
    check: PlanCheck, status: str, failures: int, message: str, started: float, sql: str, failing_rows_sql: str, severity: str | None = None
) -> CheckResult:
    return CheckResult(
        check_id=check.id,
        type=check.type,
        table=check.table,
        column=getattr(check, "column", None),
        severity=severity or check.severity,
        status=status,
        failures=failures,
        message=message,
        seconds=time.perf_counter() - started,
        sql=sql,
        failing_rows_sql=failing_rows_sql,
    )


def _rendered(check: PlanCheck, executor: Executor, plan: Plan | None, root: Path | None) -> PlanCheck:
    if plan is None or root is None:
        raise FlowForgeError("the test renders at run time, from the plan and its folder, which this caller did not give")
    from flowforge_compiler.run_render import render_check

    return render_check(plan, check, root, ExecutorWarehouse(executor), executor.profile)

