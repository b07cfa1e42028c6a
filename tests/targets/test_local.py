"""The level scheduler: levels in order, --jobs caps concurrency, --keep-going, skipped nodes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flowforge_compiler.plan import PlanNode
from runtime import NodeResult, open_executor
from targets.local import LevelScheduler, RunSummary
from tests.compiler.helpers import compile_dir
from tests.runtime.helpers import duckdb_profile, rows

PY = "from flowforge_compiler import model\nimport time\nimport pandas as pd\n"


class Recorder:
    """Records order and the most nodes that ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.started: list[str] = []
        self.finished: list[tuple[str, str]] = []

    def node_started(self, node: PlanNode) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.started.append(node.id)

    def node_finished(self, node: PlanNode, result: NodeResult, error: BaseException | None) -> None:
        with self.lock:
            if result.status != "skipped":
                self.running -= 1
            self.finished.append((node.id, result.status))


def sleeper(name: str, seconds: float = 0.15, fail: bool = False, deps: tuple[str, ...] = ()) -> str:
    body = "    raise ValueError('boom')\n" if fail else f"    return pd.DataFrame({{'n': [{seconds}]}})\n"
    return PY + f"@model(name={name!r}, deps={list(deps)!r})\ndef f(*_):\n    time.sleep({seconds})\n" + body


def run(root: Path, db: Path, *, jobs: int = 1, keep_going: bool = False, select: list[str] | None = None) -> tuple[RunSummary, Recorder]:
    plan = compile_dir(root)
    recorder = Recorder()
    with open_executor(duckdb_profile(root, db)) as executor:
        scheduler = LevelScheduler(plan, executor, root, jobs=jobs, keep_going=keep_going, reporter=recorder)
        summary = scheduler.run(select or [n.id for n in plan.nodes])
    return summary, recorder


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_jobs_caps_concurrency_within_a_level(make_project, tmp_path: Path, jobs: int) -> None:
    root = make_project({f"models/m{i}.ff.py": sleeper(f"m{i}") for i in range(4)})
    summary, recorder = run(root, tmp_path / "w.duckdb", jobs=jobs)
    assert summary.count("built") == 4
    assert recorder.peak == jobs


def test_levels_run_in_order(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "models/a.ff.py": sleeper("a", 0.05),
            "models/b.ff.py": sleeper("b", 0.2),
            "models/c.ff.py": sleeper("c", 0.01, deps=("a",)),
        }
    )
    _, recorder = run(root, tmp_path / "w.duckdb", jobs=2)
    # c's parent finishes early, but the level barrier waits for b as well
    assert recorder.started.index("c") > [f[0] for f in recorder.finished].index("b")


def test_failure_cancels_the_rest_of_the_level_and_later_levels(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "models/a.ff.py": sleeper("a", 0.01, fail=True),
            "models/b.ff.py": sleeper("b"),
            "models/c.ff.py": sleeper("c"),
            "models/d.ff.py": sleeper("d", deps=("b",)),
        }
    )
    summary, _ = run(root, tmp_path / "w.duckdb", jobs=1)
    status = {r.node_id: r.status for r in summary.results}
    assert status == {"a": "failed", "b": "skipped", "c": "skipped", "d": "skipped"}
    assert "ValueError: boom" in str(summary.errors["a"])
    assert {r.node_id: r.message for r in summary.results}["d"] == "not started: a failed"


def test_keep_going_finishes_the_level_but_starts_no_later_level(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "models/a.ff.py": sleeper("a", 0.01, fail=True),
            "models/b.ff.py": sleeper("b", 0.01),
            "models/c.ff.py": sleeper("c", 0.01),
            "models/d.ff.py": sleeper("d", 0.01, deps=("b",)),
        }
    )
    db = tmp_path / "w.duckdb"
    summary, _ = run(root, db, jobs=1, keep_going=True)
    status = {r.node_id: r.status for r in summary.results}
    assert status == {"a": "failed", "b": "built", "c": "built", "d": "skipped"}
    assert rows(db, "select count(*) from b") == [(1,)]


def test_selected_subset_runs_only_those_nodes(make_project, tmp_path: Path) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as x", "models/b.ff.sql": "select * from {{ ref('a') }}"})
    db = tmp_path / "w.duckdb"
    summary, _ = run(root, db, select=["a.ff"])
    assert [r.node_id for r in summary.results] == ["a.ff"]
    assert rows(db, "select table_name from information_schema.tables where table_name <> '_ff_meta'") == [("a",)]
