"""A dbt project's templates: singular tests, ref('package', 'name'), the dbt names FlowForge has
(log, return, adapter.dispatch, exceptions, dbt.* cross-database macros) and clear errors for
the ones it does not (a run_query of a table, packages not installed), and SQL read in the target's dialect as dbt does."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.errors import DependencyNotFoundError, FlowForgeError, ProjectFileError, TemplateError
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from tests.compiler.helpers import compile_dir
from tests.conftest import require_extra

DBT = "name: shop\nversion: '1'\nprofile: shop\n"
PG_PROFILE = "shop:\n  target: pg\n  outputs:\n    pg: {type: postgres, host: h, user: u, password: p, port: 5432, dbname: d, schema: s}\n"


def dbt_project(make_project, files: dict[str, str]) -> Path:
    return make_project({"project.yml": None, "dbt_project.yml": DBT, "models/orders.sql": "select 1 as id, 5 as amount", **files})


def sql_of(plan, node: str) -> str:
    return next(n.sql for n in plan.nodes if n.id == node)


def test_a_singular_test_is_a_check_after_the_last_node_it_reads(make_project) -> None:
    root = dbt_project(
        make_project,
        {
            "models/customers.sql": "select 1 as id",
            "models/late.sql": "select * from {{ ref('orders') }} join {{ ref('customers') }} using (id)",
            "tests/assert_amount_positive.sql": (
                "{{ config(severity='WARN', tags='finance', store_failures=true) }}\n"
                "select * from {{ ref('late') }} join {{ ref('orders') }} using (id) where amount < 0"
            ),
            "tests/disabled.sql": "{{ config(enabled=false) }} select * from {{ ref('orders') }}",
            "tests/generic/is_even.sql": "{% test is_even(model, column_name) %} select * from {{ model }} {% endtest %}",
        },
    )
    (check,) = [c for c in compile_dir(root).checks if c.type == "sql"]
    assert (check.id, check.node, check.nodes, check.severity, check.tags) == ("assert_amount_positive", "late", ["orders", "late"], "warn", ["finance"])
    assert check.path == "tests/assert_amount_positive.sql" and "amount < 0" in check.sql


def test_a_singular_test_naming_a_missing_model_stops_the_compile_naming_it(make_project) -> None:
    root = dbt_project(make_project, {"tests/t.sql": "select * from {{ ref('ordrs') }}"})
    with pytest.raises(DependencyNotFoundError, match=r"t: 'ordrs' \(did you mean 'orders'\?\)"):
        compile_dir(root)


def test_a_singular_test_is_one_query(make_project) -> None:
    root = dbt_project(make_project, {"tests/t.sql": "select 1; drop table orders"})
    with pytest.raises(FlowForgeError, match="one") as error:
        compile_dir(root)
    assert error.value.location is not None and error.value.location.path == "tests/t.sql"


def test_ref_may_name_the_project_as_its_package_and_nothing_else(make_project) -> None:
    root = dbt_project(make_project, {"models/b.sql": "select * from {{ ref('shop', 'orders') }}"})
    assert next(n for n in compile_dir(root).nodes if n.id == "b").depends_on == ["orders"]
    other = dbt_project(make_project, {"models/b.sql": "select * from {{ ref('dbt_utils', 'orders') }}"})
    with pytest.raises(TemplateError, match=r"ref\('dbt_utils', 'orders'\) does not name a model of this project") as error:
        compile_dir(other)
    assert str(error.value.location) == "models/b.sql:1"
    versioned = dbt_project(make_project, {"models/b.sql": "select * from {{ ref('orders', v=2) }}"})
    with pytest.raises(TemplateError, match="no model versions"):
        compile_dir(versioned)


def test_adapter_dispatch_prefers_the_engines_macro_and_return_gives_its_value(make_project, caplog) -> None:
    macros = """
{% macro cents_to_dollars(column_name) -%}
    {{ return(adapter.dispatch('cents_to_dollars')(column_name)) }}
{%- endmacro %}
{% macro default__cents_to_dollars(column_name) -%} ({{ column_name }} / 100)::numeric(16, 2) {%- endmacro %}
{% macro duckdb__cents_to_dollars(column_name) -%} round({{ column_name }} / 100, 2) {%- endmacro %}
{% macro greeting() %}{{ log('rendering ' ~ project_name, info=True) }}{{ return('hello') }}never{% endmacro %}
"""
    root = dbt_project(make_project, {"macros/m.sql": macros, "models/b.sql": "select {{ cents_to_dollars('amount') }} as d, '{{ greeting() }}' as g from {{ ref('orders') }}"})
    with caplog.at_level(logging.INFO, logger="flowforge"):
        sql = sql_of(compile_dir(root), "b")
    assert "round(amount / 100, 2)" in sql.lower() and "'hello' as g" in sql.lower() and "never" not in sql
    assert "rendering shop" in caplog.text
    pg = dbt_project(make_project, {"macros/m.sql": macros, "models/b.sql": "select {{ cents_to_dollars('amount') }} as d from {{ ref('orders') }}", "profiles.yml": PG_PROFILE})
    project = load_project(pg)
    plan = compile_project(project, resolve_profile(project.root, None, environ={}), environ={})
    assert "NUMERIC(16, 2)" in sql_of(plan, "b").upper()  # no postgres__ macro: the default one


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("select {{ dbt.no_such_macro('x') }} as v", "dbt.no_such_macro is not a macro of the package dbt"),
        ("{{ exceptions.raise_compiler_error('orders need an id') }}", "orders need an id"),
        ("select {{ dbt_utils.generate_surrogate_key(['id']) }} as k", "'dbt_utils' is undefined"),
    ],
)
def test_dbt_names_flowforge_does_not_have_stop_the_compile_naming_them(make_project, template: str, message: str) -> None:
    root = dbt_project(make_project, {"models/b.sql": "-- the second line is wrong\n" + template})
    with pytest.raises(TemplateError, match=message) as error:
        compile_dir(root)
    assert str(error.value.location) == "models/b.sql:2"
    if "dbt_utils" in message:
        assert "installed in the project's dbt_packages/ (run `dbt deps`)" in (error.value.hint or "")


def test_a_dbt_projects_sql_is_read_in_its_targets_dialect(make_project) -> None:
    """dbt runs SQL on its target as written: on PostgreSQL, 7 / 2 stays integer division (FlowForge
    reading it as DuckDB's would rewrite it to keep DuckDB's 3.5)."""
    root = dbt_project(make_project, {"models/b.sql": "select 7 / 2 as half, 'a'::text as t", "profiles.yml": PG_PROFILE})
    project = load_project(root)
    plan = compile_project(project, resolve_profile(project.root, None, environ={}), environ={})
    assert plan.project.dialect == "postgres" and "7 / 2" in sql_of(plan, "b")


def test_dbt_model_config_flowforge_does_not_use_is_named_and_ignored(make_project, caplog) -> None:
    root = dbt_project(make_project, {"models/b.sql": "{{ config(materialized='table', schema='marts', post_hook='grant select on {{ this }} to r') }}select 1 as id"})
    with caplog.at_level(logging.WARNING, logger="flowforge"):
        plan = compile_dir(root)
    assert next(n for n in plan.nodes if n.id == "b").materialization.type == "table"
    assert "config() post_hook, schema not supported by FlowForge and ignored" in caplog.text


BQ_PROFILE = "shop:\n  target: bq\n  outputs:\n    bq: {type: bigquery, method: oauth, project: p, dataset: d}\n"


def test_dbt_macros_dispatch_to_the_bigquery_adapters_own(make_project) -> None:
    """BigQuery has no SPLIT_PART: dbt-bigquery's bigquery__split_part writes SPLIT(...)[SAFE_OFFSET()],
    for a part counted from the end too; its Column names the types (INT64, not INT)."""
    require_extra("google.cloud.bigquery", "bigquery")
    model = "select {{ dbt.split_part('url', \"'/'\", 2) }} as host, {{ split_part('url', \"'/'\", -1) }} as tail, cast(1 as {{ type_int() }}) as i from (select 'a/b' as url) t"
    root = dbt_project(make_project, {"models/b.sql": model, "profiles.yml": BQ_PROFILE})
    project = load_project(root)
    sql = " ".join(sql_of(compile_project(project, resolve_profile(project.root, None, environ={}), environ={}), "b").split())
    assert "split( url, '/' )[safe_offset(1)] as host" in sql
    assert "[safe_offset( length(url) - length( replace(url, '/', '') ) + 1 + -1 )] as tail" in sql
    assert "cast(1 as INT64) as i" in sql


def test_a_model_disabling_itself_in_its_own_file_is_left_out_with_its_tests(make_project) -> None:
    """As dbt decides `enabled` while parsing: the model, and the tests on it, are left out."""
    root = dbt_project(make_project, {
        "models/b.sql": "{{ config(enabled=(1 > 2)) }}select 1 as id",
        "models/c.sql": "{{ config(enabled='false') }}select 1 as id",
        "models/schema.yml": "version: 2\nmodels:\n  - name: b\n    columns:\n      - name: id\n        data_tests: [not_null]\n",
        "tests/reads_c.sql": "select * from {{ ref('c') }} where id < 0",
    })  # fmt: skip
    plan = compile_dir(root)
    assert [n.id for n in plan.nodes] == ["orders"] and plan.checks == []


def test_a_model_reading_one_its_own_config_disables_is_an_error_naming_both(make_project) -> None:
    root = dbt_project(make_project, {"models/b.sql": "{{ config(enabled=false) }}select 1 as id", "models/d.sql": "select * from {{ ref('b') }}"})
    with pytest.raises(ProjectFileError, match="'d' reads 'b', which its own config\\(enabled=...\\) disables") as error:
        compile_dir(root)
    assert str(error.value.location) == "models/d.sql"


def test_a_macro_returns_its_value_however_it_is_called(make_project) -> None:
    """dbt's return(): through a global name, and from another macro of the same file, which
    Jinja calls without going through the globals."""
    macros = (
        "{% macro dates() %}{{ return(['2020-01-01', '2020-01-02']) }}{% endmacro %}\n"
        "{% macro first_date() %}'{{ dates()[0] }}'{% endmacro %}\n"
    )
    root = dbt_project(make_project, {"macros/m.sql": macros, "models/b.sql": "select {{ first_date() }} as d, {{ shop.dates() | length }} as n"})
    assert "select '2020-01-01' as d, 2 as n" in sql_of(compile_dir(root), "b")


def test_a_generic_tests_arguments_are_rendered_as_dbt_renders_them(make_project) -> None:
    generic = "{% test is_true(model, expression) %}select * from {{ model }} where not ({{ expression }}){% endtest %}"
    schema = "version: 2\nmodels:\n  - name: orders\n    data_tests:\n      - is_true:\n          arguments:\n            expression: \"amount = {{ 2 + 3 }}\"\n"
    root = dbt_project(make_project, {"tests/generic/is_true.sql": generic, "models/schema.yml": schema})
    (check,) = compile_dir(root).checks
    assert "NOT (amount = 5)" in check.sql.upper() or "not (amount = 5)" in check.sql
GENERIC = """
{% test is_positive(model, column_name) %}
select * from {{ model }} where {{ column_name }} <= 0
{% endtest %}
{% test has_rows_above(model, threshold=1) %}
{{ config(severity='warn') }}
select 1 as failing where (select count(*) from {{ model }}) < {{ threshold }}
{% endtest %}
"""


def test_the_projects_own_generic_tests_are_checks_of_their_models(make_project) -> None:
    root = dbt_project(
        make_project,
        {
            "macros/tests.sql": GENERIC,
            "models/schema.yml": """
                version: 2
                models:
                  - name: orders
                    data_tests:
                      - has_rows_above: {threshold: 3}
                    columns:
                      - name: amount
                        data_tests:
                          - is_positive
                          - is_positive: {config: {where: "id > 0", severity: warn, tags: [money]}}
            """,
        },
    )
    checks = {c.id: c for c in compile_dir(root).checks if c.type == "sql"}
    assert sorted(checks) == ["has_rows_above_orders", "is_positive_orders_amount", "is_positive_orders_amount_2"]
    plain, filtered = checks["is_positive_orders_amount"], checks["is_positive_orders_amount_2"]
    assert plain.node == "orders" and "from orders where amount <= 0" in " ".join(plain.sql.lower().split())
    assert "dbt_subquery" in filtered.sql and "id > 0" in filtered.sql and (filtered.severity, filtered.tags) == ("warn", ["money"])
    assert checks["has_rows_above_orders"].severity == "warn" and "< 3" in checks["has_rows_above_orders"].sql


def test_a_generic_tests_where_is_one_expression(make_project) -> None:
    root = dbt_project(
        make_project,
        {
            "macros/tests.sql": GENERIC,
            "models/schema.yml": "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: amount\n"
            "        data_tests: [{is_positive: {where: '1=1) union select 1 --'}}]\n",
        },
    )
    with pytest.raises(FlowForgeError, match="where"):
        compile_dir(root)


def test_a_generic_test_the_project_does_not_define_is_still_named(make_project) -> None:
    root = dbt_project(make_project, {"macros/tests.sql": GENERIC, "models/schema.yml": "version: 2\nmodels:\n  - name: orders\n    data_tests: [is_negative]\n"})
    with pytest.raises(FlowForgeError, match="'is_negative' on orders is not one FlowForge has"):
        compile_dir(root)


def test_do_statements_work_as_in_dbt(make_project) -> None:
    macro = """
{% macro key(fields) -%}
{%- set parts = [] -%}
{%- for f in fields -%}{%- do parts.append("coalesce(cast(" ~ f ~ " as " ~ dbt.type_string() ~ "), '')") -%}{%- endfor -%}
{{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
"""
    root = dbt_project(make_project, {"macros/key.sql": macro, "models/b.sql": "select {{ key(['id', 'amount']) }} as k from {{ ref('orders') }}"})
    assert "md5(cast(coalesce(cast(id as TEXT), '') || coalesce(cast(amount as TEXT), '') as TEXT))" in sql_of(compile_dir(root), "b")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("select '{{ this.identifier }}|{{ this.name }}|{{ ref('orders').identifier }}|{{ ref('orders').name }}' as v", "'b|b|orders|orders'"),
        ("select '{{ source('app', 'users').schema }}.{{ source('app', 'users').identifier }}' as v", "'app.users'"),
        ("select '{{ this.schema }}' as v", "this.schema is not known to the model"),
        ("select '{{ ref('orders').schema }}' as v", "the schema of orders is not known to the model"),
        ("select '{{ ref('orders').database }}' as v", "the database of orders is not known to the model"),
    ],
)
def test_relations_have_dbts_attributes_and_a_schema_it_cannot_know_is_an_error_not_empty_text(make_project, template: str, expected: str) -> None:
    """An undefined name renders empty in a dbt project; a relation's attribute must not."""
    sources = "version: 2\nsources:\n  - name: app\n    tables: [{name: users}]\n"
    root = dbt_project(make_project, {"models/b.sql": template, "models/sources.yml": sources})
    if expected.startswith("'"):
        assert expected in sql_of(compile_dir(root), "b")
        return
    with pytest.raises(TemplateError, match=expected) as error:
        compile_dir(root)
    assert "target.schema" in (error.value.hint or "")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("select cast(1 as {{ dbt.type_string() }}) as v", "dbt's macro library .*is a dbt feature FlowForge does not have: it is not installed"),
        ("select cast(1 as {{ type_string() }}) as v", "'type_string' is undefined"),
        ("select {{ adapter.dispatch('type_string', 'dbt')() }} as v", "dbt's macro library is not installed"),
    ],
)
def test_without_dbts_macro_library_its_macros_say_how_to_install_it(make_project, monkeypatch, template: str, message: str) -> None:
    from flowforge_compiler import dbt_library

    monkeypatch.setattr(dbt_library, "_include", lambda distribution, folder: None)
    dbt_library.macro_library.cache_clear()
    try:
        root = dbt_project(make_project, {"models/b.sql": template})
        with pytest.raises(TemplateError, match=message) as error:
            compile_dir(root)
    finally:
        dbt_library.macro_library.cache_clear()
    assert "pip install --no-deps -r dbt-library.txt" in f"{error.value} {error.value.hint}"
    assert str(error.value.location) == "models/b.sql:1"


def test_dbts_library_is_read_from_the_installed_packages_global_first_then_the_adapters() -> None:
    from flowforge_compiler.dbt_library import macro_library

    library = macro_library(("postgres",))
    assert library is not None and library.packages == ("dbt-adapters", "dbt-postgres")
    assert library.defined_in["default__datediff"].display == "dbt-adapters/global_project/macros/utils/datediff.sql"
    assert library.defined_in["postgres__datediff"].display == "dbt-postgres/postgres/macros/utils/datediff.sql"
    assert "duckdb__datediff" not in library  # another adapter's overrides are not read


def test_a_library_file_is_compiled_when_one_of_its_macros_is_first_used_and_once() -> None:
    from flowforge_compiler.dsl import LazyMacros

    first, second = ("a.sql", "..."), ("b.sql", "...")
    loaded: list[str] = []
    macros: LazyMacros

    def load(file: tuple[str, str]) -> None:
        loaded.append(file[0])
        macros.update({name: f"{name} from {file[0]}" for name in macros.names_in(file)})

    macros = LazyMacros({"x": first, "y": first, "z": second}, load)
    assert "z" in macros and "w" not in macros and loaded == []
    assert macros["x"] == "x from a.sql" and macros.get("y") == "y from a.sql"
    assert loaded == ["a.sql"]
    assert macros.get("w") is None and loaded == ["a.sql"]


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{% set rows = run_query('select max(id) from orders') %}select 1 as id from {{ ref('orders') }}", "the query run while compiling reads orders"),
        ("select '{{ run_started_at }}' as t, id from {{ ref('orders') }}", "run_started_at is the run's own value"),
        ("select {{ adapter.get_relation(none, 'a', 'b') is none }} as v, id from {{ ref('orders') }}", "adapter.get_relation('a', 'b') asks the warehouse"),
        ("{% if execute %}{{ exceptions.raise_compiler_error('only when it runs') }}{% endif %}select id from {{ ref('orders') }}", "only when it runs"),
    ],
)
def test_a_dbt_model_that_needs_the_warehouse_or_the_run_renders_at_run_time(make_project, template: str, why: str) -> None:
    """As dbt renders every model: the plan keeps its refs (from rendering it as dbt parses,
    `execute` false), says why it waits, with the file and line, and carries the macro files."""
    root = dbt_project(make_project, {"models/b.sql": "-- the second line reads the warehouse\n" + template, "macros/m.sql": "{% macro m() %}1{% endmacro %}"})
    plan = compile_dir(root)
    node = plan.node("b")
    assert node.sql is None and node.depends_on == ["orders"]
    assert node.render_at_run_time is not None and node.render_at_run_time.startswith("models/b.sql:2: ") and why in node.render_at_run_time
    assert plan.dbt is not None and plan.dbt.macros == ["macros/m.sql"] and plan.project.on_failure == "descendants"
    assert plan.node("orders").render_at_run_time is None and plan.node("orders").sql is not None


def test_a_dbt_model_that_cannot_render_even_as_dbt_parses_stops_the_compile(make_project) -> None:
    root = dbt_project(make_project, {"models/b.sql": "select 1 as id\n{{ exceptions.raise_compiler_error('always') }}"})
    with pytest.raises(TemplateError, match="always") as error:
        compile_dir(root)
    assert str(error.value.location) == "models/b.sql:2"


def test_an_ephemeral_dbt_model_cannot_wait_for_run_time(make_project) -> None:
    template = "{{ config(materialized='ephemeral') }}{% set r = run_query('select 1 from orders') %}select 1 as id"
    root = dbt_project(make_project, {"models/b.sql": template})
    with pytest.raises(TemplateError, match="an ephemeral model is inlined while compiling"):
        compile_dir(root)


def test_a_tests_templated_setting_is_rendered_and_a_failing_one_names_its_schema_file(make_project) -> None:
    schema = "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        data_tests:\n          - not_null:\n              config:\n                severity: \"{{ var('level', 'WARN') }}\"\n"
    (check,) = compile_dir(dbt_project(make_project, {"models/schema.yml": schema})).checks
    assert check.severity == "warn"
    root = dbt_project(make_project, {"models/schema.yml": schema.replace("var('level', 'WARN')", "var('nope')")})
    with pytest.raises(ProjectFileError, match=r"var\('nope'\) is not set") as error:
        compile_dir(root)
    assert str(error.value.location) == "models/schema.yml"
