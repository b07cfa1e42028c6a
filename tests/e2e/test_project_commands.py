"""`ffc debug` and `ffc clean`, as dbt users know `dbt debug` and `dbt clean`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e
OPERATIONS = REPO / "tests" / "fixtures" / "dbt" / "operations"


def dbt_copy(tmp_path: Path) -> Path:
    project = tmp_path / "operations"
    shutil.copytree(OPERATIONS, project)
    return project


def test_debug_checks_the_project_the_profile_the_macro_library_and_a_query(tmp_path: Path, ffc) -> None:
    project = dbt_copy(tmp_path)
    result = ffc("debug", project)
    assert result.exit_code == 0, result.output
    for check in ("project", "profile", "dbt macros", "connection"):
        assert re.search(rf"^{check}\s+ok\b", result.stdout, re.MULTILINE), result.stdout


def test_debug_fails_with_exit_1_naming_what_fails(tmp_path: Path, ffc) -> None:
    project = dbt_copy(tmp_path)
    (project / "profiles.yml").write_text(
        "edge:\n  target: dev\n  outputs:\n    dev: {type: postgres, host: 127.0.0.1, port: 1, user: u, password: s3cret, dbname: d, schema: s}\n"
    )
    result = ffc("debug", project)
    assert result.exit_code == 1, result.output
    assert re.search(r"^connection\s+FAILED\b", result.stdout, re.MULTILINE) and "s3cret" not in result.output


def test_clean_removes_the_caches_and_a_dbt_projects_clean_targets_only_inside_it(tmp_path: Path, ffc) -> None:
    project = dbt_copy(tmp_path)
    text = (project / "dbt_project.yml").read_text()
    (project / "dbt_project.yml").write_text(text + "clean-targets: [target, dbt_packages]\n")
    for folder in ("target/compiled", ".flowforge/cache", "dbt_packages/x", "models"):
        (project / folder).mkdir(parents=True, exist_ok=True)
    result = ffc("clean", project)
    assert result.exit_code == 0, result.output
    assert not any((project / f).exists() for f in ("target", ".flowforge", "dbt_packages")) and (project / "macros").is_dir()
    (project / "dbt_project.yml").write_text(text + "clean-targets: [target, ../outside]\n")
    (tmp_path / "outside").mkdir()
    (project / "target").mkdir()
    refused = ffc("clean", project)
    assert refused.exit_code == 1 and "not inside the project" in refused.output
    assert (tmp_path / "outside").is_dir() and (project / "target").is_dir()  # nothing removed


def test_the_profiles_threads_are_the_runs_jobs_and_threads_is_jobs(tmp_path: Path, ffc) -> None:
    """dbt's `threads:` (the output's) and `--threads`: how many nodes build at once, as --jobs."""
    project = dbt_copy(tmp_path)
    (project / "models").mkdir()
    (project / "models" / "a.sql").write_text("select 1 as id")
    (project / "profiles.yml").write_text("edge:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: edge.duckdb, threads: 2}\n")
    assert "(profile 'dev', 2 jobs)" in ffc("build", project).stdout
    assert "(profile 'dev', 3 jobs)" in ffc("build", project, "--threads", "3").stdout
    (project / "profiles.yml").write_text("edge:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: edge.duckdb, threads: none}\n")
    refused = ffc("build", project)
    assert refused.exit_code == 1 and "threads must be a whole number" in refused.output
