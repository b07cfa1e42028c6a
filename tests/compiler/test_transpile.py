"""Portable SQL at compile time: parse once, report what is wrong where, write the engine's dialect."""

from __future__ import annotations

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from tests.compiler.helpers import compile_dir

PG = {"FF_ENGINE": "postgres", "FF_PG_DSN": "postgresql://app@db:5432/warehouse", "FF_PG_SCHEMA": "marts"}


def compile_for(root, environ, **kwargs):
    return compile_project(load_project(root), resolve_profile(root, None, environ=environ), environ={}, **kwargs)


def test_a_syntax_error_names_file_line_and_column(make_project) -> None:
    root = make_project({"models/m.ff.sql": "select a,\n  b\nfrom t where (a = 1"})
    with pytest.raises(ProjectFileError) as info:
        compile_dir(root)
    assert info.value.render().startswith("models/m.ff.sql:3:") and "SQL syntax error (duckdb)" in info.value.render()


def test_tables_nothing_declares_are_warned_about_and_refused_with_strict(make_project, caplog) -> None:
    root = make_project(
        {
            "sources.yml": "crm:\n  users: {identifier: raw_users}\n",
            "models/a.ff.sql": "select 1 as id",
            "models/m.ff.sql": "with c as (select * from {{ ref('a') }}) "
            "select * from c join {{ source('crm', 'users') }} u using (id) join raw_orders o using (id), range(3) r",
        }
    )
    compile_dir(root)
    assert "models/m.ff.sql: the model reads 'raw_orders', which is neither a ref(), a source() nor a CTE" in caplog.text
    with pytest.raises(ProjectFileError, match="'raw_orders'"):
        compile_for(root, {}, strict=True)


def test_sql_is_stored_in_the_engines_dialect_and_kept_as_written_on_duckdb(make_project) -> None:
    model = "select try_cast(s as integer) as i, x::double / 2 as h, 7 // 2 as d from {{ ref('s') }}"
    root = make_project({"seeds/s.csv": "s,x\n1,2\n", "models/m.ff.sql": model})
    duck = compile_dir(root)
    assert duck.node("m.ff").sql == model.replace("{{ ref('s') }}", "s")
    assert duck.profile.dialect == "duckdb" and duck.node("m.ff").config.dialect == "duckdb"
    pg = compile_for(root, PG)
    sql = pg.node("m.ff").sql
    assert pg.profile.dialect == "postgres"
    assert "TRY_CAST" not in sql.upper() and "DOUBLE PRECISION" in sql and "DIV(7, 2)" in sql


def test_a_model_can_be_written_in_another_dialect_or_kept_engine_native(make_project) -> None:
    root = make_project(
        {
            "models/pg_style.ff.sql": "{{ config(dialect='postgres') }}select 'a'::text || 'b' as v, now() - interval '1 day' as t",
            "models/native.ff.sql": "{{ config(transpile=false) }}select anything_the_engine_knows(1)",
        }
    )
    plan = compile_dir(root)
    assert plan.node("native.ff").sql == "select anything_the_engine_knows(1)"
    assert plan.node("native.ff").config.transpile is False
    assert plan.node("pg_style.ff").config.dialect == "postgres"
    assert "::" not in plan.node("pg_style.ff").sql  # written for DuckDB now


def test_round_on_postgres_calls_the_exact_helper_the_plan_asks_the_engine_to_create(make_project) -> None:
    root = make_project({"models/m.ff.sql": "select round(2.675::double, 2) as v"})
    assert compile_dir(root).support_sql == []
    plan = compile_for(root, PG)
    assert "ff_round_v1(" in plan.node("m.ff").sql.lower()  # unquoted: PostgreSQL folds the case
    assert any("CREATE OR REPLACE FUNCTION ff_round_v1(x double precision" in s for s in plan.support_sql)


def test_check_filters_and_seed_types_are_written_in_the_engines_dialect(make_project) -> None:
    root = make_project(
        {
            "project.yml": "name: t\nversion: '1'\ntests:\n  - {type: not_null, table: s, column: x, where: 'x::double > 1'}\n",
            "seeds/s.csv": "x\n1\n",
            "seeds/schema.yml": "seeds:\n  s: {column_types: {x: DOUBLE}}\n",
        }
    )
    plan = compile_for(root, PG)
    assert plan.checks[0].where == "CAST(x AS DOUBLE PRECISION) > 1"
    assert plan.node("s").seed.column_types == {"x": "DOUBLE PRECISION"}


def test_an_unknown_dialect_is_an_error_naming_the_key(make_project) -> None:
    root = make_project({"project.yml": "name: t\nversion: '1'\ndialect: duckdbx\n"})
    with pytest.raises(ProjectFileError, match="project.yml:3: dialect: .*'duckdbx' is not a SQL dialect"):
        load_project(root)


def test_target_names_the_profile_in_jinja(make_project) -> None:
    model = "select '{{ target.name }}' as n, '{{ target.type }}' as t, '{{ target.schema }}' as s, '{{ target.database }}' as d, '{{ target.dialect }}' as x"
    root = make_project({"models/m.ff.sql": model})
    assert "'default' as n, 'postgres' as t, 'marts' as s, 'warehouse' as d, 'postgres' as x" in compile_for(root, PG).node("m.ff").sql.replace("AS", "as")
    duck = compile_for(root, {"FF_DUCKDB_PATH": str(root / "w.duckdb")}).node("m.ff").sql
    assert "'duckdb' as t, 'main' as s, 'w' as d, 'duckdb' as x" in duck


def test_plans_for_postgres_are_byte_identical_across_processes(make_project, tmp_path) -> None:
    import os
    import subprocess
    import sys

    root = make_project({"models/m.ff.sql": "select * from (select 1 as v) join (select 2 as w) on true group by all order by all"})
    texts = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "FF_ENGINE": "postgres", "FF_PG_DSN": "postgresql://h/db"}
        subprocess.run([sys.executable, "-m", "flowforge.cli", "compile", str(root), "--out", str(tmp_path / seed), "-q"], env=env, check=True)
        texts.add((tmp_path / seed / "plan.json").read_text())
    assert len(texts) == 1
    assert "ff_subquery_" in texts.pop()


def test_a_compile_leaves_no_duckdb_parser_threads_behind(make_project) -> None:
    """DuckDB's parser is open while a compile runs and closed after: its threads alive at a
    later fork (Spark's gateway, in an orchestrator's worker) crashed the forked child."""
    import os

    from flowforge_compiler.compile import compile_project
    from flowforge_compiler.profiles import resolve_profile
    from flowforge_compiler.project import load_project

    def threads() -> int:
        return len(os.listdir("/proc/self/task"))

    root = make_project({"models/a.ff.sql": "select 1 as x", "models/b.ff.sql": "select x from {{ ref('a') }}"})
    before = threads()
    plan = compile_project(load_project(root), resolve_profile(root, None, environ={}), environ={})
    assert [n.id for n in plan.nodes] == ["a.ff", "b.ff"]
    assert threads() <= before
