"""dbt behaviours FlowForge once got silently wrong, held to what dbt-core 1.11 with dbt-duckdb
did with the same projects (tests/fixtures/dbt/edge_cases, recorded by hand with
record_edge_cases.py into edge_cases_expected/; dbt is never called here).

Where dbt builds, `ffc build` builds the same relations, columns, types and rows. Where dbt
refuses the project, ffc refuses it with exit 1 and names what dbt's message names. Two cases
differ on purpose, and say why below."""

from __future__ import annotations

import json
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


def dbt_did(case: str) -> dict:
    return json.loads((FIXTURES / "edge_cases_expected" / f"{case}.json").read_text(encoding="utf-8"))


def relations(db: Path) -> dict[str, dict]:
    """Every relation FlowForge built (not its own `_ff_` tables), as the recording reads dbt's."""
    if not db.exists():
        return {}
    with duckdb.connect(str(db), read_only=True) as con:
        names = [n for (n,) in con.execute("select table_name from information_schema.tables where table_schema = 'main' order by 1").fetchall()]
        return {
            name: {
                "columns": [[c, t] for c, t, *_ in con.execute(f'describe "{name}"').fetchall()],
                "rows": [list(map(str, row)) for row in con.execute(f'select * from "{name}" order by all').fetchall()],
            }
            for name in names
            if not name.startswith("_ff_")
        }


@pytest.mark.parametrize("case", CASES)
def test_ffc_does_what_dbt_did(case: str, tmp_path: Path, ffc) -> None:
    project = tmp_path / case
    shutil.copytree(FIXTURES / "edge_cases" / case, project)
    expected = dbt_did(case)
    result = ffc("build", project, cwd=project)
    output = result.stdout + result.stderr
    if case in DIFFERS:
        assert result.exit_code == 1, output
        for words in DIFFERS[case]:
            assert words in output, output
        assert relations(project / "edge.duckdb") == {}  # refused before anything was built
        return
    if expected["exit"] != 0:
        assert result.exit_code == 1, output
        message = "\n".join(expected["error"])
        for name in BOTH_NAME[case]:
            assert name in message, f"dbt's recorded error does not name {name!r}: re-record or fix BOTH_NAME"
            assert name in output, output
        return
    assert result.exit_code == 0, output
    assert relations(project / "edge.duckdb") == expected["relations"]


def test_every_refusal_dbt_recorded_is_checked() -> None:
    refused = {case for case in CASES if dbt_did(case)["exit"] != 0}
    assert refused == set(BOTH_NAME), "a case dbt refuses needs the names both errors share"
