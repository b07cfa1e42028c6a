"""The whole-plan cache: an unchanged project is not compiled again, and a change of anything a
plan depends on is never served the old plan (so no stale plan builds a stale table)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import duckdb
import pytest

import flowforge_compiler.project
from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.plan import Plan
from flowforge_compiler.plan_cache import compile_cached
from flowforge_compiler.profiles import resolve_profile

PY_MODEL = """
from flowforge import model
import helpers
import pandas as pd


@model(name="py_model")
def build():
    return pd.DataFrame({"v": [helpers.VALUE]})
"""


def compile_at(root: Path, environ: dict[str, str] | None = None, **kwargs) -> Plan:
    environ = environ or {}
    return compile_cached(root.resolve(), resolve_profile(root.resolve(), None, environ=environ), environ=environ, **kwargs)


def entries(root: Path) -> list[Path]:
    return sorted((root / ".flowforge/cache/plans").glob("*.json"))


@pytest.fixture
def no_compile(monkeypatch: pytest.MonkeyPatch):
    """From here on, reading the project is an error: what compiles now must come from the cache."""

    def refuse() -> None:
        def load_project(root: Path):
            raise AssertionError("the project was loaded again")

        monkeypatch.setattr(flowforge_compiler.project, "load_project", load_project)

    return refuse


def rewrite_keeping_stat(path: Path, text: str) -> None:
    """Same size and modification time, other bytes: what an mtime-keyed cache would miss."""
    before = path.stat()
    assert len(text.encode()) == before.st_size
    path.write_text(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_an_unchanged_project_is_served_the_same_plan_without_loading_it(make_project, no_compile) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as v", "models/b.ff.sql": "select v from {{ ref('a') }}"})
    cold = compile_at(root)
    assert len(entries(root)) == 1
    no_compile()
    assert compile_at(root).to_json() == cold.to_json()


@pytest.mark.parametrize(
    ("change", "check"),
    [
        pytest.param(
            lambda root: rewrite_keeping_stat(root / "models/a.ff.sql", "select 2 as v"),
            lambda plan: plan.node("a.ff").sql == "select 2 as v",
            id="model-bytes-same-size-and-mtime",
        ),
        pytest.param(
            lambda root: (root / "models/sub").mkdir() or (root / "models/sub/c.ff.sql").write_text("select 3 as v"),
            lambda plan: plan.find("c.ff") is not None,
            id="new-model-in-a-new-folder",
        ),
        pytest.param(
            lambda root: (root / "macros/m.sql").write_text("{% macro val() %}4{% endmacro %}"),
            lambda plan: plan.node("m.ff").sql == "select 4 as v",
            id="macro",
        ),
        pytest.param(
            lambda root: rewrite_keeping_stat(root / "seeds/s.csv", "id\n2\n"),
            None,  # the seed's fingerprint changes
            id="seed-bytes",
        ),
        pytest.param(
            lambda root: (root / "project.yml").write_text("name: t\nversion: '1'\nvars: {n: 9}\n"),
            lambda plan: plan.node("var.ff").sql == "select 9 as v",
            id="project-vars",
        ),
        pytest.param(
            lambda root: (root / "sources.yml").write_text("raw:\n  orders: {}\n  items: {}\n"),
            None,  # sources.yml is part of every fingerprint
            id="sources",
        ),
        pytest.param(
            lambda root: (root / "profiles.yml").write_text("default:\n  engine: duckdb\n  duckdb: {path: other.duckdb}\n"),
            None,  # where the data lives is part of every fingerprint
            id="profile",
        ),
    ],
)
def test_a_change_to_any_input_file_is_compiled_again(make_project, change, check) -> None:
    root = make_project(
        {
            "models/a.ff.sql": "select 1 as v",
            "models/m.ff.sql": "select {{ val() }} as v",
            "models/var.ff.sql": "select {{ var('n', 1) }} as v",
            "macros/m.sql": "{% macro val() %}3{% endmacro %}",
            "seeds/s.csv": "id\n1\n",
            "sources.yml": "raw:\n  orders: {}\n",
        }
    )
    before = compile_at(root)
    change(root)
    after = compile_at(root)
    assert after.to_json() != before.to_json()
    if check is not None:
        assert check(after)


def test_environment_variables_models_read_and_ff_variables_count(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select '{{ env_var('REGION', 'eu') }}' as region"})
    assert compile_at(root).node("a.ff").sql == "select 'eu' as region"
    assert compile_at(root, {"REGION": "us"}).node("a.ff").sql == "select 'us' as region"  # was unset
    assert compile_at(root, {"REGION": "ap"}).node("a.ff").sql == "select 'ap' as region"  # another value
    assert compile_at(root).node("a.ff").sql == "select 'eu' as region"  # unset again
    plain = compile_at(root).node("a.ff").fingerprint
    assert compile_at(root, {"FF_ANYTHING": "1"}).node("a.ff").fingerprint != plain
    assert compile_at(root, {"UNRELATED": "1"}).node("a.ff").fingerprint == plain


def test_an_environment_value_never_reaches_the_cache_file(make_project) -> None:
    root = make_project(
        {"models/a.ff.sql": "select {% if env_var('TOKEN', '') == 's3cr3t-value' %}1{% else %}0{% endif %} as ok"}
    )
    assert compile_at(root, {"TOKEN": "s3cr3t-value"}).node("a.ff").sql == "select 1 as ok"
    assert b"s3cr3t-value" not in entries(root)[0].read_bytes()
    assert compile_at(root, {"TOKEN": "other"}).node("a.ff").sql == "select 0 as ok"


def test_vars_and_strict_are_part_of_the_key(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select {{ var('n', 1) }} as v from raw_table"})
    assert compile_at(root).node("a.ff").sql == "select 1 as v from raw_table"
    assert compile_at(root, vars={"n": 2}).node("a.ff").sql == "select 2 as v from raw_table"
    with pytest.raises(ProjectFileError, match="raw_table"):
        compile_at(root, strict=True)  # the non-strict plan is not served to a strict compile


def test_python_helpers_are_checked_by_content_and_by_how_imports_resolve(make_project) -> None:
    root = make_project({"models/py.ff.py": PY_MODEL, "helpers.py": "VALUE = 1\n"})
    first = compile_at(root)
    assert first.node("py_model").python.modules == ["helpers.py"]
    rewrite_keeping_stat(root / "helpers.py", "VALUE = 2\n")  # outside models/: known from the probes
    second = compile_at(root)
    assert second.node("py_model").fingerprint != first.node("py_model").fingerprint
    (root / "models/helpers.py").write_text("VALUE = 3\n")  # the model's own folder comes first
    assert compile_at(root).node("py_model").python.modules == ["models/helpers.py"]
    (root / "pandas.py").write_text("DataFrame = dict\n")  # a name that was not local now is
    assert "pandas.py" in compile_at(root).node("py_model").python.modules


def test_a_symlink_that_leaves_the_project_is_refused_even_after_a_cached_compile(make_project, tmp_path) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as v"})
    compile_at(root)
    outside = tmp_path / "outside.sql"
    outside.write_text("select 1 as v")
    (root / "models/a.ff.sql").unlink()
    (root / "models/a.ff.sql").symlink_to(outside)
    with pytest.raises(ProjectFileError, match="outside the project folder"):
        compile_at(root)


def test_a_symlink_inside_the_project_is_followed_by_an_ordinary_compile(make_project) -> None:
    root = make_project({"shared/a.sql": "select 1 as v", "models/b.ff.sql": "select 1 as w"})
    (root / "models/a.ff.sql").symlink_to(root / "shared/a.sql")
    assert compile_at(root).node("a.ff").sql == "select 1 as v"
    rewrite_keeping_stat(root / "shared/a.sql", "select 2 as v")  # the link itself is unchanged
    assert compile_at(root).node("a.ff").sql == "select 2 as v"


def test_where_the_profile_keeps_its_data_is_part_of_the_key(make_project, tmp_path) -> None:
    root = make_project(
        {"models/a.ff.sql": "select 1 as v", "profiles.yml": "default:\n  engine: duckdb\n  duckdb: {path: \"{{ env_var('WH') }}\"}\n"}
    )
    here = compile_at(root, {"WH": str(tmp_path / "one" / "w.duckdb")}).node("a.ff").fingerprint
    assert compile_at(root, {"WH": str(tmp_path / "two" / "w.duckdb")}).node("a.ff").fingerprint != here


def test_bytecode_python_writes_beside_helpers_keeps_the_entry(make_project, no_compile) -> None:
    root = make_project({"models/py.ff.py": PY_MODEL, "models/helpers.py": "VALUE = 1\n"})
    compile_at(root)
    (root / "models/__pycache__").mkdir()
    (root / "models/__pycache__/helpers.cpython-311.pyc").write_bytes(b"\x00")
    (root / "models/__pycache__/py.ff.cpython-311.pyc").write_bytes(b"\x00")
    no_compile()
    compile_at(root)


def test_warnings_are_shown_again_on_a_hit(make_project, caplog, no_compile) -> None:
    root = make_project({"models/a.ff.sql": "select * from raw_table", "models/notes.txt": "x"})
    compile_at(root)
    no_compile()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="flowforge"):
        compile_at(root)
    assert "raw_table" in caplog.text and "notes.txt" in caplog.text


def test_a_quiet_compile_stores_nothing_it_could_not_show_again(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select * from raw_table"})
    logger = logging.getLogger("flowforge")
    logger.setLevel(logging.ERROR)  # -q
    compile_at(root)
    assert entries(root) == []
    logger.setLevel(logging.NOTSET)
    compile_at(root)
    assert len(entries(root)) == 1


def test_the_cli_quiet_flag_still_caches_the_plan_and_hides_its_warnings(make_project, capsys, no_compile) -> None:
    """`-q` hides warnings where they are printed, so they are still there to keep with the plan."""
    from flowforge.cli.console import configure_logging

    root = make_project({"models/a.ff.sql": "select * from raw_table"})
    configure_logging(-1)  # -q
    compile_at(root)
    assert len(entries(root)) == 1
    assert "raw_table" not in capsys.readouterr().err
    configure_logging(0)
    no_compile()
    compile_at(root)
    assert "raw_table" in capsys.readouterr().err  # shown again on the hit


def test_a_plan_with_column_lineage_serves_a_command_that_does_not_ask_for_it(make_project, no_compile) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as v"})
    assert compile_at(root, lineage=True).node("a.ff").columns  # `ffc compile`
    no_compile()
    assert compile_at(root).node("a.ff").sql == "select 1 as v"  # then `ffc run`: no compile


def test_a_plan_without_column_lineage_does_not_serve_one_that_asks_for_it(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as v"})
    compile_at(root)
    assert compile_at(root, lineage=True).node("a.ff").columns
    assert len(entries(root)) == 2


def test_a_torn_or_foreign_entry_means_a_compile(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as v"})
    compile_at(root)
    [entry] = entries(root)
    header, plan = entry.read_text().split("\n", 1)
    entry.write_text(header + "\n" + plan[: len(plan) // 2])  # torn
    assert compile_at(root).node("a.ff").sql == "select 1 as v"
    forged = json.loads(header) | {"key": "0" * 64}
    entry.write_text(json.dumps(forged) + "\n" + plan.replace("select 1 as v", "drop table a"))
    assert compile_at(root).node("a.ff").sql == "select 1 as v"


def test_only_the_most_recent_entries_are_kept(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select {{ var('n') }} as v"})
    for n in range(6):
        compile_at(root, vars={"n": n})
    assert len(entries(root)) == 4


def test_a_run_after_an_edit_that_keeps_size_and_mtime_builds_the_new_rows(make_project, ffc) -> None:
    root = make_project(
        {
            "models/a.ff.sql": "select 1 as v",
            "profiles.yml": "default:\n  engine: duckdb\n  duckdb: {path: w.duckdb}\n",
        }
    )
    assert ffc("run", root).exit_code == 0
    rewrite_keeping_stat(root / "models/a.ff.sql", "select 7 as v")
    result = ffc("run", root)
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(root / "w.duckdb"), read_only=True) as con:
        assert con.execute("select v from a").fetchall() == [(7,)]


def test_a_new_password_is_served_the_same_plan_and_a_new_schema_is_not(make_project, no_compile) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as v"})
    pg = {"FF_ENGINE": "postgres", "FF_PG_SCHEMA": "analytics"}
    before = compile_at(root, {**pg, "FF_PG_DSN": "postgresql://app:s3cret-old@db:5432/w"})
    other_schema = compile_at(root, {**pg, "FF_PG_DSN": "postgresql://app:s3cret-old@db:5432/w", "FF_PG_SCHEMA": "staging"})
    assert other_schema.node("a.ff").fingerprint != before.node("a.ff").fingerprint
    no_compile()
    rotated = compile_at(root, {**pg, "FF_PG_DSN": "postgresql://app:s3cret-new@db:5432/w"})
    assert rotated.to_json() == before.to_json()
    assert not any(b"s3cret" in p.read_bytes() for p in entries(root))


DBT_FILES = {
    "project.yml": None,
    "dbt_project.yml": "name: shop\nversion: '1'\nmodel-paths: [transform]\nmacro-paths: [lib]\ntest-paths: [checks]\nseed-paths: [data]\n",
    "transform/a.sql": "select {{ val() }} + {{ tools.bump() }} as v",
    "lib/m.sql": "{% macro val() %}3{% endmacro %}",
    "dbt_packages/tools/dbt_project.yml": "name: tools\n",
    "dbt_packages/tools/macros/bump.sql": "{% macro bump() %}0{% endmacro %}",
    "checks/t.sql": "select * from {{ ref('a') }} where v < 0",
    "data/s.csv": "id\n1\n",
}


def test_a_dbt_project_is_cached_and_a_change_in_any_folder_it_names_compiles_again(make_project, no_compile) -> None:
    root = make_project(DBT_FILES)
    cold = compile_at(root)
    versions = [cold.to_json()]
    for path, text in [
        ("transform/a.sql", "select {{ val() }} + {{ tools.bump() }} + 0 as v"),
        ("lib/m.sql", "{% macro val() %}4{% endmacro %}"),
        ("dbt_packages/tools/macros/bump.sql", "{% macro bump() %}1{% endmacro %}"),  # an installed package
        ("checks/t.sql", "select * from {{ ref('a') }} where v < 1"),
        ("data/s.csv", "id\n2\n"),
        ("transform/schema.yml", "version: 2\nmodels:\n  - name: a\n    description: The a.\n"),
        ("dbt_project.yml", DBT_FILES["dbt_project.yml"] + "vars: {x: 1}\n"),
    ]:
        (root / path).write_text(text)
        versions.append(compile_at(root).to_json())
    assert len(set(versions)) == len(versions)  # every change gave a new plan
    no_compile()
    assert compile_at(root).to_json() == versions[-1]  # and an unchanged one is served
