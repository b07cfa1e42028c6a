"""`ffc run-operation`, held to what `dbt run-operation` did with tests/fixtures/dbt/operations
(operations_expected.json, recorded by hand with dbt-core 1.11; dbt is never called here)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.test_dbt_edge_cases import relations

pytestmark = pytest.mark.e2e
FIXTURES = REPO / "tests" / "fixtures" / "dbt"


def test_a_macro_runs_its_statements_on_the_warehouse_as_dbts_run_operation_does(tmp_path: Path, ffc) -> None:
    expected = json.loads((FIXTURES / "operations_expected.json").read_text(encoding="utf-8"))
    project = tmp_path / "operations"
    shutil.copytree(FIXTURES / "operations", project)
    result = ffc("run-operation", "make_lookup", project, "--args", "{n: 3, name: lookup}", cwd=project)
    assert result.exit_code == expected["exit"], result.output
    assert expected["log"] in result.output
    assert relations(project / "edge.duckdb") == {n: {"kind": "table", **r} for n, r in expected["relations"].items()}
    again = ffc("run-operation", "make_lookup", project, "--args", "{n: 1, name: lookup}", cwd=project)  # it drops and makes the table again
    assert again.exit_code == 0 and relations(project / "edge.duckdb")["lookup"]["rows"] == [["0", "row 0"]]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["no_such_macro"], "no macro named 'no_such_macro'"),
        (["make_lookup", "--args", "[1, 2]"], "--args must be a mapping"),
        (["make_lookup", "--args", "{n: 2, name: \"x'; drop table lookup; --\"}"], ""),
    ],
)
def test_a_bad_operation_fails_alone_and_a_hostile_argument_stays_a_name(tmp_path: Path, ffc, arguments: list[str], message: str) -> None:
    project = tmp_path / "operations"
    shutil.copytree(FIXTURES / "operations", project)
    assert ffc("run-operation", "make_lookup", project, "--args", "{n: 2}", cwd=project).exit_code == 0
    result = ffc("run-operation", arguments[0], project, *arguments[1:], cwd=project)
    if message:
        assert result.exit_code == 1 and message in result.output, result.output
    else:  # adapter.quote() makes the name one identifier: a table of that odd name, and lookup untouched
        assert result.exit_code == 0, result.output
        assert set(relations(project / "edge.duckdb")) == {"lookup", "x'; drop table lookup; --"}
