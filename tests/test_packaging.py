"""constraints.txt pins one resolved set for every extra `all` and `dev` install, so each of
them installs the same way everywhere (bigframes stays outside: it does not resolve with it)."""

from __future__ import annotations

import re
import tomllib

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
