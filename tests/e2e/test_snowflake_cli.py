"""`ffc` on a Snowflake profile as users run it, each command a process of its own, against the
suite's fakesnow server (Snowflake's HTTP API on DuckDB; no test reaches Snowflake): a build
with a Snowpark Python model, a seed and checks, a no-op re-run, `ffc show`, and `ffc utest`
in a throw-away schema."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import snowflake_profiles_yml

pytestmark = [pytest.mark.snowflake, pytest.mark.e2e]

PROJECT = {
    "project.yml": (
        "name: sf_demo\nversion: '1'\ntests:\n"
        "  - {type: not_null, table: users, column: email}\n"
        "  - {type: unique, table: users, column: id}\n"
        "  - {type: accepted_values, table: enriched, column: is_gmail, values: [true, false]}\n"
    ),
    "seeds/raw_users.csv": "id,email\n1, A@Gmail.com\n2,b@example.com\n",
    "models/users.ff.sql": "select id, lower(trim(email)) as email from {{ ref('raw_users') }}",
    "models/enriched.ff.py": (
        "from flowforge_compiler import model\n"
        "from snowflake.snowpark.functions import col\n"
        "@model(name='enriched', deps=['users.ff'], requires={'users': {'id', 'email'}})\n"
        "def enriched(users):\n"
        "    return users.with_column('is_gmail', col('email').endswith('@gmail.com'))\n"
    ),
    "tests/unit/users.yml": (
        "model: users.ff\n"
        "cases:\n"
        "  - name: trims_and_lowers\n"
        "    inputs:\n      raw_users: {rows: [{id: 7, email: ' X@Y.io '}]}\n"
        "    expect:\n      rows: [{id: 7, email: x@y.io}]\n"
    ),
}


def test_a_snowflake_project_builds_reruns_as_a_no_op_shows_and_unit_tests(make_project, ffc, fakesnow_server) -> None:
    root = make_project({**PROJECT, "profiles.yml": snowflake_profiles_yml(fakesnow_server, f"ff_cli_{uuid.uuid4().hex[:8]}")})
    first = ffc("build", root)
    assert first.exit_code == 0, first.output
    assert "3 built, 0 failed" in first.stdout and "passed: 3" in first.stdout
    second = ffc("run", root)
    assert second.exit_code == 0 and "0 built, 0 failed, 3 skipped (3 cached)" in second.stdout, second.output
    shown = ffc("show", root, "enriched")
    assert shown.exit_code == 0, shown.output
    assert "a@gmail.com" in shown.stdout and "IS_GMAIL" in shown.stdout
    unit = ffc("utest", root)
    assert unit.exit_code == 0 and "Unit tests: 1 passed, 0 failed" in unit.stdout, unit.output
