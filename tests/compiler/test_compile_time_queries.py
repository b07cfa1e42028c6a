"""Queries a dbt template runs while compiling: a query of constants is answered (by an
in-memory DuckDB that reaches no file); a model whose query reads a table or the clock renders
at run time instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flowforge_compiler.compile_time_queries import CompileTimeQueries
from flowforge_compiler.dsl import DslError
from flowforge_compiler.errors import TemplateError
from tests.compiler.helpers import compile_dir

DBT = "name: shop\nversion: '1'\n"


def model_sql(make_project, template: str) -> str:
    root: Path = make_project({"project.yml": None, "dbt_project.yml": DBT, "models/orders.sql": "select 1 as id", "models/v.sql": template})
    return next(n.sql for n in compile_dir(root).nodes if n.id == "v")


def test_a_statement_block_and_load_result_give_the_rows_as_dbt_does(make_project) -> None:
    template = (
        "{% call statement('days', fetch_result=True) %}select date_diff('day', date '2024-01-01', date '2024-03-01') as n{% endcall %}\n"
        "{% set result = load_result('days') %}select {{ result['data'][0][0] }} as days, '{{ result.table.column_names[0] }}' as name"
    )
    sql = model_sql(make_project, template)
    assert "60 as days" in sql and "'n' as name" in sql


def test_run_query_gives_a_table_of_rows_and_columns(make_project) -> None:
    template = (
        "{% set t = run_query(\"select * from (values (2, 'b'), (1, 'a')) as v(id, code) order by id\") %}"
        "select '{{ t.columns[1].values() | join(',') }}' as codes, {{ t[1][0] }} as last_id, {{ t | length }} as n"
    )
    sql = model_sql(make_project, template)
    assert "'a,b' as codes" in sql and "2 as last_id" in sql and "2 as n" in sql


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("select count(*) from orders", "reads orders"),
        ("select * from read_csv('/etc/passwd')", "reads READ_CSV"),
        ("select current_date", "uses CURRENT_DATE, whose value changes between runs"),
        ("select now()", r"uses NOW\(\), whose value changes"),
        ("select random()", r"uses RANDOM\(\), whose value changes"),
        ("select 1; select 2", "must be one SELECT"),
        ("create table x as select 1", "must be one SELECT"),
    ],
)
def test_a_query_that_needs_the_warehouse_or_the_clock_waits_for_run_time_naming_it(make_project, query: str, message: str) -> None:
    """The compile does not run it: the model renders at run time, where the warehouse answers
    (as dbt runs every query), and the plan says why with the file and line."""
    root: Path = make_project({"project.yml": None, "dbt_project.yml": DBT, "models/v.sql": f'-- line 1\n{{% set t = run_query("{query}") %}}select 1 as x'})
    node = compile_dir(root).node("v")
    assert node.sql is None and node.render_at_run_time is not None
    assert node.render_at_run_time.startswith("models/v.sql:2: ") and re.search(message, node.render_at_run_time), node.render_at_run_time


def test_a_query_the_compile_cannot_answer_stops_a_flowforge_project_naming_it(make_project) -> None:
    """FlowForge's own projects have no run-time rendering: the compile names the query."""
    root: Path = make_project({"models/v.ff.sql": '-- line 1\n{% set t = run_query("select count(*) from orders") %}select 1 as x'})
    with pytest.raises(TemplateError) as error:
        compile_dir(root)
    assert str(error.value.location) == "models/v.ff.sql:2"


def test_the_engine_answering_reaches_no_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    queries = CompileTimeQueries("duckdb")
    assert queries.run("select 41 + 1 as n").rows == ((42,),)
    with pytest.raises(Exception, match="(?i)file system operations are disabled|permission"):
        queries._connection.execute(f"select * from read_csv('{secret}')")  # past the parse check, the engine refuses too
    with pytest.raises(DslError, match="reads"):
        queries.run(f"select * from '{secret}'")
