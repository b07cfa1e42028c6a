"""`ffc utest`: output per case, diffs, exit codes, selection, csv inputs, isolation."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

PY = "from flowforge_compiler import model\n"
PROJECT = {
    "profiles.yml": "default:\n  engine: duckdb\n  duckdb: {path: real.duckdb}\n",
    "sources.yml": "crm:\n  users: {identifier: raw_users}\n",
    "models/users.ff.sql": "select id, lower(email) as email from {{ source('crm', 'users') }}",
    "models/scored.ff.py": PY
    + "@model(name='scored', deps=['users.ff'])\ndef f(df):\n    return df.assign(score=df.id / 3)\n",
    "tests/unit/users.yml": """
        model: users.ff
        defaults:
          inputs:
            raw_users:
              rows:
                - {id: 2, email: "B@X.IO"}
                - {id: 1, email: "A@X.IO"}
          expect:
            order_by: [id]
        cases:
          - name: lowercases
            expect:
              rows:
                - {id: 1, email: "a@x.io"}
                - {id: 2, email: "b@x.io"}
          - name: wrong_on_purpose
            expect:
              rows:
                - {id: 1, email: "A@X.IO"}
                - {id: 2, email: "b@x.io"}
          - name: from_csv
            inputs:
              raw_users: {csv: users.csv}
            expect:
              subset: true
              rows:
                - {id: 7, email: "g@x.io"}
    """,
    "tests/unit/users.csv": "id,email\n7,G@X.IO\n8,H@X.IO\n",
    "tests/unit/scored.yml": """
        model: scored
        cases:
          - name: approx_per_column
            inputs:
              users: {rows: [{id: 1, email: a}]}
            expect:
              approx: {score: 0.001}
              ignore_columns: [email]
              rows: [{id: 1, email: ignored, score: 0.3333}]
          - name: forgot_an_input
            inputs:
              other: {rows: [{id: 1}]}
            expect:
              rows: [{id: 1}]
    """,
    "tests/unit/ghost.yml": "model: user\ncases:\n  - name: c\n    expect: {rows: [{id: 1}]}\n",
}


def test_cases_report_pass_fail_diff_and_exit_2(make_project, ffc) -> None:
    project = make_project(PROJECT)
    result = ffc("utest", project)
    assert result.exit_code == 2, result.output
    out = result.stdout
    assert "→ users.ff :: lowercases\n  ✅ passed" in out
    assert "→ users.ff :: from_csv\n  ✅ passed" in out
    assert "→ scored :: approx_per_column\n  ✅ passed" in out
    assert "→ users.ff :: wrong_on_purpose\n  ❌ row 1 differs\n  id,email\n- 1,A@X.IO\n+ 1,a@x.io\n" in out
    assert "→ scored :: forgot_an_input\n  ❌ the model reads users, which the case does not provide: add inputs {users: {rows: [...]}}" in out
    assert "→ user :: c\n  ❌ no model named 'user' in the project; did you mean 'users.ff'?" in out
    assert "Unit tests: 3 passed, 3 failed" in out
    assert not (project / "real.duckdb").exists()  # isolated: the profile's database is never touched


def test_selection_by_model_case_and_path(make_project, ffc) -> None:
    project = make_project(PROJECT)
    only = ffc("utest", project, "--model", "users.ff", "--case", "lowercases")
    assert only.exit_code == 0 and "Unit tests: 1 passed, 0 failed" in only.stdout
    by_relation = ffc("utest", project, "--model", "users")
    assert "Unit tests: 2 passed, 1 failed" in by_relation.stdout
    by_path = ffc("utest", project, "--path", project / "tests/unit/scored.yml")
    assert "Unit tests: 1 passed, 1 failed" in by_path.stdout and by_path.exit_code == 2
    none = ffc("utest", project, "--model", "nothing")
    assert none.exit_code == 0 and "no unit test case matches --model nothing" in none.stderr  # a warning


def test_example_unit_tests_pass(example_copy, ffc) -> None:
    result = ffc("utest", example_copy("simple_duckdb"))
    assert result.exit_code == 0, result.output
    assert "Unit tests: 4 passed, 0 failed" in result.stdout


def test_expect_from_csv_and_a_wrong_relation(make_project, ffc) -> None:
    project = make_project(
        {
            "models/m.ff.sql": "select 1 as id, 'a' as v union all select 2, 'b'",
            "tests/unit/m.yml": """
                model: m.ff
                cases:
                  - name: csv_expect
                    expect: {csv: expected.csv, order_by: [id]}
                  - name: other_relation
                    expect: {relation: not_built, rows: [{id: 1}]}
            """,
            "tests/unit/expected.csv": "id,v\n1,a\n2,b\n",
        }
    )
    result = ffc("utest", project)
    assert "→ m.ff :: csv_expect\n  ✅ passed" in result.stdout
    assert "→ m.ff :: other_relation\n  ❌ CatalogException" in result.stdout and "not_built" in result.stdout
    assert result.exit_code == 2
