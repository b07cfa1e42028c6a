"""profiles.yml: the engine union, env_var() rendering, FF_* overrides and their precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowforge_compiler.errors import ProfileError, ProjectFileError
from flowforge_compiler.profiles import resolve_profile

PROFILES = """
default:
  engine: duckdb
  duckdb: {path: ":memory:"}
dev:
  engine: duckdb
  duckdb: {path: .local/dev.duckdb}
stg:
  engine: postgres
  postgres:
    dsn: "postgresql+psycopg://app:{{ env_var('PG_PASSWORD') }}@db:5432/ff"
    db_schema: "{{ env_var('PG_SCHEMA', 'analytics') }}"
bq:
  engine: bigquery
  bigquery: {project: p, dataset: demo, location: EU}
"""


@pytest.fixture
def root(make_project) -> Path:
    return make_project({"profiles.yml": PROFILES})


def test_no_env_uses_default(root: Path) -> None:
    profile = resolve_profile(root, None, environ={})
    assert (profile.name, profile.engine, profile.engine_settings.path) == ("default", "duckdb", ":memory:")


def test_without_profiles_file_an_in_memory_duckdb(tmp_path: Path) -> None:
    profile = resolve_profile(tmp_path, None, environ={})
    assert profile.engine == "duckdb" and profile.engine_settings.path == ":memory:"


def test_relative_duckdb_path_is_relative_to_the_project(root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    profile = resolve_profile(root, "dev", environ={})
    assert Path(profile.engine_settings.path) == (root / ".local/dev.duckdb").resolve()


def test_env_var_renders_with_and_without_default(root: Path) -> None:
    profile = resolve_profile(root, "stg", environ={"PG_PASSWORD": "s3cret"})
    assert profile.engine_settings.dsn.endswith("app:s3cret@db:5432/ff")
    assert profile.engine_settings.db_schema == "analytics"


def test_missing_env_var_is_deferred_to_the_connection_and_then_named(root: Path) -> None:
    profile = resolve_profile(root, "stg", environ={})  # compiling needs no secrets
    assert profile.unresolved == {"postgres.dsn": "PG_PASSWORD"}
    assert profile.engine_settings.dsn == "postgresql+psycopg://app:{{ env_var('PG_PASSWORD') }}@db:5432/ff"
    with pytest.raises(ProfileError, match="'PG_PASSWORD' is not set .*postgres.dsn"):
        profile.require_resolved()
    from runtime import open_executor

    with pytest.raises(ProfileError, match="'PG_PASSWORD' is not set"):
        open_executor(profile)


def test_an_override_or_a_connection_settles_an_unresolved_setting(root: Path) -> None:
    profile = resolve_profile(root, "stg", environ={"FF_PG_DSN": "postgresql://h/db"})
    assert profile.unresolved == {}
    replaced = resolve_profile(root, "stg", environ={}).with_engine_settings(dsn="postgresql://h/db")
    assert replaced.unresolved == {} and replaced.engine_settings.dsn == "postgresql://h/db"


def test_location_settings_never_hold_credentials(root: Path) -> None:
    profile = resolve_profile(root, "stg", environ={"PG_PASSWORD": "s3cret"})
    assert profile.location(root) == {"host": "db", "port": "5432", "database": "ff", "db_schema": "analytics"}
    assert resolve_profile(root, "dev", environ={}).location(root) == {"path": ".local/dev.duckdb"}


def test_env_overrides_profile_and_cli_overrides_env(root: Path, tmp_path: Path) -> None:
    environ = {"FF_DUCKDB_PATH": str(tmp_path / "env.duckdb"), "PG_PASSWORD": "x"}
    assert resolve_profile(root, "dev", environ=environ).engine_settings.path == str(tmp_path / "env.duckdb")
    environ = {"FF_PG_SCHEMA": "from_env", "PG_PASSWORD": "x"}
    assert resolve_profile(root, "stg", environ=environ).engine_settings.db_schema == "from_env"
    switched = resolve_profile(root, "dev", environ={"FF_ENGINE": "postgres", "FF_PG_DSN": "postgresql://h/db"})
    assert switched.engine == "postgres" and switched.engine_settings.dsn == "postgresql://h/db"
    cli = resolve_profile(root, "stg", engine="duckdb", environ={"FF_ENGINE": "postgres", "PG_PASSWORD": "x"})
    assert cli.engine == "duckdb" and cli.engine_settings.path == ":memory:"


def test_relative_ff_duckdb_path_is_relative_to_the_working_directory(root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    profile = resolve_profile(root, "dev", environ={"FF_DUCKDB_PATH": "here.duckdb"})
    assert Path(profile.engine_settings.path) == (tmp_path / "here.duckdb").resolve()


def test_bigquery_overrides(root: Path) -> None:
    profile = resolve_profile(
        root, "bq", environ={"FF_BQ_DATASET": "d2", "FF_BQ_LOCATION": "US", "FF_BQ_USE_BIGFRAMES": "1"}
    )
    settings = profile.engine_settings
    assert (settings.dataset, settings.location, settings.use_bigframes) == ("d2", "US", True)


def test_unknown_profile_lists_the_defined_ones(root: Path) -> None:
    with pytest.raises(ProfileError, match=r"'prod' is not defined in profiles.yml \(defined: bq, default, dev, stg\)"):
        resolve_profile(root, "prod", environ={})


def test_unknown_engine_is_an_error(make_project) -> None:
    root = make_project({"profiles.yml": "default:\n  engine: oracle\n"})
    with pytest.raises((ProfileError, ProjectFileError), match="oracle"):
        resolve_profile(root, None, environ={})


def test_unknown_key_in_engine_block_lists_allowed_keys(make_project) -> None:
    root = make_project({"profiles.yml": "default:\n  engine: duckdb\n  duckdb:\n    pth: x.duckdb\n"})
    with pytest.raises(ProjectFileError) as info:
        resolve_profile(root, None, environ={})
    assert "unknown key 'pth'" in info.value.message
    assert "allowed keys: path, threads" in info.value.message
    assert info.value.render().startswith("profiles.yml:4")


def test_postgres_needs_a_dsn(make_project) -> None:
    root = make_project({"profiles.yml": "default:\n  engine: postgres\n  postgres: {db_schema: x}\n"})
    with pytest.raises(ProjectFileError, match="missing required key .*dsn"):
        resolve_profile(root, None, environ={})
