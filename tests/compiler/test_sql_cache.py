"""The SQL-stage cache: the same plan, faster, and never a result for other inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from flowforge_compiler.sql_cache import SqlCache

PG = {"FF_ENGINE": "postgres", "FF_PG_DSN": "postgresql://app@db:5432/w"}


def compile_with(root: Path, environ: dict[str, str] | None = None, **kwargs):
    environ = environ or {}
    cache = SqlCache.for_project(root)
    plan = compile_project(load_project(root), resolve_profile(root, None, environ=environ), environ={}, cache=cache, **kwargs)
    cache.save()
    return plan


def test_a_cached_compile_gives_the_same_plan_bytes(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select try_cast('1' as int) as v, round(2.5::double) as r", "models/b.ff.sql": "select * from {{ ref('a') }}"})
    cold = compile_with(root, PG)
    entries = json.loads((root / ".flowforge/cache/sql-stage.json").read_text())["entries"]
    assert len(entries) == 2
    assert compile_with(root, PG).to_json() == cold.to_json()  # support statements come back from the cache too
    assert cold.support_sql


def test_an_edit_or_another_engine_is_never_served_an_old_result(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as v"})
    compile_with(root, PG)
    (root / "models/a.ff.sql").write_text("select 2 as v")
    assert compile_with(root, PG).node("a.ff").sql == "SELECT 2 AS v"
    assert compile_with(root).node("a.ff").sql == "select 2 as v"  # DuckDB keeps the text as written
    entries = json.loads((root / ".flowforge/cache/sql-stage.json").read_text())["entries"]
    assert len(entries) == 1  # only what the last compile used is kept


def test_warnings_and_strict_errors_hold_on_a_cached_result(make_project, caplog) -> None:
    root = make_project({"models/a.ff.sql": "select * from raw_table"})
    compile_with(root)
    caplog.clear()
    compile_with(root)
    assert "reads 'raw_table'" in caplog.text
    with pytest.raises(ProjectFileError, match="raw_table"):
        compile_with(root, strict=True)


def test_an_unreadable_or_foreign_cache_file_counts_as_empty(make_project) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as v"})
    path = root / ".flowforge/cache/sql-stage.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert compile_with(root).node("a.ff").sql == "select 1 as v"
    path.write_text(json.dumps({"format": 1, "version": "0.0.0-other", "entries": {"x": {"sql": "drop table a"}}}))
    assert SqlCache(path).get("x") is None


def test_a_cache_that_cannot_be_written_does_not_stop_a_command(make_project, ffc) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as v"})
    (root / ".flowforge").mkdir()
    (root / ".flowforge" / "cache").write_text("a file where the cache folder would go")  # as a read-only checkout fails
    result = ffc("ls", root)
    assert result.exit_code == 0 and "a.ff" in result.stdout


def test_entries_written_by_other_code_are_not_used(make_project, monkeypatch) -> None:
    import flowforge_compiler.compile

    root = make_project({"models/a.ff.sql": "select 1 as v"})
    compile_with(root)
    path = root / ".flowforge/cache/sql-stage.json"
    [old] = json.loads(path.read_text())["entries"]
    monkeypatch.setattr(flowforge_compiler.compile, "code_identity", lambda modules=(): "another sqlglot or FlowForge")
    compile_with(root)
    [new] = json.loads(path.read_text())["entries"]
    assert new != old
