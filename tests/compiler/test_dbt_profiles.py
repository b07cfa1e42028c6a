"""dbt's profiles.yml, where dbt users keep it, read into FlowForge profiles (dbt_profiles.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from flowforge_compiler.dsn import parse_dsn
from flowforge_compiler.errors import ProfileError
from flowforge_compiler.profiles import resolve_profile
from targets.bundle import bundle_profile_text

DBT_PROJECT = "name: shop\nversion: '1'\nprofile: shop_profile\n"


def profiles(path: str = "warehouse.duckdb", *, target: str = "dev") -> str:
    return f"""
shop_profile:
  target: {target}
  outputs:
    dev:
      type: duckdb
      path: {path}
      threads: 4
    prod:
      type: postgres
      host: db.internal
      user: "analyst@corp"
      password: "{{{{ env_var('DBT_PASSWORD') }}}}"
      port: 6543
      dbname: analytics
      schema: marts
      sslmode: require
      threads: 8
"""


@pytest.fixture
def dbt_project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "dbt_project.yml").write_text(DBT_PROJECT)
    return root


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(text)
    return folder


def test_the_profile_dbt_project_yml_names_and_its_default_target(dbt_project: Path) -> None:
    write(dbt_project, profiles())
    profile = resolve_profile(dbt_project, None, environ={})
    assert (profile.name, profile.engine) == ("dev", "duckdb")
    assert profile.engine_settings.path == str(dbt_project / "warehouse.duckdb")  # relative to the project
    assert profile.threads == 4 and profile.engine_settings.threads is None  # dbt's threads: models at once, not DuckDB's own
    assert profile.target().name == "dev"


def test_target_picks_an_output_and_postgres_parts_become_one_dsn(dbt_project: Path) -> None:
    write(dbt_project, profiles())
    profile = resolve_profile(dbt_project, "prod", environ={"DBT_PASSWORD": "p@ss:w/rd?x=1"})
    assert (profile.name, profile.engine, profile.engine_settings.db_schema) == ("prod", "postgres", "marts")
    dsn = parse_dsn(profile.engine_settings.dsn, "test")
    assert (dsn.username, dsn.password, dsn.host, dsn.port, dsn.database) == ("analyst@corp", "p@ss:w/rd?x=1", "db.internal", 6543, "analytics")
    assert dict(dsn.query) == {"sslmode": "require"}
    assert profile.target().database == "analytics"


def test_an_unset_password_waits_for_the_worker_and_never_enters_the_bundle(dbt_project: Path, tmp_path: Path) -> None:
    write(dbt_project, profiles())
    waiting = resolve_profile(dbt_project, "prod", environ={})
    assert waiting.unresolved == {"postgres.dsn": "DBT_PASSWORD"}
    with pytest.raises(ProfileError, match="DBT_PASSWORD"):
        waiting.require_resolved()
    known = resolve_profile(dbt_project, "prod", environ={"DBT_PASSWORD": "hunter2-secret"})
    text = bundle_profile_text(known, dbt_project, tmp_path / "bundle")
    assert "hunter2" not in text and "env_var('DBT_PASSWORD')" in text
    # the worker renders the bundle's template into the same DSN
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "profiles.yml").write_text(text)
    worker = resolve_profile(tmp_path / "bundle", "prod", environ={"DBT_PASSWORD": "hunter2-secret"}, profiles_path=tmp_path / "bundle" / "profiles.yml", overrides=False)
    assert worker.engine_settings.dsn == known.engine_settings.dsn


def test_a_port_from_a_variable_is_read_where_the_profile_is_rendered(dbt_project: Path) -> None:
    write(dbt_project, profiles().replace("port: 6543", "port: \"{{ env_var('DBT_PORT') | as_number }}\""))
    dsn = parse_dsn(resolve_profile(dbt_project, "prod", environ={"DBT_PASSWORD": "x", "DBT_PORT": "6544"}).engine_settings.dsn, "test")
    assert dict(dsn.query)["port"] == "6544"


def test_where_profiles_yml_is_found_in_dbts_order(dbt_project: Path, tmp_path: Path) -> None:
    home, env_dir, flag_dir = tmp_path / "home", tmp_path / "env", tmp_path / "flag"
    write(home / ".dbt", profiles("home.duckdb"))
    assert resolve_profile(dbt_project, None, environ={"HOME": str(home)}).engine_settings.path.endswith("home.duckdb")
    write(dbt_project, profiles("project.duckdb"))
    assert resolve_profile(dbt_project, None, environ={"HOME": str(home)}).engine_settings.path.endswith("project.duckdb")
    write(env_dir, profiles("env.duckdb"))
    environ = {"HOME": str(home), "DBT_PROFILES_DIR": str(env_dir)}
    assert resolve_profile(dbt_project, None, environ=environ).engine_settings.path.endswith("env.duckdb")
    write(flag_dir, profiles("flag.duckdb"))
    assert resolve_profile(dbt_project, None, environ=environ, profiles_dir=flag_dir).engine_settings.path.endswith("flag.duckdb")


def test_no_dbt_profiles_means_an_in_memory_duckdb_unless_a_target_is_asked_for(dbt_project: Path, tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path / "nobody")}
    assert resolve_profile(dbt_project, None, environ=environ).engine_settings.path == ":memory:"
    with pytest.raises(ProfileError, match="target 'prod' requested but no dbt profiles.yml"):
        resolve_profile(dbt_project, "prod", environ=environ)
    with pytest.raises(ProfileError, match="holds no profiles.yml"):
        resolve_profile(dbt_project, None, environ={"DBT_PROFILES_DIR": str(tmp_path / "nowhere")})


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        (profiles(), "staging", r"has no output 'staging' \(outputs: dev, prod\)"),
        (profiles().replace("shop_profile:", "other:"), None, r"no profile 'shop_profile' with outputs .*defined: other"),
        (profiles().replace("type: duckdb", "type: trino"), None, r"type 'trino', which FlowForge cannot read(.|\n)*bigquery, duckdb, postgres, snowflake"),
        (profiles().replace("  target: dev\n", ""), None, "names no default target"),
    ],
)
def test_bad_dbt_profiles_say_what_is_wrong_and_where(dbt_project: Path, text: str, target: str | None, message: str) -> None:
    write(dbt_project, text)
    with pytest.raises(ProfileError, match=message) as error:
        resolve_profile(dbt_project, target, environ={})
    assert error.value.location is not None and error.value.location.path == "profiles.yml"


def test_keys_flowforge_does_not_read_are_named(dbt_project: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(dbt_project, profiles().replace("threads: 4", "threads: 4\n      extensions: [httpfs]\n      schema: analytics"))
    with caplog.at_level(logging.WARNING, logger="flowforge"):
        resolve_profile(dbt_project, None, environ={})
    assert "extensions, schema not read by FlowForge's duckdb engine" in caplog.text


def test_a_flowforge_project_reads_profiles_yml_from_profiles_dir(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "project.yml").write_text("name: p\nversion: '1'\n")
    folder = write(tmp_path / "elsewhere", "dev:\n  engine: duckdb\n  duckdb: {path: /tmp/elsewhere.duckdb}\n")
    assert resolve_profile(root, "dev", environ={}, profiles_dir=folder).engine_settings.path == "/tmp/elsewhere.duckdb"


def test_hostile_parts_of_a_dbt_output_stay_inside_their_part_of_the_url(dbt_project: Path) -> None:
    hostile = profiles().replace("host: db.internal", "host: \"evil.example/x?sslmode=disable#\"").replace("dbname: analytics", "dbname: \"a/b?c=d\"")
    write(dbt_project, hostile)
    dsn = parse_dsn(resolve_profile(dbt_project, "prod", environ={"DBT_PASSWORD": "x"}).engine_settings.dsn, "test")
    assert (dsn.host, dsn.database, dict(dsn.query)) == ("evil.example/x?sslmode=disable#", "a/b?c=d", {"sslmode": "require"})


def test_bigquery_and_snowflake_outputs_map_onto_their_engines(dbt_project: Path) -> None:
    write(dbt_project, """
shop_profile:
  target: bq
  outputs:
    bq: {type: bigquery, method: service-account-json, project: my-proj, dataset: marts, location: EU, threads: 4,
         keyfile_json: {type: service_account, private_key: "{{ env_var('BQ_KEY') }}"}}
    sf: {type: snowflake, account: xy12345, user: me, password: "{{ env_var('SF_PASSWORD') }}", role: r, warehouse: wh,
         database: DB, schema: MARTS, authenticator: externalbrowser, threads: 8}
""")
    key = '-----BEGIN PRIVATE KEY-----\nMII"x\\y\n-----END PRIVATE KEY-----\n'  # newlines, a quote, a backslash
    bq = resolve_profile(dbt_project, None, environ={"BQ_KEY": key}).engine_settings
    assert (bq.project, bq.dataset, bq.location) == ("my-proj", "marts", "EU")
    assert json.loads(bq.keyfile_json) == {"type": "service_account", "private_key": key}
    waiting = resolve_profile(dbt_project, None, environ={})
    assert waiting.unresolved == {"bigquery.keyfile_json": "BQ_KEY"}  # the key waits for the worker
    sf = resolve_profile(dbt_project, "sf", environ={"SF_PASSWORD": "pw"}).engine_settings
    assert (sf.account, sf.user, sf.password, sf.database, sf.db_schema) == ("xy12345", "me", "pw", "DB", "MARTS")
    assert sf.options == {"authenticator": "externalbrowser"}
