"""dbt packages installed in a dbt project (`dbt deps` puts them in dbt_packages/): their macros
are namespaces (`tools.x`) that see each other unqualified, `adapter.dispatch(name, 'tools')`
follows dbt_project.yml's `dispatch:` search order, and their generic tests (`tools.positive`)
become checks of type sql, with dbt's `fail_calc` and `arguments:`."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flowforge_compiler.check_types import FailingRows
from flowforge_compiler.errors import FlowForgeError, ProjectFileError, TemplateError
from flowforge_compiler.project import load_project
from tests.compiler.helpers import compile_dir

DBT = "name: shop\nversion: '1'\n"
TOOLS = {
    "dbt_packages/tools/dbt_project.yml": "name: tools\nversion: '1'\n",
    "dbt_packages/tools/macros/double.sql": (
        "{% macro double(x) %}{{ return(helper(x) ~ ' * 2') }}{% endmacro %}\n{% macro helper(x) %}({{ x }}){% endmacro %}\n"
    ),
    "dbt_packages/tools/macros/greet.sql": (
        "{% macro greet() %}{{ return(adapter.dispatch('greet', 'tools')()) }}{% endmacro %}\n"
        "{% macro default__greet() %}'default'{% endmacro %}\n{% macro duckdb__greet() %}'duckdb'{% endmacro %}\n"
    ),
    "dbt_packages/tools/macros/tests.sql": (
        "{% test positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}\n"
        "{% test total_below(model, column_name, limit) %}{{ config(fail_calc='sum(' ~ column_name ~ ')') }}"
        "select {{ column_name }} from {{ model }} where {{ column_name }} >= {{ limit }}{% endtest %}\n"
    ),
}


def dbt_project(make_project, files: dict[str, str | None]) -> Path:
    return make_project({"project.yml": None, "dbt_project.yml": DBT, "models/orders.sql": "select 1 as id, 5 as amount", **TOOLS, **files})


def sql_of(plan, node: str) -> str:
    return next(n.sql for n in plan.nodes if n.id == node)


def test_a_packages_macros_are_called_by_its_name_and_see_each_other_unqualified(make_project) -> None:
    root = dbt_project(make_project, {"models/v.sql": "select {{ tools.double('amount') }} as v from {{ ref('orders') }}"})
    assert "(amount) * 2" in sql_of(compile_dir(root), "v")


def test_a_packages_macros_are_not_names_of_the_project(make_project) -> None:
    root = dbt_project(make_project, {"models/v.sql": "select\n{{ helper('amount') }} as v"})
    with pytest.raises(TemplateError, match="'helper' is undefined") as error:
        compile_dir(root)
    assert str(error.value.location) == "models/v.sql:2"


def test_a_name_the_package_lacks_is_an_error_naming_it(make_project) -> None:
    root = dbt_project(make_project, {"models/v.sql": "select {{ tools.triple('amount') }} as v"})
    with pytest.raises(TemplateError, match="tools.triple is not a macro of the package tools"):
        compile_dir(root)


def test_dispatch_tries_the_engines_prefix_then_default_in_the_package(make_project) -> None:
    root = dbt_project(make_project, {"models/v.sql": "select {{ tools.greet() }} as v"})
    assert "'duckdb'" in sql_of(compile_dir(root), "v")


def test_dispatch_follows_the_projects_search_order_so_the_project_overrides_a_package(make_project) -> None:
    root = dbt_project(
        make_project,
        {
            "dbt_project.yml": DBT + "dispatch:\n  - macro_namespace: tools\n    search_order: [shop, tools]\n",
            "macros/greet.sql": "{% macro default__greet() %}'ours'{% endmacro %}",
            "models/v.sql": "select {{ tools.greet() }} as v",
        },
    )
    assert "'ours'" in sql_of(compile_dir(root), "v")  # dbt searches package by package: shop's default__ first


def test_dispatch_to_a_package_that_is_not_installed_says_so(make_project) -> None:
    root = dbt_project(make_project, {"models/v.sql": "select {{ adapter.dispatch('x', 'missing_pkg')() }} as v"})
    with pytest.raises(TemplateError, match="found no macro within the namespace 'missing_pkg' .*; no package 'missing_pkg' is installed") as error:
        compile_dir(root)
    assert "dbt deps" in (error.value.hint or "")


def test_a_packages_generic_tests_become_sql_checks_with_fail_calc_and_arguments(make_project) -> None:
    root = dbt_project(
        make_project,
        {
            "models/schema.yml": (
                "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: amount\n        data_tests:\n"
                "          - tools.positive\n"
                "          - tools.total_below:\n              arguments:\n                limit: 3\n              config:\n                severity: warn\n"
            ),
        },
    )
    checks = {c.id: c for c in compile_dir(root).checks}
    positive, total = checks["tools_positive_orders_amount"], checks["tools_total_below_orders_amount"]
    assert isinstance(positive, FailingRows) and positive.fail_calc is None and "amount <= 0" in positive.sql
    assert isinstance(total, FailingRows) and total.fail_calc == "SUM(amount)" and total.severity == "warn"
    assert "amount >= 3" in total.sql and total.node == "orders"


def test_a_fail_calc_that_is_not_one_expression_is_refused(make_project) -> None:
    root = dbt_project(
        make_project,
        {
            "tests/t.sql": "{{ config(fail_calc='1); drop table orders; select (1') }}\nselect * from {{ ref('orders') }}",
        },
    )
    with pytest.raises(ProjectFileError, match="fail_calc of the test 't' must be one aggregate") as error:
        compile_dir(root)
    assert str(error.value.location) == "tests/t.sql"


def test_a_generic_test_written_as_a_test_macro_is_read_as_dbt_reads_it(make_project) -> None:
    root = dbt_project(
        make_project,
        {
            "macros/even.sql": "{% macro test_even(model, column_name) %}select * from {{ model }} where {{ column_name }} % 2 = 1{% endmacro %}",
            "models/schema.yml": "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        tests: [even]\n",
        },
    )
    (check,) = compile_dir(root).checks
    assert check.id == "even_orders_id" and "id % 2 = 1" in check.sql


def test_a_packages_models_and_seeds_are_named_as_not_built(make_project, caplog) -> None:
    root = dbt_project(make_project, {"dbt_packages/tools/models/m.sql": "select 1 as x", "dbt_packages/tools/seeds/s.csv": "a\n1\n"})
    with caplog.at_level(logging.WARNING, logger="flowforge"):
        project = load_project(root)
    assert [p.name for p in project.packages] == ["tools"]
    assert "dbt_packages/tools: the package's models are not built by FlowForge" in caplog.text
    assert "dbt_packages/tools: the package's seeds are not built by FlowForge" in caplog.text
    assert "dbt deps" not in caplog.text  # installed: no warning to run dbt deps


def test_two_packages_with_one_name_are_refused(make_project) -> None:
    root = dbt_project(make_project, {"dbt_packages/tools_copy/dbt_project.yml": "name: tools\n"})
    with pytest.raises(ProjectFileError, match="named 'tools'") as error:
        load_project(root)
    assert str(error.value.location) == "dbt_packages/tools_copy/dbt_project.yml:1"


def test_a_package_linked_from_outside_the_project_is_refused(make_project, tmp_path: Path) -> None:
    outside = tmp_path / "outside_pkg"
    (outside / "macros").mkdir(parents=True)
    (outside / "dbt_project.yml").write_text("name: linked\n")
    root = dbt_project(make_project, {})
    (root / "dbt_packages" / "linked").symlink_to(outside)  # as `dbt deps` links a `local:` package
    with pytest.raises(ProjectFileError, match="outside the project folder"):
        load_project(root)


def test_a_package_macro_path_outside_the_package_is_refused(make_project) -> None:
    root = dbt_project(make_project, {"dbt_packages/tools/dbt_project.yml": "name: tools\nmacro-paths: ['../../../elsewhere']\n"})
    (root.parent / "elsewhere").mkdir(exist_ok=True)
    with pytest.raises(ProjectFileError, match="outside the project folder"):
        load_project(root)


def test_a_packages_private_macros_are_called_too(make_project) -> None:
    root = dbt_project(
        make_project,
        {
            "dbt_packages/tools/macros/private.sql": "{% macro _quoted(x) %}'{{ x }}'{% endmacro %}\n{% macro label(x) %}{{ tools._quoted(x) }}{% endmacro %}",
            "models/v.sql": "select {{ tools.label('a') }} as v",
        },
    )
    assert "'a' as v" in sql_of(compile_dir(root), "v")  # dbt_utils calls its own _is_relation this way


def test_an_error_inside_a_packages_macro_names_the_model_line_and_the_packages_file(make_project) -> None:
    root = dbt_project(
        make_project,
        {
            "dbt_packages/tools/macros/strict.sql": "{% macro strict(x) %}\n{{ exceptions.raise_compiler_error('strict wants a number') }}\n{% endmacro %}",
            "models/v.sql": "-- one\nselect {{ tools.strict('a') }} as v",
        },
    )
    with pytest.raises(TemplateError, match=r"strict wants a number \(in dbt_packages/tools/macros/strict.sql\)") as error:
        compile_dir(root)
    assert str(error.value.location) == "models/v.sql:2"


def test_a_package_tests_argument_that_smuggles_a_second_statement_is_refused(make_project) -> None:
    root = dbt_project(
        make_project,
        {
            "dbt_packages/tools/macros/expr.sql": "{% test holds(model, expression) %}select * from {{ model }} where not ({{ expression }}){% endtest %}",
            "models/schema.yml": (
                "version: 2\nmodels:\n  - name: orders\n    data_tests:\n"
                "      - tools.holds:\n          expression: \"1 = 1); drop table orders; select (1\"\n"
            ),
        },
    )
    with pytest.raises(FlowForgeError, match="more than one SQL statement") as error:
        compile_dir(root)
    assert "models/schema.yml" in str(error.value)


def test_a_uses_settings_are_read_as_dbt_reads_them_and_the_rest_named(make_project, caplog) -> None:
    root = dbt_project(
        make_project,
        {
            "models/schema.yml": (
                "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: amount\n        data_tests:\n"
                "          - tools.positive:\n              config: {enabled: false}\n"  # dropped, as dbt drops it
                "          - tools.positive:\n              config: {fail_calc: 'max(amount)', warn_if: '>10'}\n              store_failures: true\n"
            ),
        },
    )
    with caplog.at_level(logging.WARNING, logger="flowforge"):
        (check,) = compile_dir(root).checks
    assert isinstance(check, FailingRows) and check.fail_calc == "MAX(amount)"  # the use's fail_calc
    assert check.warn_if == ">10" and check.error_if is None  # the use's thresholds (error_if: dbt's default)
    assert "the test 'tools.positive' on orders.amount: store_failures not read by FlowForge" in caplog.text
