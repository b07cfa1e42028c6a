"""dbt's own macro library, read from the packages dbt publishes, so a dbt project's
`type_numeric()`, `dbt.datediff(...)` or `adapter.dispatch('x', 'dbt')` render as dbt renders
them: the global macros of `dbt-adapters` and each adapter's overrides (`dbt-postgres`,
`dbt-duckdb`, ...), found in the installed distributions and read as files, never imported.

The adapter packages require dbt-core, whose pins conflict with Airflow 3's and Prefect 3's in
one environment, and FlowForge runs none of their Python; so they are installed without their
dependencies (`pip install --no-deps -r dbt-library.txt`). What their Python decides (a column's
type names, how a relation is quoted) each engine states in its `EngineSpec.dbt_column`.

A file is compiled when one of its macros is first used: the library is some 300 files, and
parsing them all would add ~0.3 s to every compile of a dbt project.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

GLOBAL_PACKAGE = "dbt-adapters"
_MACRO = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\(")
INSTALL_HINT = "install dbt's macro library beside FlowForge: pip install --no-deps -r dbt-library.txt (or: pip install --no-deps dbt-adapters dbt-<your adapter>)"


class LibraryFile(NamedTuple):
    display: str  # how errors name it: <distribution>/<path under dbt/include>
    text: str


@dataclass(frozen=True)
class MacroLibrary:
    """The macros of dbt's internal packages, by name: an adapter's file wins over the global
    project's for a name both define, as dbt's adapter packages override the global project."""

    packages: tuple[str, ...]  # the distributions read, global first
    defined_in: dict[str, LibraryFile]

    def __contains__(self, name: object) -> bool:
        return name in self.defined_in

    def names(self) -> Iterator[str]:
        return iter(self.defined_in)


def _include(distribution: str, folder: str) -> Path | None:
    try:
        found = importlib.metadata.distribution(distribution).locate_file(f"dbt/include/{folder}/macros")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(found))
    return path if path.is_dir() else None


@cache
def macro_library(adapter_types: tuple[str, ...]) -> MacroLibrary | None:
    """dbt's global macros and the overrides of each adapter type that is installed (an adapter
    package not installed leaves its `<type>__` versions out: dispatch then finds `default__`).
    None when dbt-adapters itself is not installed."""
    folders = [(GLOBAL_PACKAGE, "global_project")] + [(f"dbt-{kind}", kind) for kind in reversed(adapter_types)]
    found = [(name, folder, path) for name, folder in folders if (path := _include(name, folder)) is not None]
    if not found or found[0][0] != GLOBAL_PACKAGE:
        return None
    defined_in: dict[str, LibraryFile] = {}
    for distribution, folder, path in found:
        for file in sorted(path.rglob("*.sql")):
            text = file.read_text(encoding="utf-8")
            entry = LibraryFile(f"{distribution}/{folder}/macros/{file.relative_to(path).as_posix()}", text)
            defined_in.update(dict.fromkeys(_MACRO.findall(text), entry))
    return MacroLibrary(tuple(name for name, _, _ in found), defined_in)
