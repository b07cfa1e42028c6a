"""dbt behaviours FlowForge once got silently wrong, held to what dbt-core 1.11 with dbt-duckdb
did with the same projects (tests/fixtures/dbt/edge_cases, recorded by hand with
record_edge_cases.py into edge_cases_expected/; dbt is never called here).

Where dbt builds, `ffc build` builds the same relations, columns, types and rows. Where dbt
refuses the project, ffc refuses it with exit 1 and names what dbt's message names. Two cases
differ on purpose, and say why below."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e
FIXTURES = REPO / "tests" / "fixtures" / "dbt"
CASES = sorted(p.name for p in (FIXTURES / "edge_cases").iterdir() if p.is_dir())

# What dbt's error and ffc's both name, per project dbt refuses.
BOTH_NAME = {
    "duplicate_macros": ["cents", "macros/a.sql", "macros/b.sql"],
    "model_paths_string": ["model-paths", "models"],
    "undefined_var_in_config": ["undefined"],
    "relations_differing_in_case": ["Users2", "users2"],
}
# Where ffc refuses on purpose what dbt does otherwise: why, and what ffc's error says.
DIFFERS = {
    # dbt builds `Users2`, then fails `users2` (exit 1) with one of the two relations built;
    # ffc refuses both before building anything, so no run leaves half of such a pair.
    "relations_differing_in_case": ["'Users2' and 'users2' would build one relation"],
    # dbt loads `"alice` (the quote kept as text) and goes on; ffc refuses a quote that is never
    # closed, naming the line, since a CSV reader that closes it later joins rows silently.
    "seed_unbalanced_quote": ["seeds/people.csv:2", "never closed"],
}


# How ffc's build output names a check's outcome, for dbt's statuses, and its id for dbt's name.
TEST_OUTPUT = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}
MODEL_OUTPUT = {"success": "OK", "error": "ERROR", "skipped": "SKIP"}
CHECK_IDS: dict[str, str] = {"count_is_the_warehouses_kinds_pivot_": "count_is_the_warehouses_kinds_pivot"}  # dbt ends a model-level test's name with _
# Tests a templated `enabled:` turns off: neither dbt nor ffc runs them.
DISABLED = {"templated_test_config": ["not_null_m_id"]}


def dbt_did(case: str) -> dict:
    return json.loads((FIXTURES / "edge_cases_expected" / f"{case}.json").read_text(encoding="utf-8"))


def relations(db: Path) -> dict[str, dict]:
    """Every relation FlowForge built (not its own `_ff_` tables), as the recording reads dbt's."""
    if not db.exists():
        return {}
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute("select table_name, table_type from information_schema.tables where table_schema = 'main' order by 1").fetchall()
        return {
            name: {
                "kind": "view" if kind == "VIEW" else "table",
                "columns": [[c, t] for c, t, *_ in con.execute(f'describe "{name}"').fetchall()],
                "rows": [list(map(str, row)) for row in con.execute(f'select * from "{name}" order by all').fetchall()],
            }
            for name, kind in found
            if not name.startswith("_ff_")
        }


# What ffc cannot do yet: the case fails until it does (strict), and then this entry goes.
NOT_YET: dict[str, str] = {}


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=pytest.mark.xfail(reason=NOT_YET[c], strict=True)) if c in NOT_YET else c for c in CASES]
)
def test_ffc_does_what_dbt_did(case: str, tmp_path: Path, ffc) -> None:
    project = tmp_path / case
    shutil.copytree(FIXTURES / "edge_cases" / case, project)
    expected = dbt_did(case)
    extra = (project / "build_args").read_text().split() if (project / "build_args").exists() else []  # as the recording gave dbt build
    result = ffc("build", project, *extra, cwd=project)
    output = result.stdout + result.stderr
    if case in DIFFERS:
        assert result.exit_code == 1, output
        for words in DIFFERS[case]:
            assert words in output, output
        assert relations(project / "edge.duckdb") == {}  # refused before anything was built
        return
    failing = [test for test, status in {**expected["results"], **expected.get("unit_tests", {})}.items() if status in ("fail", "error")]
    failed_models = [model for model, status in expected.get("models", {}).items() if status == "error"]
    if expected["exit"] != 0 and not failing and not failed_models:  # dbt refused the project
        assert result.exit_code == 1, output
        message = "\n".join(expected["error"])
        for name in BOTH_NAME[case]:
            assert name in message, f"dbt's recorded error does not name {name!r}: re-record or fix BOTH_NAME"
            assert name in output, output
        return
    # dbt exits 1 for a failed model or test; ffc's code for a failed test is 2
    assert result.exit_code == (1 if failed_models else 2 if failing else 0), output
    assert relations(project / "edge.duckdb") == expected["relations"]
    for model, status in expected.get("models", {}).items():  # each model as dbt ended it: built, failed, or skipped after a failure
        assert re.search(rf"\b{MODEL_OUTPUT[status]}\s+{re.escape(model)} - ", output), (model, status, output)
    for test, status in expected["results"].items():  # each test as dbt ended it: pass, warn or fail
        assert re.search(rf"{TEST_OUTPUT[status]}\s+check {re.escape(CHECK_IDS.get(test, test))}\b", output), (test, status, output)
    for test, status in expected.get("unit_tests", {}).items():  # run before their model, as dbt build runs them; none after one fails
        shown = re.search(rf"(PASS|FAIL)\s+check {re.escape(test)}\b", output)
        assert (shown.group(1) if shown else "skipped") == {"pass": "PASS", "fail": "FAIL"}.get(status, "skipped"), (test, status, output)
    for test in DISABLED.get(case, ()):
        assert test not in output, output


def test_a_test_reading_no_model_runs_in_a_whole_build_not_in_a_selection(tmp_path: Path, ffc) -> None:
    """As `dbt build --select m`, which leaves out a singular test that refs nothing."""
    project = tmp_path / "singular"
    shutil.copytree(FIXTURES / "edge_cases" / "singular_test_reading_no_table", project)
    selected = ffc("build", project, "--select", "m", cwd=project)
    assert selected.exit_code == 0 and "always_fails" not in selected.output, selected.output
    assert ffc("test", project, cwd=project).exit_code == 2  # `ffc test` runs it, as `dbt test` does


def test_every_refusal_dbt_recorded_is_checked() -> None:
    refused = {
        case for case in CASES
        if dbt_did(case)["exit"] != 0
        and not {"fail", "error"} & {*dbt_did(case)["results"].values(), *dbt_did(case).get("models", {}).values(), *dbt_did(case).get("unit_tests", {}).values()}
    }  # fmt: skip
    assert refused == set(BOTH_NAME), "a case dbt refuses needs the names both errors share"


def test_ffc_plan_names_the_models_rendered_at_run_time_and_why(tmp_path: Path, ffc) -> None:
    project = tmp_path / "run_time"
    shutil.copytree(FIXTURES / "edge_cases" / "run_time_rendering", project)
    result = ffc("plan", project, cwd=project)
    assert result.exit_code == 0, result.output
    assert re.search(r"kinds_pivot\s+build\s+renders at run time, reading the warehouse", result.stdout), result.stdout
    assert "Rendered at run time, in their tasks" in result.stdout
    assert re.search(r"fails_when_run\s+models/fails_when_run\.sql:2: fails_when_run fails when it runs", result.stdout), result.stdout
    assert re.search(r"numeric_columns\s+models/numeric_columns\.sql:\d+: ", result.stdout), result.stdout
    assert not re.search(r"^independent\s+models/", result.stdout, re.MULTILINE)


def test_fail_fast_stops_a_dbt_projects_build_at_its_first_failure(tmp_path: Path, ffc) -> None:
    """As `dbt build --fail-fast`; without it only the failed model's descendants are skipped."""
    project = tmp_path / "run_time"
    shutil.copytree(FIXTURES / "edge_cases" / "run_time_rendering", project)
    result = ffc("build", project, "--fail-fast", cwd=project)
    assert result.exit_code == 1, result.output
    assert re.search(r"SKIP\s+independent - SKIPPED \(cancelled: fails_when_run failed\)", result.stdout), result.stdout


def test_ffc_utest_runs_a_dbt_projects_unit_tests_each_alone(tmp_path: Path, ffc) -> None:
    """Beside `ffc build`, which runs them before their model as `dbt build` does (the case above),
    `ffc utest` runs every one of them, as `dbt test --select test_type:unit` would."""
    project = tmp_path / "unit"
    shutil.copytree(FIXTURES / "edge_cases" / "unit_tests", project)
    result = ffc("utest", project, cwd=project)
    assert result.exit_code == 2, result.output
    for case in ("valid_emails_are_told_apart", "amounts_double", "totals_count_valid_customers"):
        assert re.search(rf"{case}\n\s+✅ passed", result.stdout), result.stdout
    assert re.search(r"a_wrong_expectation_fails\n\s+❌ rows differ", result.stdout), result.stdout
