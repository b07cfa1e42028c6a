"""The Target interface: registered targets with typed options that make `ffc compile`'s flags,
and generators that import no runtime module while they write."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flowforge_compiler.errors import SelectionError
from targets.target import Target, TargetOptions, Written, build_options, flags_of, option, targets
from tests.compiler.helpers import compile_dir as compile_dir_of
from tests.conftest import EXAMPLES, REPO


def test_the_built_in_targets_are_registered_with_their_flags() -> None:
    found = targets()
    assert {"local", "airflow", "prefect", "docs"} <= set(found)
    airflow_flags = {flag.names[0] for _, flag in flags_of(found["airflow"].options).values()}
    assert {"--dag-id", "--airflow-conn", "--schedule", "--granularity", "--tests", "--retries", "--jobs"} <= airflow_flags
    assert "--flow-name" in {flag.names[0] for _, flag in flags_of(found["prefect"].options).values()}
    assert flags_of(found["local"].options) == {}


def test_a_flag_of_another_target_is_refused_naming_its_targets() -> None:
    prefect = targets()["prefect"]
    with pytest.raises(SelectionError, match="--dag-id is for --target airflow, not prefect"):
        build_options(prefect, {"dag_id": "x", "flow_name": None})
    options = build_options(prefect, {"dag_id": None, "flow_name": "f", "retries": 5}, node_ids=("a",), unknown="ignored")
    assert (options.flow_name, options.retries, options.node_ids) == ("f", 5, ("a",))


def test_a_new_target_brings_its_flags_to_the_command_line() -> None:
    from flowforge.cli.compile_command import _target_parameters

    @dataclass(frozen=True, kw_only=True)
    class ToyOptions(TargetOptions):
        shout: int = option(3, "--toy-shout", help="How loud.", min=1)

    class ToyTarget(Target):
        name = "toy_target"
        help = "a test's target"
        options = ToyOptions

        def write(self, plan: Any, root: Path, out: Path | None, profile: Any, options: Any) -> Written:
            return Written(root, f"{options.shout}")

    try:
        parameters = {p.name: p for p in _target_parameters()}
        assert parameters["shout"].default == 3
        assert build_options(targets()["toy_target"], {"shout": 5}).shout == 5
    finally:
        Target.registry.pop("toy_target")


def test_ffc_compile_writes_the_docs_site_as_a_target(ffc, tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = ffc("compile", EXAMPLES / "simple_duckdb", "--target", "docs", "--out", site)
    assert result.exit_code == 0, result.output
    assert (site / "index.html").is_file() and "wrote" in result.output


def test_the_generators_import_no_runtime_module_while_they_write(tmp_path: Path) -> None:
    """The code they generate calls the runtime when it runs; writing it needs none."""
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from flowforge_compiler.plan_cache import compile_cached\n"
        "from flowforge_compiler.profiles import resolve_profile\n"
        "from targets.target import build_options, targets\n"
        f"root, out = Path({str(EXAMPLES / 'simple_duckdb')!r}), Path({str(tmp_path)!r})\n"
        "profile = resolve_profile(root, 'dev')\n"
        "plan = compile_cached(root, profile, lineage=True)\n"
        "for name in ('airflow', 'prefect', 'docs'):\n"
        "    target = targets()[name]\n"
        "    target.write(plan, root, out / name, profile, build_options(target, {}))\n"
        "print(' '.join(sorted(m for m in sys.modules if m == 'runtime' or m.startswith('runtime.'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
    assert (tmp_path / "airflow" / "simple_duckdb.py").is_file()


def test_a_targets_block_in_project_yml_is_validated_by_the_target_with_its_line(make_project, tmp_path: Path, monkeypatch) -> None:
    from flowforge_compiler.errors import ProjectFileError
    from tests.targets.generated_code import compile_target

    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    root = make_project({"project.yml": "name: t\nversion: '1'\nairflow:\n  owner: me\n  ownr: typo\n", "models/a.ff.sql": "select 1 as x"})
    with pytest.raises(ProjectFileError) as info:
        targets()["airflow"].settings_of(compile_dir_of(root), root)
    assert "project.yml:5" in info.value.render() and "ownr" in info.value.render()
    compile_target("prefect", root, tmp_path / "flows")  # another target's block is not its business
