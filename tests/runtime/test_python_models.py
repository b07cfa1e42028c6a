"""Importing Python models: each project's helper modules are its own, even in one process."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.runtime.helpers import build_all, rows

PY = "from flowforge_compiler import model\n"


def _project(make_project, value: int, *, package: bool = False) -> Path:
    helper = {"helpers/__init__.py": "from .consts import VALUE as VALUE\n", "helpers/consts.py": f"VALUE = {value}\n"} if package else {"helpers.py": f"VALUE = {value}\n"}
    return make_project(
        {
            **helper,
            "models/m.ff.py": PY + "import helpers\n@model(name='m')\ndef f():\n"
            "    import pandas as pd\n    return pd.DataFrame({'v': [helpers.VALUE]})\n",
        }
    )


def test_two_projects_helpers_never_mix_in_one_process(make_project, tmp_path: Path) -> None:
    first, second = _project(make_project, 1), _project(make_project, 2, package=True)
    build_all(first, tmp_path / "one.duckdb")
    build_all(second, tmp_path / "two.duckdb")
    assert rows(tmp_path / "one.duckdb", "select v from m") == [(1,)]
    assert rows(tmp_path / "two.duckdb", "select v from m") == [(2,)]
    assert "helpers" not in sys.modules  # nothing was imported under the bare name
    assert not any(str(p) in (str(first), str(second)) for p in sys.path)


def test_an_edited_helper_is_imported_again_by_a_long_lived_worker(make_project, tmp_path: Path) -> None:
    project = _project(make_project, 1)
    build_all(project, tmp_path / "w.duckdb")
    (project / "helpers.py").write_text("VALUE = 10  # edited, and longer\n")
    build_all(project, tmp_path / "w.duckdb")
    assert rows(tmp_path / "w.duckdb", "select v from m") == [(10,)]


def test_from_flowforge_import_model_works(make_project, tmp_path: Path) -> None:
    project = make_project(
        {"models/m.ff.py": "from flowforge import model\nimport pandas as pd\n@model(name='m')\ndef f():\n    return pd.DataFrame({'v': [1]})\n"}
    )
    build_all(project, tmp_path / "w.duckdb")
    assert rows(tmp_path / "w.duckdb", "select v from m") == [(1,)]
