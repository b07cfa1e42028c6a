"""The engine SDK: engines come from the registry, and no code outside an engine's module names one."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

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
    """The two halves of every engine: the module defining `ENGINE` and its executor's module
    (with the modules only those import, such as Spark's session)."""
    halves = set()
    for spec in engines().values():
        module = importlib.import_module(spec.profile.__module__)
        halves.add(Path(module.__file__))
        if spec.executor:
            halves.add(REPO / (spec.executor.partition(":")[0].replace(".", "/") + ".py"))
    return halves | {REPO / "runtime" / "executors" / "spark_session.py"}


def test_no_engine_is_named_outside_its_own_module() -> None:
    names = set(engines())
    variables = {v for spec in engines().values() for v in spec.overrides}
    allowed = {(REPO / "flowforge_compiler" / "engine_sdk.py")}  # DEFAULT_ENGINE / DEFAULT_DIALECT
    found = []
    for package in ("flowforge", "flowforge_compiler", "runtime", "targets"):
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


def test_the_compile_time_half_of_every_engine_loads_no_driver_and_no_runtime_module() -> None:
    """Every command registers every engine; what a build needs (drivers, Arrow, the runtime's
    executors, node building, materializations) loads only when one runs, lazily or not."""
    probe = (
        "import sys\n"
        "from flowforge_compiler.engine_sdk import engines\n"
        "for spec in engines().values():\n"
        "    spec.settings_model(); spec.capabilities; spec.rewrites\n"
        "heavy = ['pyarrow', 'numpy', 'duckdb', 'psycopg', 'sqlglot.optimizer.qualify']\n"
        "layers = ('runtime.', 'targets', 'flowforge.cli')\n"
        "print(' '.join(sorted(m for m in sys.modules if m in heavy or m == 'runtime' or m.startswith(layers))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO)
    assert done.stdout.split() == []


def test_each_engine_names_an_executor_of_its_own() -> None:
    from runtime.executors import executor_class

    for name, spec in engines().items():
        assert spec.executor is not None and spec.executor.startswith("runtime.executors.")
        assert executor_class(spec).engine == name


@pytest.mark.parametrize("module", ["runtime.executors.duckdb", "runtime.executors.postgres", "runtime.executors.bigquery",
                                    "runtime.executors.databricks_spark", "runtime.executors.snowflake_snowpark"])
def test_each_executor_module_stays_small(module: str) -> None:
    """The shared base does the rest: an engine's run-time module holds what differs only."""
    path = REPO / (module.replace(".", "/") + ".py")
    assert len(path.read_text(encoding="utf-8").splitlines()) < 350


def _is_capabilities(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "capabilities") or (isinstance(node, ast.Name) and node.id == "capabilities")


def test_every_declared_capability_is_read_by_the_shared_code() -> None:
    """A capability nobody reads is a promise nobody keeps: each field of `Capabilities` is read
    (as `<x>.capabilities.<field>`) somewhere outside the engines' own modules."""
    from dataclasses import fields

    from flowforge_compiler.engine_sdk import Capabilities

    read: set[str] = set()
    for package in ("flowforge", "flowforge_compiler", "runtime", "targets"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path in _engine_modules():
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and _is_capabilities(node.value):
                    read.add(node.attr)
    assert {f.name for f in fields(Capabilities)} <= read


def test_an_incremental_strategy_the_engine_lacks_is_a_compile_error_at_the_model(make_project, monkeypatch) -> None:
    import dataclasses

    from flowforge_compiler.errors import ProjectFileError
    from tests.compiler.helpers import compile_dir

    spec = engines()["duckdb"]
    narrower = dataclasses.replace(spec, capabilities=dataclasses.replace(spec.capabilities, incremental_strategies=("append",)))
    monkeypatch.setitem(engines(), "duckdb", narrower)
    root = make_project({"models/inc.ff.sql": "{{ config(materialized='incremental', unique_key='id') }}select 1 as id"})
    with pytest.raises(ProjectFileError, match="incremental_strategy='merge' is not one the engine has") as caught:
        compile_dir(root)
    assert caught.value.location is not None and caught.value.location.path == "models/inc.ff.sql"


def test_relations_differing_in_case_only_are_refused_where_the_engine_folds_names(make_project) -> None:
    from flowforge_compiler.compile import compile_project
    from flowforge_compiler.errors import ProjectFileError
    from flowforge_compiler.profiles import resolve_profile
    from flowforge_compiler.project import load_project

    root = make_project({"models/Users2.ff.sql": "select 1 as x", "models/users2.ff.sql": "select 2 as x"})
    postgres = resolve_profile(root, None, environ={"FF_ENGINE": "postgres", "FF_PG_DSN": "postgresql://u@h/db"})
    assert {n.relation for n in compile_project(load_project(root), postgres, environ={}).nodes} == {"Users2", "users2"}
    for environ in ({}, {"FF_ENGINE": "databricks_spark"}):
        with pytest.raises(ProjectFileError, match="would build one relation"):
            compile_project(load_project(root), resolve_profile(root, None, environ=environ), environ={})
