"""The Jinja DSL: ref, source, var, config, this, env_var, is_incremental, macros, errors."""

from __future__ import annotations

import pytest

from flowforge_compiler.errors import DependencyNotFoundError, ProjectFileError, TemplateError
from tests.compiler.helpers import compile_dir


def sql_of(plan, node_id: str) -> str:
    return plan.node(node_id).sql or ""


def test_ref_accepts_logical_and_relation_names(make_project) -> None:
    plan = compile_dir(
        make_project(
            {
                "models/a.ff.sql": "select 1 as id",
                "models/b.ff.sql": "select * from {{ ref('a.ff') }} join {{ ref('a') }} using (id)",
            }
        )
    )
    assert sql_of(plan, "b.ff") == "select * from a join a using (id)"
    assert plan.node("b.ff").depends_on == ["a.ff"]


def test_source_resolves_identifier_and_depends_on_a_seed(make_project) -> None:
    plan = compile_dir(
        make_project(
            {
                "sources.yml": "crm:\n  users: {identifier: seed_users}\n",
                "seeds/seed_users.csv": "id\n1\n",
                "models/u.ff.sql": "select * from {{ source('crm', 'users') }}",
            }
        )
    )
    assert sql_of(plan, "u.ff") == "select * from seed_users"
    assert plan.node("u.ff").depends_on == ["seed_users"]


def test_var_reads_project_vars_defaults_and_overrides(make_project) -> None:
    root = make_project(
        {
            "project.yml": "name: t\nversion: '1'\nvars: {min_amount: 5}\n",
            "models/a.ff.sql": "select {{ var('min_amount') }} as m, {{ var('other', 'd') }} as o",
        }
    )
    assert sql_of(compile_dir(root), "a.ff") == "select 5 as m, d as o"
    assert sql_of(compile_dir(root, vars={"min_amount": 7}), "a.ff") == "select 7 as m, d as o"
    assert compile_dir(root).node("a.ff").vars_read == {"min_amount": 5, "other": "d"}


def test_undefined_var_names_file_and_line(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as x\n,\n{{ var('nope') }} as y"})
    with pytest.raises(TemplateError) as info:
        compile_dir(root)
    assert info.value.render().startswith("models/a.ff.sql:3: var('nope') is not defined")


def test_undefined_name_is_an_error_with_line(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select 1\n-- x\n{{ undefined_thing }}"})
    with pytest.raises(TemplateError) as info:
        compile_dir(root)
    assert info.value.render().startswith("models/a.ff.sql:3: 'undefined_thing' is undefined")


def test_jinja_syntax_error_names_line(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select 1\n{% if %}\n"})
    with pytest.raises(TemplateError) as info:
        compile_dir(root)
    assert info.value.location is not None
    assert (info.value.location.path, info.value.location.line) == ("models/a.ff.sql", 2)


def test_config_sets_materialization_tags_and_wins_over_project_yml(make_project) -> None:
    plan = compile_dir(
        make_project(
            {
                "project.yml": "name: t\nversion: '1'\nmodels:\n  a.ff: {materialized: view, tags: [p]}\n",
                "models/a.ff.sql": "select 1 as x\n{{ config(materialized='table', tags=['f']) }}",
            }
        )
    )
    node = plan.node("a.ff")
    assert (node.materialization.type, node.tags) == ("table", ["f", "p"])
    assert node.sql == "select 1 as x"


def test_project_yml_materialization_applies_without_config(make_project) -> None:
    plan = compile_dir(
        make_project({"project.yml": "name: t\nversion: '1'\nmodels:\n  a: {materialized: view}\n", "models/a.ff.sql": "select 1"})
    )
    assert plan.node("a.ff").materialization.type == "view"


def test_default_materialization_is_table(make_project) -> None:
    assert compile_dir(make_project({"models/a.ff.sql": "select 1"})).node("a.ff").materialization.type == "table"


def test_config_with_unknown_key_is_an_error(make_project) -> None:
    root = make_project({"models/a.ff.sql": "{{ config(materialised='view') }}\nselect 1"})
    with pytest.raises(TemplateError, match="unknown key 'materialised'") as info:
        compile_dir(root)
    assert info.value.location is not None and info.value.location.line == 1


def test_this_and_env_var(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select '{{ env_var('REGION', 'eu') }}' as r, '{{ this }}' as t"})
    assert sql_of(compile_dir(root), "a.ff") == "select 'eu' as r, 'a' as t"
    assert sql_of(compile_dir(root, environ={"REGION": "us"}), "a.ff") == "select 'us' as r, 'a' as t"


def test_env_var_without_default_must_be_set(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select '{{ env_var('NOT_SET_ANYWHERE') }}'"})
    with pytest.raises(TemplateError, match="'NOT_SET_ANYWHERE' is not set"):
        compile_dir(root)


def test_macros_are_available_and_may_call_ref_and_each_other(make_project) -> None:
    plan = compile_dir(
        make_project(
            {
                "macros/a.sql": "{% macro cents(col) %}({{ col }} * {{ factor() }}){% endmacro %}",
                "macros/b.sql": "{% macro factor() %}100{% endmacro %}{% macro from_base() %}{{ ref('base') }}{% endmacro %}",
                "models/base.ff.sql": "select 1.5 as amount",
                "models/m.ff.sql": "select {{ cents('amount') }} as c from {{ from_base() }}",
            }
        )
    )
    assert sql_of(plan, "m.ff") == "select (amount * 100) as c from base"
    assert plan.node("m.ff").depends_on == ["base.ff"]


def test_model_starting_with_with_and_trailing_semicolon(make_project) -> None:
    plan = compile_dir(make_project({"models/a.ff.sql": "with x as (select 1 as v)\nselect v from x;\n"}))
    assert sql_of(plan, "a.ff") == "with x as (select 1 as v)\nselect v from x"


def test_spec_era_create_statement_sets_materialization(make_project) -> None:
    plan = compile_dir(
        make_project(
            {
                "models/users.ff.sql": "-- legacy\ncreate or replace view users as\nselect 1 as id;",
                "models/orders.ff.sql": "CREATE TABLE orders AS WITH o AS (select 1 as x) select * from o",
            }
        )
    )
    assert (plan.node("users.ff").materialization.type, sql_of(plan, "users.ff")) == ("view", "select 1 as id")
    assert plan.node("orders.ff").materialization.type == "table"
    assert sql_of(plan, "orders.ff") == "WITH o AS (select 1 as x) select * from o"


def test_spec_era_create_statement_must_match_the_file_name(make_project) -> None:
    root = make_project({"models/users.ff.sql": "create or replace table customers as select 1"})
    with pytest.raises(ProjectFileError, match="creates 'customers' but its model builds 'users'"):
        compile_dir(root)


def test_is_incremental_renders_both_variants(make_project) -> None:
    plan = compile_dir(
        make_project(
            {
                "models/src.ff.sql": "select 1 as id",
                "models/inc.ff.sql": """
                {{ config(materialized='incremental', unique_key='id') }}
                select * from {{ ref('src') }}
                {% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}
                """,
            }
        )
    )
    node = plan.node("inc.ff")
    assert node.sql == "select * from src"
    assert node.sql_incremental == "select * from src\nwhere id > (select max(id) from inc)"
    assert (node.materialization.unique_key, node.materialization.strategy) == (["id"], "merge")


def test_missing_refs_are_listed_per_node_with_suggestions(make_project) -> None:
    root = make_project(
        {
            "models/users.ff.sql": "select 1 as id",
            "models/a.ff.sql": "select * from {{ ref('user') }} join {{ ref('nothing_like_it') }}",
            "models/b.ff.sql": "select * from {{ source('crm', 'users') }}",
        }
    )
    with pytest.raises(DependencyNotFoundError) as info:
        compile_dir(root)
    assert info.value.missing == {
        "a.ff": [("user", ["users", "users.ff"]), ("nothing_like_it", [])],
        "b.ff": [("source('crm', 'users')", [])],
    }
    assert "a.ff: 'user' (did you mean 'users', 'users.ff'?)" in info.value.message


def test_ephemeral_models_are_inlined_as_ctes(make_project) -> None:
    plan = compile_dir(
        make_project(
            {
                "models/base.ff.sql": "{{ config(materialized='ephemeral') }}select 1 as id",
                "models/mid.ff.sql": "{{ config(materialized='ephemeral') }}select id from {{ ref('base') }}",
                "models/top.ff.sql": "with t as (select * from {{ ref('mid') }}) select * from t",
            }
        )
    )
    assert sql_of(plan, "top.ff") == (
        "with base as (\nselect 1 as id\n),\nmid as (\nselect id from base\n),\nt as (select * from mid) select * from t"
    )
    assert sql_of(plan, "mid.ff") == "with base as (\nselect 1 as id\n)\nselect id from base"


@pytest.mark.parametrize(
    "template",
    [
        "select * from {{ ref('a') }} join {{ ref('a.ff') }} using (id)\n",
        "{{ config(materialized='view', tags=['x']) }}\nselect {{ var('n') }} as n, '{{ this }}' as me",
        "select '{{ env_var('HOME_REGION', 'eu') }}' as r, {{ var('missing', [1, 2]) }} as l from {{ source('s', 't') }}",
        "select {{ var('flag', True) }}, {{ var('none', None) }}, {{ var('f', 1.50) }}\n\n",
    ],
)
def test_fast_path_renders_exactly_like_jinja(make_project, monkeypatch, template: str) -> None:
    import flowforge_compiler.dsl as dsl

    root = make_project(
        {
            "project.yml": "name: t\nversion: '1'\nvars: {n: 3}\n",
            "sources.yml": "s:\n  t: {identifier: tt}\n",
            "models/a.ff.sql": "select 1 as id",
            "models/m.ff.sql": template,
        }
    )
    assert dsl.simple_calls(template) is not None
    fast = compile_dir(root).to_json()
    monkeypatch.setattr(dsl, "simple_calls", lambda source: None)
    assert compile_dir(root).to_json() == fast


@pytest.mark.parametrize(
    "template",
    [
        "{% if true %}x{% endif %}",
        "{# note #}select 1",
        "select {{ ref('a') | upper }}",
        "select {{ var(name) }}",
        "select {{- ref('a') }}",
        "select {{ var('x', true) }}",
        "select {{ my_macro() }}",
    ],
)
def test_templates_the_fast_path_leaves_to_jinja(template: str) -> None:
    from flowforge_compiler.dsl import simple_calls

    assert simple_calls(template) is None


def test_fast_path_errors_keep_their_line(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select 1\n\n, {{ var('nope') }}"})
    with pytest.raises(TemplateError) as info:
        compile_dir(root)
    assert str(info.value.location) == "models/a.ff.sql:3"


def test_fingerprint_normalisation_drops_comments_and_folds_space_outside_quotes() -> None:
    from flowforge_compiler.sql_statements import normalize_for_fingerprint as normalise

    assert normalise("-- head\nselect  a, -- c\n  b /* x */ from t\n") == "select a, b from t"
    assert normalise("select '--  kept  /* too */' as s") == "select '--  kept  /* too */' as s"
    assert normalise('select "a  b", \'it\'\'s\' from t') == 'select "a  b", \'it\'\'s\' from t'
    assert normalise("select 1") != normalise("select 2")
