"""constraints.txt pins one resolved set for every extra `all` and `dev` install, so each of
them installs the same way everywhere (bigframes stays outside: it does not resolve with it); the
wheel carries every file the package reads at run time."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.conftest import REPO


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]).lower()


def test_every_requirement_of_all_and_dev_is_pinned() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    pins = {
        _name(line): line.split("==", 1)[1]
        for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    wanted = set(project["dependencies"])
    for extra in ("all", "dev"):
        for requirement in extras[extra]:
            inner = re.fullmatch(r"flowforge\[(.+)\]", requirement)
            wanted |= {r for e in inner.group(1).split(",") for r in extras[e]} if inner else {requirement}
    missing = sorted(_name(r) for r in wanted if _name(r) not in pins)
    assert missing == [], f"not pinned in constraints.txt: {missing}"
    assert "bigframes" not in pins and "bigframes" not in extras["all"][0]


def test_the_wheel_ships_the_docs_sites_assets_and_templates_and_the_engines_sql(tmp_path: Path) -> None:
    """Built from a copy of the sources (the build writes into the tree it builds)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, source / name)
    for package in ("flowforge", "flowforge_compiler", "runtime", "targets"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist")],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("flowforge-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    needed = [
        path.relative_to(REPO).as_posix()
        for folder in ("targets/docs/assets", "targets/docs/templates")
        for path in sorted((REPO / folder).iterdir())
    ]
    executors = sorted((REPO / "runtime" / "executors").iterdir())
    needed += [p.relative_to(REPO).as_posix() for p in executors if p.suffix in (".sql", ".properties")]
    assert len(needed) > 7
    assert [n for n in needed if n not in shipped] == []


def test_a_missing_dev_extra_skips_on_a_laptop_and_fails_in_ci(monkeypatch) -> None:
    """The engine and orchestrator tests need their extras; CI installs them all (the dev extra),
    so there a missing one is a broken install, not a reason to skip quietly."""
    import pytest

    from tests.conftest import require_extra

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="the nothing extra is not installed"):
        require_extra("ff_no_such_module", "nothing")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI installs the dev extra"):
        require_extra("ff_no_such_module", "nothing")
    assert require_extra("json", "stdlib").dumps([]) == "[]"
