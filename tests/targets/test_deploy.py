"""Deploying a bundle: recompiling never loses data, and a bundle's settings are its own.

Tasks are run the way generated DAGs and flows run them (`runtime.bundle.run_bundle_node`), on
real DuckDB files; the Airflow-specific parts (DagBag and `.airflowignore`) are in
test_airflow.py.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from runtime.bundle import bundle_profile, load_bundle_plan, run_bundle_node
from tests.targets.generated_code import compile_target

DEV = "dev:\n  engine: duckdb\n  duckdb: {path: .local/w.duckdb}\n"


def project_with_profile(make_project, profiles: str = DEV) -> Path:
    return make_project({"models/a.ff.sql": "select 1 as v", "models/b.ff.sql": "select v + 1 as v from {{ ref('a') }}", "profiles.yml": profiles})


def run_all(bundle: Path) -> None:
    plan = load_bundle_plan(bundle)
    for level in plan.levels:
        for node_id in level:
            run_bundle_node(bundle, node_id)


@pytest.mark.parametrize("target", ["airflow", "prefect"])
def test_recompiling_keeps_the_warehouse_and_its_tables(make_project, tmp_path: Path, target: str) -> None:
    project = project_with_profile(make_project)
    out = tmp_path / "out"
    compile_target(target, project, out, env="dev")
    [bundle] = [p.parent for p in out.glob("*/.flowforge-bundle")]
    settings = yaml.safe_load((bundle / "profiles.yml").read_text())["dev"]["duckdb"]
    assert (bundle / settings["path"]).resolve() == project / ".local" / "w.duckdb"  # where `ffc run --env dev` builds
    assert not Path(settings["path"]).is_absolute()  # relative to the bundle: no path of this machine
    run_all(bundle)
    for _ in range(2):
        compile_target(target, project, out, env="dev")
    with duckdb.connect(str(project / ".local" / "w.duckdb"), read_only=True) as con:
        assert con.execute("select v from b").fetchall() == [(2,)]


def test_a_warehouse_inside_the_bundle_folder_is_refused(make_project, tmp_path: Path, ffc) -> None:
    project = project_with_profile(make_project)
    out = tmp_path / "dags"
    result = ffc("compile", project, "--target", "airflow", "--out", out, "--dag-id", "shop", env={"FF_DUCKDB_PATH": str(out / "shop" / "w.duckdb")})
    assert result.exit_code == 1, result.output
    assert "inside the bundle folder" in result.output and "every compile replaces" in result.output
    assert not (out / "shop").exists()  # refused before anything was written


@pytest.mark.parametrize("target", ["airflow", "prefect"])
def test_an_in_memory_duckdb_is_refused_for_orchestrators_saying_why(make_project, tmp_path: Path, ffc, target: str) -> None:
    project = make_project({"models/a.ff.sql": "select 1 as v"})
    result = ffc("compile", project, "--target", target, "--out", tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "in-memory DuckDB" in result.output and "runs in its own" in result.output
    assert "FF_*" in result.output  # what to do


def test_a_spark_profile_that_cannot_serve_tasks_is_refused(make_project, tmp_path: Path, ffc) -> None:
    """An in-memory Spark catalog dies with each task's process, and a warehouse inside the
    bundle folder would be replaced by the next compile: both stop the compile, saying why."""
    profiles = "default:\n  engine: databricks_spark\n  databricks_spark: {extra_conf: {spark.sql.catalogImplementation: in-memory}}\n"
    project = make_project({"models/a.ff.sql": "select 1 as v", "profiles.yml": profiles})
    result = ffc("compile", project, "--target", "airflow", "--out", tmp_path / "dags")
    assert result.exit_code == 1 and "in-memory Spark catalog" in result.output, result.output
    project = make_project({"models/a.ff.sql": "select 1 as v", "profiles.yml": "default:\n  engine: databricks_spark\n"})
    out = tmp_path / "dags2"
    result = ffc("compile", project, "--target", "prefect", "--out", out, "--flow-name", "shop", env={"FF_DBR_WAREHOUSE_DIR": str(out / "shop" / "wh")})
    assert result.exit_code == 1 and "inside the bundle folder" in result.output, result.output


def test_the_workers_ff_variables_redirect_nothing(make_project, tmp_path: Path, monkeypatch) -> None:
    project = project_with_profile(make_project)
    compiled_to = tmp_path / "compiled.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(compiled_to))
    compile_target("airflow", project, tmp_path / "dags", "--dag-id", "shop", env="dev")
    monkeypatch.setenv("FF_DUCKDB_PATH", str(tmp_path / "elsewhere.duckdb"))  # set for another DAG on the worker
    monkeypatch.setenv("FF_ENGINE", "postgres")
    run_all(tmp_path / "dags" / "shop")
    assert not (tmp_path / "elsewhere.duckdb").exists()
    with duckdb.connect(str(compiled_to), read_only=True) as con:
        assert con.execute("select v from b").fetchall() == [(2,)]


def test_non_secret_settings_are_fixed_and_secrets_stay_templates(make_project, tmp_path: Path, monkeypatch) -> None:
    profiles = (
        "prod:\n  engine: postgres\n  postgres:\n"
        "    dsn: \"postgresql://app:{{ env_var('PG_PASSWORD') }}@db.internal:5432/w\"\n"
        "    db_schema: \"{{ env_var('PG_SCHEMA', 'analytics') }}\"\n"
    )
    project = project_with_profile(make_project, profiles)
    monkeypatch.setenv("PG_PASSWORD", "compile-time-secret")
    monkeypatch.setenv("FF_PG_SCHEMA", "marts")  # an override at compile time is fixed too
    compile_target("airflow", project, tmp_path / "dags", "--dag-id", "shop", env="prod")
    bundle = tmp_path / "dags" / "shop"
    text = (bundle / "profiles.yml").read_text()
    assert "compile-time-secret" not in text
    settings = yaml.safe_load(text)["prod"]["postgres"]
    assert settings == {"dsn": "postgresql://app:{{ env_var('PG_PASSWORD') }}@db.internal:5432/w", "db_schema": "marts"}
    monkeypatch.setenv("PG_PASSWORD", "worker-secret")
    monkeypatch.setenv("FF_PG_SCHEMA", "other_dag")
    monkeypatch.setenv("FF_PG_DSN", "postgresql://x:y@other-host/other")
    profile = bundle_profile(bundle, load_bundle_plan(bundle))
    assert profile.engine_settings.dsn == "postgresql://app:worker-secret@db.internal:5432/w"
    assert profile.engine_settings.db_schema == "marts"


def test_a_fixed_value_that_looks_like_a_template_is_not_rendered_in_the_worker(make_project, tmp_path: Path, monkeypatch) -> None:
    project = project_with_profile(make_project)
    odd = tmp_path / "{{ env_var('HOME') }}" / "w.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(odd))
    compile_target("prefect", project, tmp_path / "flows", "--flow-name", "shop", env="dev")
    bundle = tmp_path / "flows" / "shop"
    assert bundle_profile(bundle, load_bundle_plan(bundle)).engine_settings.path == str(odd)


def test_a_credential_from_ff_variables_is_read_from_the_same_variable_in_the_worker(make_project, tmp_path: Path, monkeypatch) -> None:
    project = make_project({"models/a.ff.sql": "select 1 as v"})
    monkeypatch.setenv("FF_ENGINE", "postgres")
    monkeypatch.setenv("FF_PG_DSN", "postgresql://app:s3cret@db:5432/w")
    compile_target("airflow", project, tmp_path / "dags", "--dag-id", "shop")
    text = (tmp_path / "dags" / "shop" / "profiles.yml").read_text()
    assert "s3cret" not in text
    assert yaml.safe_load(text)["default"]["postgres"]["dsn"] == "{{ env_var('FF_PG_DSN') }}"


def test_granularity_is_an_airflow_option(make_project, tmp_path: Path, ffc) -> None:
    project = project_with_profile(make_project)
    result = ffc("compile", project, "--target", "prefect", "--out", tmp_path / "flows", "--env", "dev", "--granularity", "group")
    assert result.exit_code == 1 and "--granularity is for --target airflow, not prefect" in result.output


def test_a_hostile_fixed_setting_reaches_the_worker_unchanged(make_project, tmp_path: Path, monkeypatch) -> None:
    hostile = "s'; drop table x; --\n\"\"\" {{ env_var('HOME') }} {% raw %} ../.."
    project = make_project({"models/a.ff.sql": "select 1 as v"})
    monkeypatch.setenv("FF_ENGINE", "postgres")
    monkeypatch.setenv("FF_PG_DSN", "postgresql://app@db:5432/w")
    monkeypatch.setenv("FF_PG_SCHEMA", hostile)
    compile_target("airflow", project, tmp_path / "dags", "--dag-id", "shop")
    for name in ("FF_PG_SCHEMA", "FF_PG_DSN", "FF_ENGINE"):
        monkeypatch.delenv(name)
    bundle = tmp_path / "dags" / "shop"
    assert bundle_profile(bundle, load_bundle_plan(bundle)).engine_settings.db_schema == hostile
