"""The plan: golden output, determinism, no absolute paths or secrets, its JSON Schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema

from flowforge_compiler.plan import Plan, plan_json_schema
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.compile import compile_project
from flowforge_compiler.project import load_project
from tests.compiler.golden import GOLDEN, assert_golden
from tests.compiler.helpers import compile_dir

REPO = Path(__file__).resolve().parents[2]
MIXED = GOLDEN / "mixed"


def test_golden_plan_and_rendered_sql() -> None:
    plan = compile_dir(MIXED / "project")
    assert_golden(MIXED / "expected" / "plan.json", plan.to_json())
    for node in plan.nodes:
        if node.sql is not None:
            assert_golden(MIXED / "expected" / "sql" / f"{node.id}.sql", node.sql + "\n")
        if node.sql_incremental is not None:
            assert_golden(MIXED / "expected" / "sql" / f"{node.id}.incremental.sql", node.sql_incremental + "\n")


def test_compiling_twice_gives_identical_bytes_wherever_the_project_lives(tmp_path: Path) -> None:
    first = compile_dir(MIXED / "project").to_json()
    moved = tmp_path / "elsewhere"
    shutil.copytree(MIXED / "project", moved)
    assert compile_dir(moved).to_json() == first
    assert str(tmp_path) not in first and str(REPO) not in first


def test_plan_holds_no_secret_and_no_timestamp() -> None:
    environ = {"GOLDEN_PG_PASSWORD": "hunter2-very-secret"}
    project = load_project(MIXED / "project")
    profile = resolve_profile(project.root, "prod", environ=environ)
    text = compile_project(project, profile, environ=environ).to_json()
    assert "hunter2" not in text and "postgresql://" not in text
    assert json.loads(text)["profile"] == {"engine": "postgres", "name": "prod", "dialect": "postgres", "single_writer": False}


def test_plan_round_trips_and_matches_its_json_schema() -> None:
    plan = compile_dir(MIXED / "project")
    assert Plan.model_validate_json(plan.to_json()) == plan
    jsonschema.validate(json.loads(plan.to_json()), json.loads(plan_json_schema()))


def test_committed_json_schema_is_current() -> None:
    assert (REPO / "docs" / "plan.schema.json").read_text(encoding="utf-8") == plan_json_schema()


def test_fingerprints_follow_data_not_docs(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(MIXED / "project", root)
    base = {n.id: n.fingerprint for n in compile_dir(root).nodes}

    project_yml = root / "project.yml"
    project_yml.write_text(project_yml.read_text().replace("One row per customer.", "Customers."))
    assert {n.id: n.fingerprint for n in compile_dir(root).nodes} == base

    customers = root / "models/staging/customers.ff.sql"
    customers.write_text(customers.read_text().replace("select id, name", "select id, upper(name) as name"))
    changed = {n.id for n in compile_dir(root).nodes if n.fingerprint != base[n.id]}
    assert changed == {"customers.ff", "customer_totals"}

    seed = root / "seeds/raw_orders.csv"
    seed.write_text(seed.read_text() + "4,2,99,2024-01-04\n")
    changed = {n.id for n in compile_dir(root).nodes if n.fingerprint != base[n.id]}
    assert changed == {"customers.ff", "customer_totals", "raw_orders", "big_orders.ff", "stg_orders.ff"}


def test_vars_read_and_ff_environment_change_fingerprints() -> None:
    base = {n.id: n.fingerprint for n in compile_dir(MIXED / "project").nodes}
    other_var = {n.id: n.fingerprint for n in compile_dir(MIXED / "project", vars={"min_amount": 11}).nodes}
    assert {n for n in base if base[n] != other_var[n]} == {"big_orders.ff", "customer_totals"}
    unused_var = {n.id: n.fingerprint for n in compile_dir(MIXED / "project", vars={"unused": 2}).nodes}
    assert unused_var == base
    ff_env = {n.id: n.fingerprint for n in compile_dir(MIXED / "project", environ={"FF_REGION": "x"}).nodes}
    assert all(ff_env[n] != base[n] for n in base)
    # another engine's settings variable says nothing about this build
    assert {n.id: n.fingerprint for n in compile_dir(MIXED / "project", environ={"FF_PG_SCHEMA": "x"}).nodes} == base


def test_rotating_a_password_rebuilds_nothing_and_another_schema_rebuilds_everything() -> None:
    def fingerprints(dsn: str, schema: str) -> dict[str, str]:
        environ = {"FF_ENGINE": "postgres", "FF_PG_DSN": dsn, "FF_PG_SCHEMA": schema}
        return {n.id: n.fingerprint for n in compile_dir(MIXED / "project", environ=environ).nodes}

    base = fingerprints("postgresql://app:old-secret@db:5432/w", "analytics")
    assert fingerprints("postgresql://app:new-secret@db:5432/w", "analytics") == base
    assert fingerprints("postgresql://other_user:x@db:5432/w", "analytics") == base  # who connects is no place
    moved = fingerprints("postgresql://app:old-secret@db:5432/w", "staging")
    assert all(moved[n] != base[n] for n in base)
    other_host = fingerprints("postgresql://app:old-secret@db2:5432/w", "analytics")
    assert all(other_host[n] != base[n] for n in base)
