"""The README is the front door: its two commands must be the ones that work."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", readme, flags=re.DOTALL)


def test_ci_runs_the_readme_test_command() -> None:
    test_command = next(c for c in _commands() if "pytest" in c)
    ci_lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci_lines


def test_quickstart_runs_the_example_the_e2e_test_runs() -> None:
    quickstart = _commands()[0]
    assert quickstart.endswith("ffc run examples/simple_duckdb --env dev")
    assert "-c constraints.txt" in quickstart
    e2e = (REPO / "tests" / "e2e" / "test_cli.py").read_text(encoding="utf-8")
    assert 'ffc("run", project, "--env", "dev")' in e2e
