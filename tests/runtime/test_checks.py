"""Every check type, passing and failing, on DuckDB; messages, failing-row SQL, where, severity."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from runtime import open_executor, run_check, run_checks
from tests.compiler.helpers import compile_dir
from tests.runtime.engines import ENGINES, engine_profile
from tests.runtime.helpers import build_all, duckdb_profile

pytestmark = pytest.mark.duckdb


DATA = {
    "seeds/users.csv": "id,email,status,signed_up\n1,a@x.io,active,2020-01-01 00:00:00\n2,,active,2020-01-02 00:00:00\n2,c@x.io,gone,2020-01-03 00:00:00\n",
    "seeds/orders.csv": "order_id,user_id,amount\n10,1,5\n11,2,-3\n12,9,-4\n",
    "seeds/schema.yml": "seeds:\n  users: {column_types: {signed_up: TIMESTAMP}}\n",
}

CASES = [
    # (check, passes, message when it fails)
    ("{type: not_null, table: users, column: id}", True, None),
    ("{type: not_null, table: users, column: email}", False, "users.email has 1 null value"),
    ("{type: unique, table: users, column: email}", True, None),
    ("{type: unique, table: users, column: id}", False, "users.id has 1 duplicate"),
    ("{type: greater_equal, table: orders, column: order_id, threshold: 10}", True, None),
    ("{type: greater_equal, table: orders, column: amount}", False, "orders.amount has 2 values below 0"),
    ("{type: non_negative_sum, table: orders, column: order_id}", True, None),
    ("{type: non_negative_sum, table: orders, column: amount}", False, "sum(orders.amount) is -2, below 0"),
    ("{type: row_count_between, table: users, min: 1, max: 3}", True, None),
    ("{type: row_count_between, table: users, min: 4}", False, "users has 3 rows, expected at least 4"),
    ("{type: freshness, table: users, column: signed_up, max_delay_minutes: 100000000}", True, None),
    ("{type: freshness, table: users, column: signed_up, max_delay_minutes: 60}", False, "minutes old (at most 60 allowed)"),
    ("{type: accepted_values, table: users, column: status, values: [active, gone]}", True, None),
    ("{type: accepted_values, table: users, column: status, values: [active]}", False, "users.status has 1 value outside [active]"),
    ("{type: relationships, table: orders, column: user_id, to: users, to_column: id}", False, "orders.user_id has 1 value without a match in users.id"),
    ("{type: relationships, table: orders, column: user_id, to: users, where: 'order_id < 12'}", True, None),
    ("{type: not_null, table: users, column: email, where: 'id = 1'}", True, None),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("checks") / "p"
    from tests.conftest import write_project

    tests = "".join(f"  - {check}\n" for check, _, _ in CASES)
    write_project(root, {**DATA, "project.yml": f"name: t\nversion: '1'\ntests:\n{tests}"})
    db = root / "w.duckdb"
    plan, _ = build_all(root, db)
    return root, db, plan


@pytest.mark.parametrize(("index", "case"), list(enumerate(CASES)), ids=[c[0] for c in CASES])
def test_check(built, index: int, case: tuple) -> None:
    root, db, plan = built
    _, passes, message = case
    with open_executor(duckdb_profile(root, db)) as executor:
        result = run_check(plan.checks[index], executor)
    assert result.status == ("pass" if passes else "fail"), result.message
    if not passes:
        assert message in result.message
        assert result.failures >= 1
        with open_executor(duckdb_profile(root, db)) as executor:
            executor.read_arrow(result.failing_rows_sql)  # the SQL that shows the rows runs
    else:
        assert result.failures == 0


def test_failing_rows_sql_returns_the_failing_rows(built) -> None:
    root, db, plan = built
    with open_executor(duckdb_profile(root, db)) as executor:
        result = run_check(plan.checks[3], executor)  # unique users.id
        rows = executor.read_arrow(result.failing_rows_sql).to_pylist()
    assert sorted(r["email"] or "" for r in rows) == ["", "c@x.io"]


def test_missing_table_is_an_error_result_not_an_exception(make_project, tmp_path: Path) -> None:
    root = make_project({**DATA, "project.yml": "name: t\nversion: '1'\ntests:\n  - {type: not_null, table: users, column: id}\n"})
    plan = compile_dir(root)
    with open_executor(duckdb_profile(root, tmp_path / "empty.duckdb")) as executor:
        result = run_check(plan.checks[0], executor)
    assert (result.status, result.blocking) == ("error", True)
    assert "could not run the check" in result.message and "users" in result.message


def test_warn_severity_never_blocks(make_project, tmp_path: Path) -> None:
    root = make_project(
        {**DATA, "project.yml": "name: t\nversion: '1'\ntests:\n  - {type: not_null, table: users, column: email, severity: warn}\n"}
    )
    db = tmp_path / "w.duckdb"
    plan, _ = build_all(root, db)
    [result] = run_checks(plan, "users", executor=None, profile=duckdb_profile(root, db), root=root)
    assert (result.status, result.severity, result.blocking) == ("fail", "warn", False)


def test_checks_are_bound_to_the_node_they_guard(built) -> None:
    _, _, plan = built
    relationships = next(c for c in plan.checks if c.type == "relationships")
    assert relationships.node == "orders" and relationships.nodes == ["orders", "users"]

    assert relationships in plan.checks_guarding("orders")
    assert relationships not in plan.checks_guarding("users")


def test_every_check_type_is_one_declaration_for_project_yml_the_plan_and_the_query() -> None:
    from typing import get_args

    from flowforge_compiler.check_types import PlanCheck, WrittenCheck
    from flowforge_compiler.plan import Plan

    written = {get_args(model.model_fields["type"].annotation)[0]: model for model in get_args(get_args(WrittenCheck)[0])}
    planned = get_args(get_args(Plan.model_fields["checks"].annotation)[0])[0]
    assert {get_args(m.model_fields["type"].annotation)[0] for m in get_args(planned)} == set(PlanCheck.registry)
    assert set(written) == set(PlanCheck.registry) - {"sql"}  # a query's checks come from dbt's singular tests
    for name, check in PlanCheck.registry.items():
        assert check.query is not PlanCheck.query, name  # each type builds its own query
    # project.yml's entry takes the type's parameters, not the relation the compiler binds
    assert "to" in written["relationships"].model_fields and "to_relation" not in written["relationships"].model_fields
    assert "threshold" in written["greater_equal"].model_fields


def test_a_check_types_validators_also_check_what_users_write() -> None:
    from flowforge_compiler.check_types import SPECS

    with pytest.raises(ValueError, match=r"min \(5\) is greater than max \(2\)"):
        SPECS["row_count_between"].model_validate({"type": "row_count_between", "table": "t", "min": 5, "max": 2})


def test_a_toy_check_type_is_one_class_the_runtime_runs_unchanged(built) -> None:
    """A check type defined here, in one class, is written as project.yml says it, stored in a
    plan entry and run by the runtime's ordinary run_check; it is removed from the registry after."""
    from typing import Literal

    from sqlglot import exp

    from flowforge_compiler.check_types import CheckedRows, CheckQuery, PlanCheck
    from flowforge_compiler.checks import bind_checks
    from flowforge_compiler.sql_names import column, literal

    try:

        class AtMost(PlanCheck):
            type: Literal["at_most"]
            column: str
            limit: int

            def query(self, on: CheckedRows) -> CheckQuery:
                return self.count_where(on, exp.GT(this=column(self.column), expression=literal(self.limit)), lambda n: f"{n} above {self.limit}")

        spec = AtMost.spec_model().model_validate({"type": "at_most", "table": "orders", "column": "order_id", "limit": 11})
        root, db, plan = built
        [check] = bind_checks([spec], plan.nodes, {})  # the compiler's binding, unchanged
        assert isinstance(check, AtMost) and check.id == "at_most_orders_order_id"
        with open_executor(duckdb_profile(root, db)) as executor:
            result = run_check(check, executor)
        assert (result.status, result.message) == ("fail", "orders.order_id has 1 above 11")
    finally:
        PlanCheck.registry.pop("at_most", None)


SINGULAR = {
    "project.yml": None,
    "dbt_project.yml": "name: shop\nversion: '1'\n",
    "seeds/orders.csv": "order_id,amount\n10,5\n11,-3\n12,-4\n",
    "tests/assert_no_refund_below_minus_10.sql": "select * from {{ ref('orders') }} where amount < -10",
    "tests/assert_amounts_positive.sql": "select order_id, amount from {{ ref('orders') }} where amount < 0",
    # dbt's fail_calc: the failures are this aggregate over the rows; 0 or null passes
    "tests/refunds_total.sql": "{{ config(fail_calc='sum(-amount)') }} select amount from {{ ref('orders') }} where amount < 0",
    "tests/big_refunds.sql": "{{ config(fail_calc='sum(case when amount < -10 then 1 else 0 end)') }} select amount from {{ ref('orders') }}",
    "tests/no_rows_sum.sql": "{{ config(fail_calc='sum(amount)') }} select amount from {{ ref('orders') }} where amount > 100",
    "tests/generic/is_positive.sql": "{% test is_positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}",
    "seeds/properties.yml": "version: 2\nseeds:\n  - name: orders\n    columns:\n      - name: amount\n"
    "        data_tests: [is_positive, {is_positive: {where: 'order_id < 12'}}]\n",
}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_singular_test_fails_with_the_rows_its_query_returns(request, engine: str, make_project, tmp_path: Path) -> None:
    root = make_project(SINGULAR)
    profile = engine_profile(request, engine, root, tmp_path)
    from flowforge_compiler.compile import compile_project
    from flowforge_compiler.project import load_project
    from runtime import run_node

    plan = compile_project(load_project(root), profile, environ={})
    with open_executor(profile) as executor:
        for node in plan.nodes:
            run_node(plan, node.id, executor=executor, root=root)
        results = {c.id: run_check(c, executor) for c in plan.checks if c.type == "sql"}
        assert results["assert_no_refund_below_minus_10"].status == "pass"
        failing = results["assert_amounts_positive"]
        assert (failing.status, failing.failures, failing.message) == ("fail", 2, "tests/assert_amounts_positive.sql returned 2 rows")
        assert sorted(int(row[0]) for row in executor.fetch_rows(failing.failing_rows_sql)) == [11, 12]
        refunds = results["refunds_total"]
        assert (refunds.status, refunds.failures, refunds.message) == ("fail", 7, "tests/refunds_total.sql: SUM(-amount) is 7")
        assert results["big_refunds"].status == results["no_rows_sum"].status == "pass"
        generic = results["is_positive_orders_amount"], results["is_positive_orders_amount_2"]  # a {% test %} of the project
        assert [(r.status, r.failures) for r in generic] == [("fail", 2), ("fail", 1)]


def test_a_plan_edited_to_hold_two_statements_in_a_singular_test_runs_neither(make_project, tmp_path: Path) -> None:
    root = make_project(SINGULAR)
    db = tmp_path / "w.duckdb"
    plan, _ = build_all(root, db)
    check = next(c for c in plan.checks if c.type == "sql")
    hostile = check.model_copy(update={"sql": "select 1; drop table orders"})
    calc = check.model_copy(update={"fail_calc": "count(*); drop table orders"})
    with open_executor(duckdb_profile(root, db)) as executor:
        with pytest.raises(ValueError, match="not one query"):
            run_check(hostile, executor)
        with pytest.raises(ValueError, match="fail_calc is not one expression"):
            run_check(calc, executor)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from orders").fetchone() == (3,)
