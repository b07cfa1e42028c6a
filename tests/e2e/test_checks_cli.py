"""`ffc test` and `ffc build` through the CLI: summary shape, selection, severity, exit codes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

PROJECT = {
    "project.yml": """
        name: t
        version: '1'
        tests:
          - {type: unique, table: users, column: id, tags: [batch]}
          - {type: not_null, table: users, column: email, tags: [nightly], severity: warn}
          - {type: row_count_between, table: other, min: 1, tags: [batch]}
    """,
    "profiles.yml": "default:\n  engine: duckdb\n  duckdb: {path: w.duckdb}\n",
    "seeds/users_raw.csv": "id,email\n1,a@x.io\n1,\n2,b@x.io\n",
    "models/users.ff.sql": "select * from {{ ref('users_raw') }}",
    "models/after_users.ff.sql": "select count(*) as n from {{ ref('users') }}",
    "models/other.ff.sql": "select 1 as x",
    "models/after_other.ff.sql": "select * from {{ ref('other') }}",
}


def test_example_checks_pass(example_copy, ffc) -> None:
    project = example_copy("simple_duckdb")
    assert ffc("run", project, "--env", "dev").exit_code == 0
    result = ffc("test", project, "--env", "dev", "--select", "batch")
    assert result.exit_code == 0, result.output
    assert "Data Quality Summary\n────────────────────\n" in result.stdout
    assert "Totals\n──────\n✓ passed: 7\n✗ failed: 0\n" in result.stdout


def test_failing_check_exits_2_with_reason_and_warnings_do_not_fail(make_project, ffc) -> None:
    project = make_project(PROJECT)
    assert ffc("run", project).exit_code == 0
    result = ffc("test", project, "--jobs", "2")
    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    failed = lines.index(next(line for line in lines if line.startswith("❌ unique")))
    assert "users.id" in lines[failed] and lines[failed].rstrip().endswith("ms)")
    assert lines[failed + 1] == "   ↳ users.id has 1 duplicate"
    assert "⚠️ not_null" in result.stdout and "users.email has 1 null value (warning)" in result.stdout
    assert "✓ passed: 1\n✗ failed: 1\n⚠ warned: 1" in result.stdout

    warn_only = ffc("test", project, "--select", "nightly")
    assert warn_only.exit_code == 0 and "⚠ warned: 1" in warn_only.stdout
    by_tag = ffc("test", project, "--select", "tag:batch")
    assert "not_null" not in by_tag.stdout and by_tag.exit_code == 2
    unknown = ffc("test", project, "--select", "nope")
    assert unknown.exit_code == 0 and "no check matches" in unknown.stderr  # a warning, as in dbt


def test_build_runs_checks_after_each_node_and_stops_descendants_of_a_failed_check(make_project, ffc) -> None:
    project = make_project(PROJECT)
    result = ffc("build", project)
    assert result.exit_code == 2, result.output
    assert "SKIP  after_users.ff - SKIPPED (upstream check failed: unique_users_id)" in result.stdout
    assert "OK    after_other.ff" in result.stdout
    out = result.stdout
    assert out.index("OK    users.ff") < out.index("FAIL  check unique_users_id") < out.index("after_users.ff")
    assert "4 built, 0 failed, 1 skipped" in out


def test_build_with_a_failing_model_exits_1(make_project, ffc) -> None:
    project = make_project({**PROJECT, "models/other.ff.sql": "select nope"})
    result = ffc("build", project)
    assert result.exit_code == 1
