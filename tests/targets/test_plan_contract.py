"""The plan is the targets' one contract: they read plan.json's model and the project folder's
files the plan lists, never the compiler's Project or its stages."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO
from tests.compiler.helpers import compile_dir

# What the runtime and the targets may import from the compiler package: its contract modules,
# each for one reason. Anything else (the loader, the Jinja DSL, transpiling, the compile
# itself) is a stage that turns a project into a plan; they start from the plan. Lazy imports
# inside functions count too.
ALLOWED = {
    "flowforge_compiler": "__version__, for generated files' headers",
    "flowforge_compiler.plan": "the IR",
    "flowforge_compiler.materializations": "the IR's materialization configs and their traits",
    "flowforge_compiler.check_types": "the IR's check types, each with its query",
    "flowforge_compiler.sql_names": "the one quoting rule for names and values in FlowForge's own SQL",
    "flowforge_compiler.errors": "one error hierarchy with exit codes",
    "flowforge_compiler.engine_sdk": "the engine registry and capabilities",
    "flowforge_compiler.profiles": "profiles resolve in the worker",
    "flowforge_compiler.dsn": "a profile's DSN parts, secrets redacted",
    "flowforge_compiler.authoring": "the API Python models import (is_incremental)",
    "flowforge_compiler.paths": "the one rule for files inside a project",
    "flowforge_compiler.rewrites": "an engine's rewrites, applied to FlowForge's own statements",
    "flowforge_compiler.sql_statements": "a plan's where: filter parsed again before it runs",
    "flowforge_compiler.selection": "a trigger-time select: a query on the plan",
    "flowforge_compiler.schedule": "schedule presets as orchestrators write them",
    "flowforge_compiler.graph": "pure graph queries",
    "flowforge_compiler.local_modules": "the project-local modules a Python model imports",
    "flowforge_compiler.unit_test_file": "the unit-test case format",
    "flowforge_compiler.yaml_files": "strict models for a target's own block of project.yml",
    "flowforge_compiler.run_render": "the one entry point that renders a dbt model at run time, loaded only for a node the plan marks so",
}
ENGINE_HALVES = "flowforge_compiler.engines."  # an executor reads its own engine's settings model


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def _files(*packages: str) -> list[Path]:
    return [path for package in packages for path in sorted((REPO / package).rglob("*.py"))]


def test_runtime_and_targets_import_only_the_compilers_contract_modules() -> None:
    files = [*_files("runtime", "targets"), REPO / "flowforge_compiler" / "selection.py"]  # the plan task runs selection
    found = []
    for path in files:
        for line, module in _imports(path):
            executor_reads_its_engine = module.startswith(ENGINE_HALVES) and path.parent == REPO / "runtime" / "executors"
            if module.startswith("flowforge_compiler") and module not in ALLOWED and not executor_reads_its_engine:
                found.append(f"{path.relative_to(REPO)}:{line}: {module}")
    assert found == []


def test_the_compiler_imports_neither_runtime_nor_targets_and_nothing_imports_the_cli() -> None:
    found = []
    for path in _files("flowforge_compiler", "runtime", "targets"):
        package = path.relative_to(REPO).parts[0]
        for line, module in _imports(path):
            top = module.split(".")[0]
            upward = module == "flowforge.cli" or module.startswith("flowforge.cli.")
            if upward or (package == "flowforge_compiler" and top in ("runtime", "targets")) or (package == "runtime" and top == "targets"):
                found.append(f"{path.relative_to(REPO)}:{line}: {module}")
    assert found == []


def test_the_layer_check_sees_a_lazy_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from flowforge_compiler.compile import compile_project\n", encoding="utf-8")
    assert _imports(probe) == [(2, "flowforge_compiler.compile")] and "flowforge_compiler.compile" not in ALLOWED


def test_graph_queries_live_on_the_plan(make_project) -> None:
    plan = compile_dir(
        make_project(
            {
                "models/a.ff.sql": "select 1 as id",
                "models/e.ff.sql": "{{ config(materialized='ephemeral') }}select * from {{ ref('a') }}",
                "models/f.ff.sql": "{{ config(materialized='ephemeral') }}select * from {{ ref('e') }}",
                "models/b.ff.sql": "select * from {{ ref('f') }} join {{ ref('a') }} using (id)",
            }
        )
    )
    assert plan.built_parents("b.ff") == ["a.ff"]  # through two ephemerals, once
    assert plan.built_parents("b.ff", among={"b.ff"}) == []  # a parent outside a selection is no task
    assert plan.deps()["b.ff"] == ["a.ff", "f.ff"]


def test_the_runtime_knows_no_orchestrator() -> None:
    """Airflow's and Prefect's ways (a connection, a run logger) live with their targets; the
    runtime takes a generic settings hook (`runtime.bundle.SettingsHook`)."""
    found = [
        f"{path.relative_to(REPO)}:{line}: {module}"
        for path in _files("runtime")
        for line, module in _imports(path)
        if module.split(".")[0] in ("airflow", "prefect")
    ]
    assert found == []
