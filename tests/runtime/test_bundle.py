"""Running a bundle's nodes as orchestrator tasks do: the plan task's decisions, then the nodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowforge_compiler.errors import ProfileError
from runtime.bundle import plan_bundle, run_bundle_node
from tests.targets.generated_code import compile_target

MODELS = {
    "models/a.ff.sql": "select 1 as v",
    "models/b.ff.sql": "select v + 1 as v from {{ ref('a') }}",
    "models/c.ff.sql": "select v + 2 as v from {{ ref('a') }}",
}


@pytest.fixture
def bundle(make_project, tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    project = make_project(MODELS)
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    compile_target("airflow", project, tmp_path / "dags", "--dag-id", "shop")
    monkeypatch.delenv("FF_DUCKDB_PATH")
    return project, tmp_path / "dags" / "shop"


def actions(decisions: dict) -> dict[str, str]:
    return {node: ("build" if d["build"] else "skip") + ": " + d["reason"] for node, d in decisions.items()}


def test_the_plan_decides_every_node_from_one_look_at_the_warehouse(bundle, tmp_path: Path, monkeypatch) -> None:
    project, folder = bundle
    assert actions(plan_bundle(folder)) == {n: "build: never built here" for n in ("a.ff", "b.ff", "c.ff")}
    for node in ("a.ff", "b.ff", "c.ff"):
        run_bundle_node(folder, node)
    assert actions(plan_bundle(folder)) == {n: "skip: cached" for n in ("a.ff", "b.ff", "c.ff")}
    (project / "models/b.ff.sql").write_text("select v + 10 as v from {{ ref('a') }}")
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    compile_target("airflow", project, tmp_path / "dags", "--dag-id", "shop")
    assert actions(plan_bundle(folder)) == {"a.ff": "skip: cached", "b.ff": "build: changed since its last build", "c.ff": "skip: cached"}
    rebuilt = actions(plan_bundle(folder, cache="off"))
    assert set(rebuilt.values()) == {"build: cache mode off"}


def test_a_node_the_plan_skips_opens_no_connection(bundle, tmp_path: Path) -> None:
    _, folder = bundle
    (tmp_path / "w.duckdb").mkdir()  # any connection attempt now fails: the path is a folder
    result = run_bundle_node(folder, "b.ff", decision={"build": False, "reason": "cached"})
    assert result["status"] == "skipped" and result["message"] == "cached"
    with pytest.raises(ProfileError, match="is a folder"):
        run_bundle_node(folder, "b.ff", decision={"build": True, "reason": "changed since its last build"})


def test_ffc_plan_says_what_would_build_and_why(make_project, ffc, tmp_path: Path) -> None:
    project = make_project({**MODELS, "profiles.yml": "default:\n  engine: duckdb\n  duckdb: {path: w.duckdb}\n"})
    first = ffc("plan", project)
    assert first.exit_code == 0, first.output
    assert "3 to build, 0 to skip" in first.stdout
    assert ffc("run", project).exit_code == 0
    (project / "models/a.ff.sql").write_text("select 5 as v")
    lines = {line.split()[0]: line.split(None, 2)[1:] for line in ffc("plan", project).stdout.splitlines()[1:4]}
    assert lines == {
        "a.ff": ["build", "changed since its last build"],
        "b.ff": ["build", "changed since its last build"],  # its fingerprint holds a's
        "c.ff": ["build", "changed since its last build"],
    }
    rebuild = ffc("plan", project, "--rebuild", "a.ff", "--cache-store", "warehouse").stdout
    assert "--rebuild names it" in rebuild


def test_a_task_logs_the_node_its_file_its_sql_and_its_rows(bundle, caplog, monkeypatch) -> None:
    import logging

    _, folder = bundle
    monkeypatch.setenv("FLOWFORGE_SQL_DEBUG", "1")
    with caplog.at_level(logging.NOTSET):
        run_bundle_node(folder, "a.ff")
    text = caplog.text
    assert "node a.ff (sql, table) from models/a.ff.sql" in text
    assert "select 1 as v" in text and "built a.ff as table a: 1 rows" in text
    assert any(r.name == "flowforge.sql" and "CREATE TABLE" in r.getMessage() for r in caplog.records)  # every statement


def test_a_sql_node_task_loads_no_dataframe_library(bundle) -> None:
    import subprocess
    import sys

    _, folder = bundle
    script = (
        "import sys\nfrom runtime.bundle import run_bundle_node\n"
        f"for node in ('a.ff', 'b.ff', 'b.ff'):\n    run_bundle_node({str(folder)!r}, node)\n"  # built, built, then cached
        "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stderr
