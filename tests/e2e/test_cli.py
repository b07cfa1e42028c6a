"""The `ffc` command end to end, in a subprocess: the example, outputs, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from flowforge_compiler import __version__

pytestmark = pytest.mark.e2e


def table(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_example_builds_the_rows_the_spec_implies(example_copy, ffc) -> None:
    project = example_copy("simple_duckdb")
    result = ffc("run", project, "--env", "dev")
    assert result.exit_code == 0, result.output
    assert "Finished 7 nodes" in result.stdout and "7 built, 0 failed, 0 skipped" in result.stdout
    db = project / ".local" / "demo.duckdb"
    assert table(db, "select id, email, is_gmail from users_enriched order by id") == [
        (1, "a@example.com", False),
        (2, "b@gmail.com", True),
        (3, "c@gmail.com", True),
    ]
    assert table(db, "select order_id, user_id, email, is_gmail, amount, valid_amt from mart_orders_enriched order by 1") == [
        (100, 1, "a@example.com", False, 19.9, True),
        (101, 2, "b@gmail.com", True, 0.0, False),
    ]
    assert table(db, "select count(*) from mart_users") == [(3,)]
    assert table(db, "select table_type from information_schema.tables where table_name = 'mart_users'") == [("VIEW",)]


def test_makefile_style_env_overrides(example_copy, ffc, tmp_path: Path) -> None:
    project = example_copy("simple_duckdb")
    db = tmp_path / "elsewhere.duckdb"
    result = ffc("run", ".", "--env", "dev", "--jobs", "4", env={"FF_ENGINE": "duckdb", "FF_DUCKDB_PATH": str(db)}, cwd=project)
    assert result.exit_code == 0, result.output
    assert table(db, "select count(*) from mart_orders_enriched") == [(2,)]
    assert not (project / ".local").exists()


def test_seed_loads_only_seeds(example_copy, ffc) -> None:
    project = example_copy("simple_duckdb")
    result = ffc("seed", project, "--env", "dev")
    assert result.exit_code == 0, result.output
    db = project / ".local" / "demo.duckdb"
    assert sorted(table(db, "select table_name from information_schema.tables")) == [("_ff_meta",), ("seed_orders",), ("seed_users",)]


def test_select_runs_a_subgraph(example_copy, ffc) -> None:
    project = example_copy("simple_duckdb")
    result = ffc("run", project, "--env", "dev", "--select", "+users")
    assert result.exit_code == 0, result.output
    db = project / ".local" / "demo.duckdb"
    assert sorted(table(db, "select table_name from information_schema.tables")) == [("_ff_meta",), ("seed_users",), ("users",)]


def test_compile_writes_plan_json_by_default_and_to_out(example_copy, ffc, tmp_path: Path) -> None:
    project = example_copy("simple_duckdb")
    assert ffc("compile", project).exit_code == 0
    default = project / ".flowforge" / "plan.json"
    plan = json.loads(default.read_text())
    assert [n["id"] for n in plan["nodes"]][-1] == "mart_users.ff"
    assert ffc("compile", project, "--target", "local", "--out", tmp_path / "out").exit_code == 0
    assert (tmp_path / "out" / "plan.json").read_bytes() == default.read_bytes()


def test_ls_dag_and_version(example_copy, ffc) -> None:
    project = example_copy("simple_duckdb")
    ls = ffc("ls", project)
    assert ls.exit_code == 0
    lines = ls.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "MATERIALIZATION", "DEPENDS", "ON"]
    assert any(line.split()[:3] == ["mart_orders_enriched", "python", "table"] and line.endswith("orders.ff, users_enriched") for line in lines)
    dag = ffc("dag", project)
    assert dag.stdout.startswith("flowchart LR") and "-->" in dag.stdout
    assert ffc("--version").stdout.strip() == f"ffc {__version__}"


def test_failing_model_exits_1_with_model_file_and_engine_message(make_project, ffc) -> None:
    project = make_project(
        {
            "models/good.ff.sql": "select 1 as x",
            "models/bad.ff.sql": "select no_such_column from {{ ref('good') }}",
            "models/after.ff.sql": "select * from {{ ref('bad') }}",
        }
    )
    result = ffc("run", project)
    assert result.exit_code == 1
    assert "models/bad.ff.sql: Model 'bad.ff' failed on duckdb" in result.stderr
    assert "no_such_column" in result.stderr
    assert "1 built, 1 failed, 1 skipped" in result.stdout


def test_project_errors_exit_1(make_project, ffc) -> None:
    cycle = make_project({"models/a.ff.sql": "select * from {{ ref('b') }}", "models/b.ff.sql": "select * from {{ ref('a') }}"})
    result = ffc("run", cycle)
    assert (result.exit_code, "Cycle detected among nodes: a.ff -> b.ff -> a.ff" in result.stderr) == (1, True)
    missing = make_project({"models/a.ff.sql": "select * from {{ ref('usr') }}", "models/users.ff.sql": "select 1"})
    result = ffc("compile", missing)
    assert result.exit_code == 1 and "a.ff: 'usr' (did you mean 'users'" in result.stderr
    bad_yaml = make_project({"project.yml": "name: t\nversion: '1'\nvar: {}\n"})
    result = ffc("ls", bad_yaml)
    assert result.exit_code == 1 and "project.yml:3: unknown key 'var'" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_1_not_2(ffc) -> None:
    result = ffc("run", "--no-such-flag")
    assert result.exit_code == 1
    assert "No such option" in result.stderr


def test_unexpected_errors_exit_99_and_trace_on_request(make_project, ffc, tmp_path: Path) -> None:
    # A bug inside FlowForge (planted by a sitecustomize module), not anything the project did.
    project = make_project({"models/a.ff.sql": "select 1"})
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "sitecustomize.py").write_text(
        "import flowforge_compiler.graph as g\n"
        "def broken(deps):\n    raise RuntimeError('a bug')\n"
        "g.topo_sort = broken\n"
        "import flowforge_compiler.compile as c\nc.topo_sort = broken\n"
    )
    env = {"PYTHONPATH": str(planted)}
    result = ffc("run", project, env=env)
    assert result.exit_code == 99, result.output
    assert "Unexpected error: RuntimeError: a bug" in result.stderr and "Traceback" not in result.stderr
    traced = ffc("run", project, env={**env, "FLOWFORGE_TRACE": "1"})
    assert traced.exit_code == 99 and "Traceback (most recent call last)" in traced.stderr


def test_quiet_and_verbose_levels(example_copy, ffc) -> None:
    project = example_copy("simple_duckdb")
    quiet = ffc("run", project, "-q")
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    default = ffc("run", project)
    assert "flowforge.sql" not in default.stderr
    very = ffc("run", project, "-vv")
    assert "DEBUG flowforge.sql: CREATE TABLE" in very.stderr
    sql_debug = ffc("run", project, env={"FLOWFORGE_SQL_DEBUG": "1"})
    assert "DEBUG flowforge.sql: CREATE TABLE" in sql_debug.stderr
    assert "INFO" not in sql_debug.stderr


def test_plan_schema_command(ffc) -> None:
    result = ffc("plan-schema")
    assert json.loads(result.stdout)["title"] == "Plan"


@pytest.mark.parametrize("script", ["ffc", "flowforge"])
def test_console_scripts_are_installed(script: str) -> None:
    import subprocess
    import sys

    path = Path(sys.executable).parent / script
    assert path.exists(), f"the `{script}` console script is not installed next to the interpreter"
    assert subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip() == f"ffc {__version__}"


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        (
            {
                "models/users.ff.sql": "select 1 as id",
                "models/m.ff.py": "from flowforge_compiler import model\n"
                "@model(name='m', deps=['users.ff'], requires={'users': ['id', 'email']})\ndef f(df):\n    return df\n",
            },
            ("run",),
            "Model 'm': input relation 'users' is missing required column(s) email",
        ),
        ({"models/a.ff.sql": "select {{ var('nope') }}"}, ("run",), "models/a.ff.sql:1: var('nope') is not defined"),
        ({"models/a.ff.sql": "select 1"}, ("run", "--env", "prod"), "profile 'prod' requested but the project has no profiles.yml"),
        ({"models/a.ff.sql": "select 1"}, ("run", "--engine", "bigquery"), "bigquery"),
        ({"models/a.ff.sql": "select 1"}, ("run", "--vars", "[1, 2]"), "--vars must be a mapping"),
        ({"models/a.ff.py": "def f(:\n"}, ("ls",), "models/a.ff.py:1:7: invalid Python"),
    ],
)
def test_each_project_error_exits_1_with_its_message(make_project, ffc, files, args, message) -> None:
    project = make_project(files)
    result = ffc(*args[:1], project, *args[1:])
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.stderr


SECRET_PROFILE = """
prod:
  engine: postgres
  postgres:
    dsn: "postgresql://app:{{ env_var('WAREHOUSE_PASSWORD') }}@{{ env_var('WAREHOUSE_HOST') }}:5432/ff"
    db_schema: "{{ env_var('WAREHOUSE_SCHEMA') }}"
"""


def test_compiling_needs_no_secrets_but_running_names_the_missing_variable(example_copy, ffc, tmp_path: Path) -> None:
    project = example_copy("simple_duckdb")
    (project / "profiles.yml").write_text(SECRET_PROFILE)
    for args in (
        ["compile", project, "--env", "prod"],
        ["compile", project, "--env", "prod", "--target", "airflow", "--out", tmp_path / "dags"],
        ["compile", project, "--env", "prod", "--target", "prefect", "--out", tmp_path / "flows"],
        ["ls", project, "--env", "prod"],
        ["dag", project, "--env", "prod"],
    ):
        result = ffc(*args)
        assert result.exit_code == 0, (args, result.output)
    bundle_profile = (tmp_path / "dags" / "simple_duckdb" / "profiles.yml").read_text()
    assert "{{ env_var('WAREHOUSE_PASSWORD') }}" in bundle_profile  # resolved on the worker
    run = ffc("run", project, "--env", "prod")
    assert run.exit_code == 1
    assert "environment variables 'WAREHOUSE_HOST', 'WAREHOUSE_PASSWORD', 'WAREHOUSE_SCHEMA' are not set" in run.stderr


def test_selections_that_match_nothing_warn_and_exit_0(example_copy, ffc) -> None:
    project = example_copy("simple_duckdb")
    for args in (["run", project, "--select", "nosuch"], ["run", project, "--select", "tag:nosuch"], ["test", project, "--select", "nosuch"]):
        result = ffc(*args)
        assert result.exit_code == 0, result.output
        assert "Nothing to do" in result.stdout and "WARNING" in result.stderr
    rebuild = ffc("run", project, "--rebuild", "nosuch*")
    assert rebuild.exit_code == 0 and "--rebuild nosuch* matches no node" in rebuild.stderr


def test_utest_without_unit_tests_says_so_and_exits_0(make_project, ffc) -> None:
    result = ffc("utest", make_project({"models/a.ff.sql": "select 1"}))
    assert result.exit_code == 0 and "No unit tests" in result.stdout


def test_names_print_literally_and_verbosity_flags_work_before_the_command(make_project, ffc) -> None:
    project = make_project({"models/[bold]x[_]:x:.ff.sql": "select 1 as id"})
    result = ffc("ls", project)
    assert "\n[bold]x[_]:x:.ff  sql" in result.stdout and "❌" not in result.stdout
    built = ffc("run", project)
    assert " OK    [bold]x[_]:x:.ff - built table [bold]x[_]:x:" in built.stdout
    quiet = ffc("-q", "run", project)
    assert quiet.exit_code == 0 and quiet.stdout == ""
    verbose = ffc("-vv", "run", project)
    assert verbose.exit_code == 0 and "flowforge.sql" in verbose.stderr


def test_show_prints_a_nodes_rows_as_table_csv_or_json(example_copy, ffc) -> None:
    project = example_copy("simple_duckdb")
    assert ffc("show", project, "users", "--env", "dev").exit_code == 1  # not built yet
    assert ffc("run", project, "--env", "dev").exit_code == 0
    table = ffc("show", project, "mart_orders_enriched", "--env", "dev")
    assert table.exit_code == 0 and table.stdout.splitlines()[0].split() == ["order_id", "user_id", "email", "is_gmail", "amount", "valid_amt"]
    csv = ffc("show", project, "users.ff", "--env", "dev", "--format", "csv", "--limit", "2")
    assert csv.stdout.splitlines() == ['"id","email"', '1,"a@example.com"', '2,"b@gmail.com"']
    records = ffc("show", project, "users", "--env", "dev", "--format", "json", "-n", "1")
    assert json.loads(records.stdout) == {"id": 1, "email": "a@example.com"}
    unknown = ffc("show", project, "userz", "--env", "dev")
    assert unknown.exit_code == 1 and "did you mean 'users'" in unknown.stderr


def test_show_of_a_view_its_table_no_longer_fits_is_exit_1_saying_to_build_it(make_project, ffc, tmp_path: Path) -> None:
    import duckdb

    project = make_project({"models/t.ff.sql": "select 1 as a", "models/v.ff.sql": "{{ config(materialized='view') }}select a from {{ ref('t') }}"})
    env = {"FF_DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    assert ffc("run", project, env=env).exit_code == 0
    with duckdb.connect(env["FF_DUCKDB_PATH"]) as con:
        con.execute("alter table t rename column a to b")  # the table changed under its view
    shown = ffc("show", project, "v", env=env)
    assert shown.exit_code == 1 and "'v.ff' cannot be read on profile 'default'" in shown.stderr, shown.output
    assert "--select v.ff+" in shown.stderr and "Traceback" not in shown.output


def test_show_reads_an_ephemeral_node_through_its_sql(make_project, ffc) -> None:
    project = make_project({"models/e.ff.sql": "{{ config(materialized='ephemeral') }}select 42 as answer"})
    result = ffc("show", project, "e", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"answer": 42}


def test_the_command_line_loads_no_plan_models_until_a_command_runs() -> None:
    """`ffc --version` stays fast (about 0.1 s): registering the commands imports neither pydantic
    (the plan's models) nor sqlglot; each command imports what it needs when it runs."""
    probe = "import sys, flowforge.cli; print(sorted(m for m in ('pydantic', 'sqlglot', 'jinja2') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
