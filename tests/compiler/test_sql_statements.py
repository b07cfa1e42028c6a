"""Statement boundaries from sqlglot's tokenizer: one query per model, one expression per filter."""

from __future__ import annotations

import pytest

from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.sql_statements import boolean_filter, single_statement

HERE = Location("models/m.ff.sql")


@pytest.mark.parametrize(
    ("sql", "kept"),
    [
        ("select ';' as x; -- done\n", "select ';' as x"),
        ('select 1 as "a;b"', 'select 1 as "a;b"'),
        ("select 1 /* ; */ as x", "select 1 /* ; */ as x"),
        ("from users select id", "from users select id"),  # DuckDB's FROM-first
        ("pivot (select 1 as a, 'x' as k) on k using sum(a)", "pivot (select 1 as a, 'x' as k) on k using sum(a)"),
        ("with a as (select 1) select * from a;;", "with a as (select 1) select * from a"),
    ],
)
def test_one_query_is_kept_whole(sql: str, kept: str) -> None:
    assert single_statement(sql, HERE, query=True) == kept


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("select 1; select 2", "more than one SQL statement"),
        ("select 1;\n-- x\ndrop table users", "second starts on line 3"),
        ("drop table users", "DROP statement, not a query"),
        ("attach 'other.duckdb'", "ATTACH statement"),
        ("copy users to 'out.csv'", "COPY statement"),
        ("select 'unterminated", "unterminated"),
    ],
)
def test_anything_but_one_query_is_refused_with_the_file(sql: str, says: str) -> None:
    with pytest.raises(ProjectFileError) as info:
        single_statement(sql, HERE, query=True)
    assert says in info.value.render() and info.value.render().startswith("models/m.ff.sql")


@pytest.mark.parametrize("where", ["status = 'active'", "flag", "id in (select id from t)", "not exists (select 1 from t)", "a is not null and b > 0"])
def test_a_boolean_expression_is_a_valid_filter(where: str) -> None:
    assert boolean_filter(where, Location("project.yml", 4), what="tests[0].where") == where


@pytest.mark.parametrize("where", ["1=1) or (1=1", "1=1; drop table t", "drop table t", "select 1", "a >", "(a = 1", "pragma version"])
def test_a_filter_that_could_escape_its_place_is_refused(where: str) -> None:
    with pytest.raises(ProjectFileError, match="tests\\[0\\].where"):
        boolean_filter(where, Location("project.yml", 4), what="tests[0].where")
