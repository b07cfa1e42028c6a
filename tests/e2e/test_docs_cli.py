"""`ffc docs` and `ffc dag --html` as users run them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_ffc_docs_writes_the_site_into_the_projects_docs_folder(example_copy, ffc) -> None:
    project = example_copy("simple_duckdb")
    result = ffc("docs", project)
    assert result.exit_code == 0, result.output
    assert (project / "docs" / "index.html").is_file()
    assert f"wrote {project / 'docs' / 'index.html'} (10 pages)" in result.stdout
    assert "Build status not shown" in (project / "docs" / "index.html").read_text(encoding="utf-8")  # :memory: profile


def test_ffc_dag_html_writes_to_docs_dag_dir_and_shows_the_last_build(example_copy, ffc) -> None:
    project = example_copy("simple_duckdb")
    (project / "project.yml").write_text((project / "project.yml").read_text() + "docs: {dag_dir: site/html}\n")
    assert ffc("run", project, "--env", "dev").exit_code == 0
    result = ffc("dag", project, "--env", "dev", "--html")
    assert result.exit_code == 0, result.output
    index = (project / "site" / "html" / "index.html").read_text(encoding="utf-8")
    assert index.count('class="status current"') == 7
    assert ffc("dag", project).stdout.startswith("flowchart LR")  # without --html: Mermaid text, as before


@pytest.mark.parametrize("dag_dir", ["../outside", "/tmp/abs", "."])
def test_a_docs_dag_dir_outside_the_project_is_a_project_error(make_project, ffc, dag_dir: str) -> None:
    project = make_project({"project.yml": f"name: t\nversion: '1'\ndocs: {{dag_dir: '{dag_dir}'}}\n", "models/a.ff.sql": "select 1 as a"})
    result = ffc("docs", project)
    assert result.exit_code == 1
    assert "project.yml" in result.output and "must be a folder inside the project" in result.output


def test_ffc_docs_out_refuses_a_folder_of_other_files(example_copy, ffc, tmp_path: Path) -> None:
    project = example_copy("simple_duckdb")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.md").write_text("mine")
    result = ffc("docs", project, "--out", tmp_path / "mine")
    assert result.exit_code == 1
    assert "not a FlowForge docs site" in result.output and "hint:" in result.output
    assert ffc("docs", project, "--out", tmp_path / "site", "--no-status").exit_code == 0
    assert ffc("docs", project, "--out", tmp_path / "site").exit_code == 0  # its own site: replaced


def test_ffc_docs_serve_serves_the_site_until_interrupted(example_copy, tmp_path: Path) -> None:
    project = example_copy("simple_duckdb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FF_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "flowforge.cli", "docs", str(project), "--out", str(tmp_path / "site"), "--serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # started as a background job is: SIGINT ignored, which the server must still obey
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        lines = [server.stdout.readline(), server.stdout.readline()]
        url = lines[1].split()[1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/index.html"), lines
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b"simple_duckdb" in response.read()
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
