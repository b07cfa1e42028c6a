"""Checks bind to what users write: node names, relations, ref() and source(), stored resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import open_executor, run_check
from tests.compiler.helpers import compile_dir
from tests.runtime.helpers import build_all, duckdb_profile

FILES = {
    "seeds/raw_users.csv": "id,active\n1,true\n2,false\n",
    "sources.yml": "version: 2\nsources:\n  - name: crm\n    schema: main\n    tables:\n      - {name: users, identifier: raw_users}\n",
    "models/customers.ff.sql": "select id, active from {{ source('crm', 'users') }}",
    "models/orders.ff.sql": "select 1 as id, 1 as customer_id",
}


@pytest.mark.parametrize("written", ["customers.ff", "customers", "ref('customers')", "ref('customers.ff')"])
def test_table_and_to_accept_node_names_relations_and_ref(make_project, tmp_path: Path, written: str) -> None:
    project = {
        **FILES,
        "project.yml": "name: t\nversion: '1'\ntests:\n"
        f"  - {{type: not_null, table: \"{written}\", column: id}}\n"
        f"  - {{type: relationships, table: orders, column: customer_id, to: \"{written}\"}}\n",
    }
    root = make_project(project)
    plan = compile_dir(root)
    not_null, relationships = plan.checks
    assert not_null.table == "customers" and not_null.node == "customers.ff"
    assert relationships.to == "customers" and relationships.nodes == ["orders.ff", "customers.ff"]
    assert relationships.to_relation.name == "customers" and not_null.column == "id"
    db = tmp_path / "w.duckdb"
    build_all(root, db)
    with open_executor(duckdb_profile(root, db)) as executor:
        assert [run_check(c, executor).status for c in plan.checks] == ["pass", "pass"]


def test_a_source_naming_a_seed_binds_and_depends_on_it_even_with_a_schema(make_project) -> None:
    project = {**FILES, "project.yml": "name: t\nversion: '1'\ntests:\n  - {type: not_null, table: \"source('crm', 'users')\", column: id}\n"}
    plan = compile_dir(make_project(project))
    assert plan.node("customers.ff").depends_on == ["raw_users"]
    assert plan.checks[0].table == "raw_users" and plan.checks[0].node == "raw_users"
    assert [s.node for s in plan.sources] == ["raw_users"]


def test_threshold_keeps_its_type_so_boolean_columns_compare(make_project, tmp_path: Path) -> None:
    project = {
        **FILES,
        "project.yml": "name: t\nversion: '1'\ntests:\n"
        "  - {type: greater_equal, table: customers, column: id, threshold: 0}\n"
        "  - {type: greater_equal, table: customers, column: active, threshold: false}\n",
    }
    root = make_project(project)
    plan = compile_dir(root)
    assert plan.checks[0].threshold == 0 and type(plan.checks[0].threshold) is int
    assert plan.checks[1].threshold is False
    db = tmp_path / "w.duckdb"
    build_all(root, db)
    with open_executor(duckdb_profile(root, db)) as executor:
        assert [run_check(c, executor).status for c in plan.checks] == ["pass", "pass"]


@pytest.mark.parametrize(
    ("severity", "warn_if", "error_if", "failures", "expected"),
    [
        ("error", None, None, 0, ("pass", "error")),
        ("error", None, None, 3, ("fail", "error")),
        ("error", ">2", ">5", 3, ("fail", "warn")),  # meets warn_if only: a warning
        ("error", ">2", ">5", 6, ("fail", "error")),
        ("error", None, ">=3", 2, ("fail", "warn")),  # below error_if, and the default warn_if (!= 0) holds
        ("warn", ">3", None, 3, ("pass", "warn")),  # a warn-severity check never errors
        ("warn", ">3", ">0", 4, ("fail", "warn")),
        ("error", "= 3", "<> 4", 3, ("fail", "error")),
        ("error", "= 3", "<> 4", 4, ("pass", "error")),
    ],
)
def test_a_checks_thresholds_decide_its_verdict_as_dbts_do(severity: str, warn_if: str | None, error_if: str | None, failures: int, expected: tuple) -> None:
    from flowforge_compiler.check_types import PlanCheck

    check = PlanCheck.registry["not_null"].model_validate(
        {"id": "c", "type": "not_null", "table": "t", "relation": {"name": "t"}, "node": None, "column": "x",
         "severity": severity, "warn_if": warn_if, "error_if": error_if}  # fmt: skip
    )
    assert check.verdict(failures) == expected


@pytest.mark.parametrize("threshold", ["> 1; drop table t", "between 1 and 2", ">", "> x", "1"])
def test_a_threshold_that_is_not_a_comparison_with_a_number_is_refused_naming_the_test(make_project, threshold: str) -> None:
    from flowforge_compiler.errors import FlowForgeError

    project = {**FILES, "project.yml": f"name: t\nversion: '1'\ntests:\n  - {{type: not_null, table: customers, column: id, error_if: \"{threshold}\"}}\n"}
    with pytest.raises(FlowForgeError, match="is not a threshold") as error:
        compile_dir(make_project(project))
    assert "project.yml" in str(error.value.location)
