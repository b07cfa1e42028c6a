"""A dbt model that reads the warehouse while rendering renders in its task, at run time, from
what the bundle carries; the run-time renderer is loaded for such a node only, and never
served from the cache. The rows are held to dbt's in tests/e2e/test_dbt_edge_cases.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from runtime.bundle import plan_bundle, run_bundle_node
from tests.conftest import REPO
from tests.targets.generated_code import compile_target

FIXTURE = REPO / "tests" / "fixtures" / "dbt" / "edge_cases" / "run_time_rendering"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """The fixture as an Airflow bundle (the model that fails when it runs, and its child, left out),
    compiled in one folder and run from another, as a worker would."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    for failing in ("fails_when_run", "after_failure"):
        (project / "models" / f"{failing}.sql").unlink()
    (project / "macros").mkdir()
    (project / "macros" / "amounts.sql").write_text("{% macro amount_of(kind) %}sum(case when kind = '{{ kind }}' then amount end){% endmacro %}")
    (project / "models" / "kinds_pivot.sql").write_text(
        (project / "models" / "kinds_pivot.sql").read_text().replace("sum(case when kind = '{{ kind }}' then amount end)", "{{ amount_of(kind) }}")
    )
    (project / "profiles.yml").write_text(f"edge:\n  target: dev\n  outputs:\n    dev: {{type: duckdb, path: '{tmp_path / 'w.duckdb'}'}}\n")
    compile_target("airflow", project, tmp_path / "dags", "--dag-id", "rt")
    shutil.rmtree(project)  # the task reads only the bundle
    return tmp_path / "dags" / "rt"


def test_a_node_that_reads_the_warehouse_renders_in_its_task_from_the_bundle(bundle: Path, tmp_path: Path) -> None:
    assert (bundle / "models" / "kinds_pivot.sql").is_file() and (bundle / "macros" / "amounts.sql").is_file()
    assert not (bundle / "models" / "independent.sql").exists()  # rendered while compiling: its SQL is in the plan
    for node in ("events", "kinds_pivot", "numeric_columns", "found_relations", "pivot_child", "independent"):
        assert run_bundle_node(bundle, node)["status"] == "built", node
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select buy_amount, click_amount, view_amount, events from kinds_pivot").fetchall() == [(10.0, 6.5, 1.0, 4)]
        assert [c[0] for c in con.execute("describe numeric_columns").fetchall()] == ["id", "amount"]
    decisions = plan_bundle(bundle)
    assert decisions["kinds_pivot"] == {"build": True, "reason": "renders at run time, reading the warehouse"}
    assert decisions["independent"]["reason"] == "cached"


def test_the_run_time_renderer_is_loaded_for_a_node_that_needs_it_only(bundle: Path) -> None:
    script = (
        "import sys\nfrom runtime.bundle import run_bundle_node\n"
        f"run_bundle_node({str(bundle)!r}, 'events')\nrun_bundle_node({str(bundle)!r}, 'independent')\n"
        "print('flowforge_compiler.run_render' in sys.modules, 'jinja2' in sys.modules)\n"
        f"run_bundle_node({str(bundle)!r}, 'kinds_pivot')\n"
        "print('flowforge_compiler.run_render' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "True"], done.stderr
