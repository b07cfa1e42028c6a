"""The bundle beside generated code: the files tasks need, and a profile without secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.compile import compile_project
from flowforge_compiler.project import load_project
from targets.bundle import write_bundle
from targets.output import OutputFolder
from tests.conftest import EXAMPLES

PROFILES = """
default:
  engine: duckdb
prod:
  engine: postgres
  postgres:
    dsn: "postgresql+psycopg://app:hunter2@db.internal:5432/ff"
    db_schema: "{{ env_var('PROD_SCHEMA', 'analytics') }}"
other:
  engine: duckdb
  duckdb: {path: other.duckdb}
"""


def test_bundle_holds_plan_models_seeds_and_only_the_profile(tmp_path: Path) -> None:
    project = load_project(EXAMPLES / "simple_duckdb")
    profile = resolve_profile(project.root, "dev")
    plan = compile_project(project, profile)
    bundle = write_bundle(plan, project.root, OutputFolder(tmp_path), "b", profile)
    files = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    assert files == [
        ".flowforge-bundle",
        "models/mart_orders_enriched.ff.py",
        "models/users_enriched.ff.py",
        "plan.json",
        "profiles.yml",
        "seeds/seed_orders.csv",
        "seeds/seed_users.csv",
    ]
    assert list(yaml.safe_load((bundle / "profiles.yml").read_text())) == ["dev"]


def test_literal_secrets_never_reach_the_bundle(make_project, tmp_path: Path, caplog) -> None:
    root = make_project({"profiles.yml": PROFILES, "models/a.ff.sql": "select 1"})
    project = load_project(root)
    profile = resolve_profile(root, "prod", environ={})
    plan = compile_project(project, profile)
    bundle = write_bundle(plan, project.root, OutputFolder(tmp_path), "b", profile)
    text = "".join(p.read_text() for p in bundle.rglob("*") if p.is_file())
    assert "hunter2" not in text
    profile = yaml.safe_load((bundle / "profiles.yml").read_text())["prod"]["postgres"]
    assert profile["dsn"] == "postgresql+psycopg://app:{{ env_var('FF_PROD_POSTGRES_DSN_PASSWORD') }}@db.internal:5432/ff"
    assert profile["db_schema"] == "analytics"  # not a secret: fixed as the compile resolved it
    assert "FF_PROD_POSTGRES_DSN_PASSWORD" in caplog.text
    worker = resolve_profile(bundle, "prod", environ={"FF_PROD_POSTGRES_DSN_PASSWORD": "from-env"})
    assert worker.engine_settings.dsn == "postgresql+psycopg://app:from-env@db.internal:5432/ff"


def test_refuses_to_replace_a_folder_that_is_not_a_bundle(make_project, tmp_path: Path) -> None:
    root = make_project({"models/a.ff.sql": "select 1", "profiles.yml": PROFILES})
    project = load_project(root)
    profile = resolve_profile(root, "other", environ={})
    plan = compile_project(project, profile)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(ProjectFileError, match="not a FlowForge bundle"):
        write_bundle(plan, project.root, OutputFolder(tmp_path), "precious", profile)
    assert (precious / "notes.txt").exists()
    write_bundle(plan, project.root, OutputFolder(tmp_path), "b", profile)
    write_bundle(plan, project.root, OutputFolder(tmp_path), "b", profile)  # replacing its own bundle is fine


@pytest.mark.parametrize(
    ("dsn", "secret", "variables"),
    [
        ("postgresql://app:hunter2@db:5432/ff", "hunter2", ["FF_PROD_POSTGRES_DSN_PASSWORD"]),
        ("postgresql://app:hu@n:t/er2@db:5432/ff", "hu@n:t/er2", ["FF_PROD_POSTGRES_DSN_PASSWORD"]),
        ("postgresql://app@db:5432/ff?sslmode=require&password=hunter2", "hunter2", ["FF_PROD_POSTGRES_DSN_PASSWORD"]),
        ("postgresql://app:hunter2@{{ env_var('PGHOST') }}:5432/ff", "hunter2", ["FF_PROD_POSTGRES_DSN_PASSWORD", "PGHOST"]),
    ],
)
def test_no_password_form_reaches_the_bundle(make_project, tmp_path: Path, caplog, dsn: str, secret: str, variables) -> None:
    profiles = f"prod:\n  engine: postgres\n  postgres:\n    dsn: \"{dsn}\"\n"
    root = make_project({"profiles.yml": profiles, "models/a.ff.sql": "select 1"})
    project = load_project(root)
    profile = resolve_profile(root, "prod", environ={})
    plan = compile_project(project, profile, environ={})
    bundle = write_bundle(plan, project.root, OutputFolder(tmp_path), "b", profile)
    text = "".join(p.read_text() for p in bundle.rglob("*") if p.is_file())
    assert secret not in text and "er2" not in text
    assert variables[0] in caplog.text  # the compile says which variable to set on the workers
    worker = resolve_profile(bundle, "prod", environ={variables[0]: secret, "PGHOST": "db"})
    from flowforge_compiler.dsn import parse_dsn

    parsed = parse_dsn(worker.engine_settings.dsn, "dsn")
    assert (parsed.password or dict(parsed.query).get("password")) == secret and parsed.host == "db"


def test_a_bundle_names_no_path_of_the_compiling_machine_and_finds_the_project_beside_it(tmp_path: Path) -> None:
    """Relative paths (the DuckDB file, a stream's files and their folder) are written relative
    to the bundle, so the bundle works wherever the project and the DAGs folder sit side by
    side; the stream task reads the events and rejects a link out of the events folder."""
    import json
    import shutil

    import duckdb

    from runtime.bundle import run_bundle_node

    project = tmp_path / "checkout" / "streaming"
    shutil.copytree(EXAMPLES / "streaming", project, ignore=shutil.ignore_patterns(".local", ".flowforge"))
    (project / "events" / "linked.jsonl").symlink_to(tmp_path / "secret.jsonl")
    (tmp_path / "secret.jsonl").write_text(json.dumps({"user_id": "intruder", "ts": 1767225600}) + "\n")
    (project / "project.yml").write_text((project / "project.yml").read_text().replace("events/events.jsonl", "events/*.jsonl"))
    profile = resolve_profile(project, "dev")
    plan = compile_project(load_project(project), profile)
    bundle = write_bundle(plan, project, OutputFolder(project / "dags"), "streaming", profile)
    for path in bundle.rglob("*"):
        if path.is_file():
            assert str(tmp_path) not in path.read_text(encoding="utf-8", errors="replace"), path
    assert yaml.safe_load((bundle / "profiles.yml").read_text())["dev"]["duckdb"]["path"] == "../../.local/streaming.duckdb"

    moved = tmp_path / "elsewhere" / "streaming"  # another checkout, the same layout
    shutil.copytree(project, moved, symlinks=True)
    result = run_bundle_node(moved / "dags" / "streaming", "fct_sessions_streaming")
    assert result["status"] == "built"
    with duckdb.connect(str(moved / ".local" / "streaming.duckdb"), read_only=True) as con:
        users = {u for (u,) in con.execute("select distinct user_id from fct_sessions_streaming").fetchall()}
    assert users and "intruder" not in users
    assert not (project / ".local" / "streaming.duckdb").exists()  # the first checkout was not touched
