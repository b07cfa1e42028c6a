"""Which failures orchestrators retry: errors raised by real engines, classified."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from flowforge_compiler import errors
from flowforge_compiler.errors import FlowForgeError, ModelBuildError, ProjectFileError
from flowforge_compiler.profiles import resolve_profile
from runtime import open_executor, run_node
from runtime.failures import is_transient
from tests.compiler.helpers import compile_dir
from tests.runtime.helpers import lock_held


def build_error(root: Path, environ: dict[str, str], node: str) -> BaseException:
    profile = resolve_profile(root, None, environ=environ)
    plan = compile_dir(root, environ=environ)
    with pytest.raises(FlowForgeError) as info, open_executor(profile) as executor:
        for level in plan.levels:
            for node_id in level:
                run_node(plan, node_id, executor=executor, root=root)
    assert info.value.__class__ is not FlowForgeError
    return info.value


def test_sql_errors_on_duckdb_fail_at_once(make_project, tmp_path: Path) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as id", "models/b.ff.sql": "select missing_column from {{ ref('a') }}"})
    error = build_error(root, {"FF_DUCKDB_PATH": str(tmp_path / "w.duckdb")}, "b.ff")
    assert isinstance(error, ModelBuildError) and not is_transient(error)


def test_a_duckdb_file_another_process_holds_is_worth_retrying(tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    profile = resolve_profile(tmp_path, None, environ={"FF_DUCKDB_PATH": str(db)})
    with lock_held(db, 30), pytest.raises(FlowForgeError, match="locked by another process") as info:
        open_executor(profile, lock_timeout=0.2).__enter__()
    assert is_transient(info.value)


def test_project_and_check_failures_fail_at_once() -> None:
    assert not is_transient(ProjectFileError("models/a.ff.sql: syntax error"))
    assert not is_transient(errors.TestFailureError("data-quality checks failed"))
    assert not is_transient(ValueError("a bug in a Python model"))


def test_a_transient_cause_anywhere_in_the_chain_counts() -> None:
    try:
        try:
            raise psycopg.errors.SerializationFailure("could not serialize access")
        except psycopg.Error as cause:
            raise ModelBuildError("a.ff", "models/a.ff.sql", "postgres", str(cause)) from cause
    except ModelBuildError as error:
        assert is_transient(error)
    assert not is_transient(psycopg.errors.UndefinedColumn("column x does not exist"))
    assert not is_transient(psycopg.errors.SyntaxError("syntax error at or near"))
    assert is_transient(ConnectionResetError("peer reset"))


@pytest.mark.postgres
def test_postgres_errors_are_told_apart(make_project, pg_dsn: str, pg_schema: str) -> None:
    refused = "postgresql+psycopg://nobody:x@127.0.0.1:1/none"
    root = make_project({"models/a.ff.sql": "select 1 as id", "models/b.ff.sql": "select missing_column from {{ ref('a') }}"})
    down = resolve_profile(root, None, environ={"FF_ENGINE": "postgres", "FF_PG_DSN": refused})
    with pytest.raises(FlowForgeError, match="connection refused") as info:
        open_executor(down).__enter__()
    assert is_transient(info.value)  # a server that is restarting comes back

    user, rest = pg_dsn.split("://", 1)[1].split("@", 1)
    wrong = f"postgresql+psycopg://{user.split(':')[0]}:not-the-password@{rest}"
    denied = resolve_profile(root, None, environ={"FF_ENGINE": "postgres", "FF_PG_DSN": wrong})
    with pytest.raises(FlowForgeError, match="authentication failed") as info:
        open_executor(denied).__enter__()
    assert not is_transient(info.value)

    error = build_error(root, {"FF_ENGINE": "postgres", "FF_PG_DSN": pg_dsn, "FF_PG_SCHEMA": pg_schema}, "b.ff")
    assert isinstance(error, ModelBuildError) and not is_transient(error)
