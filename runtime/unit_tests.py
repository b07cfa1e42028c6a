"""Running one model unit test: only the target model, on an isolated engine, on given inputs."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from flowforge_compiler.errors import FlowForgeError
from flowforge_compiler.plan import Plan, PlanNode, Relation
from flowforge_compiler.profiles import Profile
from flowforge_compiler.unit_test_file import InputSpec, UnitTestCase
from runtime.executors.base import Executor

if TYPE_CHECKING:
    from runtime.checks import CheckResult
from runtime.row_compare import Comparison, compare_rows


@dataclass(frozen=True)
class CaseResult:
    model: str
    case: str
    path: str
    ok: bool
    reason: str
    diff: str
    seconds: float


def isolated_executor(profile: Profile) -> AbstractContextManager[Executor]:
    """An engine no real run uses (each engine says how: an in-memory DuckDB, a throw-away
    PostgreSQL schema dropped afterwards whatever happens)."""
    from runtime.executors import executor_class

    profile.require_resolved()
    return executor_class(profile.spec).isolated(profile)


def relations_read(plan: Plan, node: PlanNode) -> list[str]:
    """The physical relations a model reads; through ephemeral parents, what those read."""
    nodes = plan.node_map()
    out: list[str] = list(node.source_relations)
    for parent_id in node.depends_on:
        parent = nodes[parent_id]
        if not parent.builds_relation and node.kind == "sql":
            out += relations_read(plan, parent)
        else:
            out.append(parent.relation)
    return list(dict.fromkeys(out))


def run_case(plan: Plan, case: UnitTestCase, executor: Executor, root: Path) -> CaseResult:
    """Load the inputs, build the model, compare; problems are failures with what to do."""
    started = time.perf_counter()

    def result(ok: bool, reason: str = "", comparison: Comparison | None = None) -> CaseResult:
        diff = comparison.diff() if comparison else ""
        return CaseResult(case.model, case.name, case.path, ok, reason, diff, time.perf_counter() - started)

    node = plan.find(case.model)
    if node is None or node.kind == "seed":
        close = get_close_matches(case.model, [n.id for n in plan.nodes if n.kind != "seed"], n=3)
        tip = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        return result(False, f"no model named {case.model!r} in the project{tip} (fix `model:` in {case.path})")
    needed = relations_read(plan, node)
    missing = [r for r in needed if r not in case.inputs]
    if missing:
        add = ", ".join(f"{r}: {{rows: [...]}}" for r in missing)
        return result(False, f"the model reads {', '.join(missing)}, which the case does not provide: add inputs {{{add}}}")
    try:
        for relation, spec in case.inputs.items():
            _load_input(executor, plan, relation, spec, case)
        executor.build(plan, node, root, full_refresh=True)
        relation = case.expect.relation or node.relation
        actual = executor.read_node(node) if relation == node.relation else executor.read_arrow(executor.statements.sql(executor.statements.select_all(relation)))
    except FlowForgeError as exc:
        return result(False, exc.render())
    except Exception as exc:  # noqa: BLE001 - an engine error is the case's failure
        return result(False, f"{type(exc).__name__}: {exc}")
    expected = executor.read_arrow(case.expect.sql).to_pylist() if case.expect.sql is not None else _expected_rows(case)
    comparison = compare_rows(
        _named_as_expected(actual, expected, executor).to_pylist(),
        expected,
        order_by=case.expect.order_by,
        any_order=case.expect.any_order,
        ignore_columns=case.expect.ignore_columns,
        subset=case.expect.subset,
        approx=case.expect.approx,
    )
    return result(comparison.ok, comparison.reason, comparison)


def _named_as_expected(actual: pa.Table, expected: list[dict], executor: Executor) -> pa.Table:
    """The result's columns under the names the case gives them, where the engine's catalog
    folds names (Snowflake's `ID` for the case's `id`)."""
    wanted = {executor.catalog_name(c): c for row in expected for c in row}
    return actual.rename_columns([wanted.get(c, c) for c in actual.column_names])


def _read_csv(case: UnitTestCase, written: str) -> pa.Table:
    """A case's CSV; only an empty field is NULL, as in seeds."""
    import pyarrow.csv as pacsv

    options = pacsv.ConvertOptions(null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False)
    return pacsv.read_csv(case.csv_path(written), convert_options=options)


def _input_relation(plan: Plan, written: str) -> str | Relation:
    """What an input key names: a schema-qualified source (`main.raw_users`) or a relation's name."""
    for source in plan.sources:
        if source.schema_ is not None and written == f"{source.schema_}.{source.identifier}":
            return Relation(schema_=source.schema_, name=source.identifier)
    return written


def _load_input(executor: Executor, plan: Plan, written: str, spec: InputSpec, case: UnitTestCase) -> None:
    target = _input_relation(plan, written)
    if spec.sql is not None:  # dbt's `format: sql`: the rows a query gives
        executor.drop_relation(target)
        executor.execute(executor.statements.create_table_as(target, spec.sql))
        return
    data = _read_csv(case, spec.csv) if spec.csv else pa.Table.from_pylist(spec.rows or [])
    if data.num_columns == 0:
        raise FlowForgeError(f"input {written!r} has no columns: give at least one row")
    if isinstance(target, Relation) and target.schema_:
        executor.execute(executor.statements.create_schema(target.schema_))
    executor.drop_relation(target)
    executor.create_table_from_arrow(target, data)


def _expected_rows(case: UnitTestCase) -> list[dict]:
    if case.expect.csv:
        return _read_csv(case, case.expect.csv).to_pylist()
    return list(case.expect.rows or [])


def as_check(result: CaseResult) -> CheckResult:
    """A unit test's result among a build's checks (dbt build runs a model's unit tests first)."""
    from runtime.checks import CheckResult

    return CheckResult(
        check_id=result.case, type="unit_test", table=result.model, column=None, severity="error", status="pass" if result.ok else "fail",
        failures=0 if result.ok else 1, message=result.reason or result.diff, seconds=result.seconds, sql="", failing_rows_sql="",
    )  # fmt: skip
