"""Generated modules are data, never code, and a compile writes only under --out.

Hostile project text (quotes, triple quotes, newlines, `#`, `[`, `{{`) must leave a generated
module's code exactly that of a harmless project of the same shape (its syntax tree equal once
string literals are blanked), and reach comments only as repr() literals.
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
from pathlib import Path

import pytest

from flowforge_compiler.errors import ProjectFileError
from tests.targets.generated_code import compile_target

HOSTILE = "evil.'\"\"\" ]]\n#{{ x }}\r\nimport os; os.system('touch pwned') #"
HOSTILE_NODE = HOSTILE.replace(".", "_")  # node names hold no '.' (it would name a schema)


class _BlankStrings(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        return ast.Constant("S") if isinstance(node.value, str) else node


def _shape(path: Path) -> str:
    """The module's whole syntax tree with every string literal blanked: the code it runs."""
    return ast.dump(_BlankStrings().visit(ast.parse(path.read_text(encoding="utf-8"))))


def _comments(path: Path) -> list[str]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [t.string for t in tokens if t.type == tokenize.COMMENT]


@pytest.fixture(autouse=True)
def _warehouse_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Orchestrator targets refuse an in-memory DuckDB; these projects have no profile."""
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))


def _project(make_project, name: str, node: str, text: str) -> Path:
    q = json.dumps  # a YAML double-quoted string for any text
    return make_project(
        {
            "project.yml": f"name: {q(name)}\nversion: {q(name)}\nschedule: '@daily'\n"
            f"models:\n  ok.ff: {{tags: [{q(text)}], description: {q(text)}}}\n"
            f"airflow: {{owner: {q(text)}, tags: [{q(text + ' tag')}]}}\nprefect: {{tags: [{q(text + ' tag')}]}}\n",
            "models/ok.ff.sql": "select 1 as id",
            "models/m.ff.py": "from flowforge_compiler import model\n"
            f"@model(name={node!r}, deps=['ok.ff'])\ndef f(df):\n    return df\n",
            f"models/{node.replace('/', '_')}_sql.ff.sql": "select * from {{ ref('ok') }}",
        }
    )


@pytest.mark.airflow
@pytest.mark.prefect
@pytest.mark.parametrize("target", ["airflow", "prefect"])
def test_hostile_project_text_adds_no_statement_and_no_raw_comment(make_project, tmp_path: Path, target: str) -> None:
    benign = _project(make_project, "shop", "enriched", "plain words")
    hostile = _project(make_project, HOSTILE, HOSTILE_NODE, HOSTILE)
    hostile_module = _assert_same_code(target, benign, hostile, tmp_path)
    module_name = hostile_module.stem
    assert module_name.isidentifier() or all(c.isalnum() or c in "_-" for c in module_name)


@pytest.mark.parametrize("bad", ["..", ".", "a/b", "x.y", "has space", "", "a\nb"])
def test_ids_that_could_name_another_place_are_refused(make_project, tmp_path: Path, bad: str) -> None:
    from flowforge.cli import main

    project = make_project({"models/a.ff.sql": "select 1"})
    for flag in ("--dag-id", "--flow-name"):
        target = "airflow" if flag == "--dag-id" else "prefect"
        with pytest.raises(SystemExit) as done:
            main(["compile", str(project), "--target", target, "--out", str(tmp_path / "out"), flag, bad, "-q"])
        assert done.value.code == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_sibling_files_and_folders_survive_and_only_marked_bundles_are_replaced(make_project, tmp_path: Path) -> None:
    project = make_project({"models/a.ff.sql": "select 1"})
    out = tmp_path / "dags"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "other_team").mkdir()
    (out / "other_team" / "dag.py").write_text("# someone else's DAG")
    compile_target("airflow", project, out, "--dag-id", "shop")
    compile_target("airflow", project, out, "--dag-id", "shop")  # its own bundle: replaced
    assert (out / "shop" / ".flowforge-bundle").is_file()
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "other_team" / "dag.py").read_text() == "# someone else's DAG"

    from flowforge.cli import main

    (out / "other_team" / "plan.json").write_text("{}")  # looks like a bundle but has no marker
    with pytest.raises(SystemExit) as done:
        main(["compile", str(project), "--target", "airflow", "--out", str(out), "--dag-id", "other_team", "-q"])
    assert done.value.code == 1
    assert (out / "other_team" / "dag.py").exists()


def test_a_hand_written_module_is_never_overwritten(make_project, tmp_path: Path) -> None:
    project = make_project({"models/a.ff.sql": "select 1"})
    out = tmp_path / "flows"
    out.mkdir()
    (out / "shop.py").write_text("print('hand written')\n")
    from flowforge.cli import main

    with pytest.raises(SystemExit) as done:
        main(["compile", str(project), "--target", "prefect", "--out", str(out), "--flow-name", "shop", "-q"])
    assert done.value.code == 1
    assert (out / "shop.py").read_text() == "print('hand written')\n"


def test_a_symlinked_bundle_folder_is_refused_and_its_target_untouched(make_project, tmp_path: Path) -> None:
    from targets.output import OutputFolder

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    out = tmp_path / "dags"
    out.mkdir()
    (out / "shop").symlink_to(elsewhere)
    with pytest.raises(ProjectFileError, match="outside --out"):
        OutputFolder(out).fresh_bundle("shop")
    assert (elsewhere / "keep.txt").read_text() == "keep"


def test_out_that_is_a_file_is_exit_1(make_project, tmp_path: Path, capsys) -> None:
    from flowforge.cli import main

    project = make_project({"models/a.ff.sql": "select 1"})
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for target in ("local", "airflow", "prefect"):
        with pytest.raises(SystemExit) as done:
            main(["compile", str(project), "--target", target, "--out", str(a_file)])
        assert done.value.code == 1
        assert "is a file, not a folder" in capsys.readouterr().err
    assert a_file.read_text() == "x"


def _dbt_project(make_project, name: str, node: str, text: str) -> Path:
    q = json.dumps
    return make_project(
        {
            "project.yml": None,
            "dbt_project.yml": f"name: {q(name)}\nversion: '1'\nmodels:\n  {q(name)}:\n    +tags: [{q(text)}]\n",
            "models/ok.sql": "select 1 as id",
            f"models/{node}.sql": "select * from {{ ref('ok') }}",
            "models/schema.yml": f"version: 2\nmodels:\n  - name: {q(node)}\n    description: {q(text)}\n"
            f"    columns:\n      - name: id\n        description: {q(text)}\n        data_tests: [not_null]\n",
            f"tests/{node}_test.sql": "select * from {{ ref(" + repr(node) + ") }} where id is null",
            # an installed package under a folder named by the text, its test given the text as an argument
            f"dbt_packages/{node}_pkg/dbt_project.yml": "name: tools\n",
            f"dbt_packages/{node}_pkg/macros/holds.sql": "{% test holds(model, expression) %}select * from {{ model }} where not ({{ expression }}){% endtest %}",
            "models/tests.yml": f"version: 2\nmodels:\n  - name: {q(node)}\n    data_tests:\n      - tools.holds:\n"
            f"          expression: {q('id is not null or ' + chr(39) + text.replace(chr(39), chr(39) * 2) + chr(39) + ' is null')}\n",
        }
    )


@pytest.mark.airflow
@pytest.mark.prefect
@pytest.mark.parametrize("target", ["airflow", "prefect"])
def test_a_hostile_dbt_project_adds_no_statement_either(make_project, tmp_path: Path, target: str) -> None:
    _assert_same_code(target, _dbt_project(make_project, "shop", "enriched", "plain words"), _dbt_project(make_project, HOSTILE, HOSTILE_NODE, HOSTILE), tmp_path)


def _assert_same_code(target: str, benign: Path, hostile: Path, tmp_path: Path) -> Path:
    """The hostile project's generated module runs the same code as the benign one's, and no
    comment carries its text raw; returns the hostile module."""
    [benign_module] = compile_target(target, benign, tmp_path / "benign").glob("*.py")
    [hostile_module] = compile_target(target, hostile, tmp_path / "hostile").glob("*.py")
    assert _shape(hostile_module) == _shape(benign_module)
    for comment in _comments(hostile_module):
        assert "import os" not in comment or repr(HOSTILE) in comment, comment
    assert not (Path.cwd() / "pwned").exists()
    return hostile_module
