"""The engine SDK: engines come from the registry, and no code outside an engine's module names one."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from flowforge_compiler.engine_sdk import DEFAULT_DIALECT, DEFAULT_ENGINE, EngineSpec, engines
from tests.conftest import REPO


def test_every_engine_registers_through_the_entry_point_group() -> None:
    found = engines()
    assert set(found) == {"duckdb", "postgres", "bigquery", "databricks_spark", "snowflake_snowpark"}
    for name, spec in found.items():
        assert isinstance(spec, EngineSpec) and spec.name == name
        assert spec.settings_model() is not None and spec.dialect
    assert found["duckdb"].capabilities.single_writer and not found["postgres"].capabilities.single_writer


def _engine_modules() -> set[Path]:
    """The modules that define an engine (`ENGINE = EngineSpec(...)`)."""
    return {p for p in (REPO / "runtime").rglob("*.py") if "ENGINE = EngineSpec(" in p.read_text(encoding="utf-8")}


def test_no_engine_is_named_outside_its_own_module() -> None:
    names = set(engines())
    variables = {v for spec in engines().values() for v in spec.overrides}
    allowed = {(REPO / "flowforge_compiler" / "engine_sdk.py")}  # DEFAULT_ENGINE / DEFAULT_DIALECT
    found = []
    for package in ("flowforge_compiler", "runtime", "targets"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path in _engine_modules() or path in allowed:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {
                id(n.body[0].value)
                for n in ast.walk(tree)
                if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef) and n.body
                and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                    if node.value in names or node.value in variables:
                        found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert found == []
    assert DEFAULT_ENGINE in names and DEFAULT_DIALECT


def test_registering_the_engines_loads_no_engine_library_and_no_node_building() -> None:
    """Every command registers every engine; what a build needs loads only when one runs."""
    probe = (
        "import sys\n"
        "from flowforge_compiler.engine_sdk import engines\n"
        "engines()\n"
        "heavy = ['pyarrow', 'numpy', 'duckdb', 'psycopg', 'runtime.checks', 'runtime.node', 'sqlglot.optimizer.qualify']\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO)
    assert done.stdout.split() == []
