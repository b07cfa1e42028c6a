"""The cross-engine corpus: each construct, written once in DuckDB's dialect, gives the rows
computed on DuckDB on every engine the suite can start (see corpus/README.md)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import shutil
import uuid
from pathlib import Path

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from runtime import open_executor
from runtime.row_compare import compare_rows
from targets.local import LevelScheduler
from tests.conftest import spark_environ

CORPUS = Path(__file__).parent / "corpus"
CONSTRUCTS = sorted(d.name for d in CORPUS.iterdir() if (d / "model.ff.sql").is_file())
PORTABLE = [c for c in CONSTRUCTS if not (CORPUS / c / "not_portable.txt").exists()]
DIFFERS = sorted(p.parent.name + ":" + p.name.split(".")[1] for p in CORPUS.glob("*/differs.*.txt"))
NOT_PORTABLE = [c for c in CONSTRUCTS if c not in PORTABLE]
# (construct, engine): portable, but with no faithful form on that one engine
REFUSED_ON = sorted((p.parent.name, p.name.split(".")[1]) for p in CORPUS.glob("*/not_portable.*.txt"))
# What a compile for each engine needs (no server: compiling does not connect)
COMPILE_ENVIRON = {
    "postgres": {"FF_ENGINE": "postgres", "FF_PG_DSN": "postgresql://h/db"},
    "databricks_spark": {"FF_ENGINE": "databricks_spark"},
    "bigquery": {"FF_ENGINE": "bigquery", "FF_BQ_PROJECT": "p", "FF_BQ_DATASET": "d"},
    "snowflake_snowpark": {"FF_ENGINE": "snowflake_snowpark", "FF_SF_ACCOUNT": "a", "FF_SF_USER": "u", "FF_SF_DATABASE": "DB"},
}
# Engines the suite cannot run models on here: their dialect and how a query parses in it
COMPILED_ONLY = {"bigquery": "bigquery", "snowflake_snowpark": "snowflake"}


def portable_on(engine: str) -> list[str]:
    return [c for c in PORTABLE if (c, engine) not in REFUSED_ON]


def _project(folder: Path, constructs: list[str], *, materialized: str | None = None) -> Path:
    """The corpus project with `constructs` as its models, each `materialized` so when given.
    On Spark they are ephemeral, read through their SQL: each construct's rows are still
    computed by Spark from the SQL the plan holds, without a table or view and its `_ff_meta`
    row written per construct (two thirds of the time there); the runtime's tables and views on
    Spark are the conformance suite's to test."""
    shutil.copytree(CORPUS / "_project", folder)
    (folder / "models").mkdir()
    for construct in constructs:
        text = (CORPUS / construct / "model.ff.sql").read_text(encoding="utf-8")
        prefix = f"{{{{ config(materialized='{materialized}') }}}}" if materialized else ""
        (folder / "models" / f"{construct}.ff.sql").write_text(prefix + text, encoding="utf-8")
    return folder


def _build_all(root: Path, environ: dict[str, str], *, jobs: int = 1) -> dict[str, list[dict] | Exception]:
    """Every construct's rows (or the error that stopped it), built through the runtime on the
    profile `environ` selects; one construct's failure does not hide the others'. `jobs`
    builds that many at once on the one executor (Spark: threads on the process's session)."""
    profile = resolve_profile(root, None, environ=environ)
    plan = compile_project(load_project(root), profile, environ={})
    results: dict[str, list[dict] | Exception] = {}
    with open_executor(profile) as executor:
        run = LevelScheduler(plan, executor, root, jobs=jobs, keep_going=True).run([n.id for n in plan.nodes])
        outcome = {r.node_id: r for r in run.results}
        for node in plan.nodes:
            if node.kind == "seed":
                continue
            try:
                if outcome[node.id].status not in ("built", "skipped"):  # an ephemeral node builds nothing
                    raise RuntimeError(outcome[node.id].message)
                results[node.relation] = executor.read_node(node).to_pylist()
            except Exception as exc:  # noqa: BLE001 - reported by that construct's test
                results[node.relation] = exc
    return results


@pytest.fixture(scope="module")
def duckdb_rows(tmp_path_factory) -> dict[str, list[dict]]:
    root = _project(tmp_path_factory.mktemp("corpus") / "duckdb", PORTABLE)
    return _build_all(root, {"FF_DUCKDB_PATH": str(root / "corpus.duckdb")})


@pytest.fixture(scope="module")
def postgres_rows(tmp_path_factory, pg_dsn: str) -> dict[str, list[dict]]:
    import psycopg

    schema = f"ff_corpus_{uuid.uuid4().hex[:8]}"
    root = _project(tmp_path_factory.mktemp("corpus") / "postgres", PORTABLE)
    try:
        yield _build_all(root, {"FF_ENGINE": "postgres", "FF_PG_DSN": pg_dsn, "FF_PG_SCHEMA": schema})
    finally:
        with psycopg.connect(pg_dsn.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
            con.execute(f'drop schema if exists "{schema}" cascade')


@pytest.fixture(scope="module")
def spark_rows(tmp_path_factory, spark_warehouse: Path) -> dict[str, list[dict]]:
    root = _project(tmp_path_factory.mktemp("corpus") / "spark", portable_on("databricks_spark"), materialized="ephemeral")
    database = f"ff_corpus_{uuid.uuid4().hex[:8]}"
    environ = spark_environ(spark_warehouse, database)
    try:
        yield _build_all(root, environ, jobs=3)
    finally:
        with open_executor(resolve_profile(root, None, environ=environ)) as executor:
            executor.execute(executor.statements.drop_schema(database))


def _json_value(value: object) -> object:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _expected(construct: str, rows: list[dict]) -> list[dict]:
    """The rows DuckDB computed, kept as JSON (exact text for timestamps and numbers)."""
    path = CORPUS / construct / "expected.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(rows, default=_json_value, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return json.loads(path.read_text(encoding="utf-8"))


def _same_rows(construct: str, actual: list[dict] | Exception, engine: str | None = None) -> None:
    """The rows DuckDB computed, or, where an engine's result differs for a reason written down
    (`differs.<engine>.txt`), the rows that engine gives (`expected.<engine>.json`), so the
    difference is pinned and a change in it is noticed."""
    if isinstance(actual, Exception):
        raise AssertionError(f"{construct} did not build: {actual}")
    folder = CORPUS / construct
    if engine is not None and (folder / f"differs.{engine}.txt").is_file():
        expected = json.loads((folder / f"expected.{engine}.json").read_text(encoding="utf-8"))
    else:
        expected = _expected(construct, actual)
    comparison = compare_rows(actual, expected, any_order=True, approx=True)
    assert comparison.ok, f"{construct}: {comparison.reason}\n{comparison.diff()}"


@pytest.mark.duckdb
@pytest.mark.parametrize("construct", PORTABLE)
def test_on_duckdb(construct: str, duckdb_rows) -> None:
    _same_rows(construct, duckdb_rows[construct])


@pytest.mark.postgres
@pytest.mark.parametrize("construct", PORTABLE)
def test_on_postgres(construct: str, postgres_rows) -> None:
    _same_rows(construct, postgres_rows[construct], engine="postgres")


@pytest.mark.spark
@pytest.mark.parametrize("construct", portable_on("databricks_spark"))
def test_on_spark(construct: str, spark_rows) -> None:
    _same_rows(construct, spark_rows[construct], engine="databricks_spark")


@pytest.mark.parametrize("construct", NOT_PORTABLE)
def test_constructs_without_a_faithful_form_are_named_at_compile_time(construct: str, tmp_path: Path) -> None:
    root = _project(tmp_path / "p", [construct])
    profile = resolve_profile(root, None, environ=COMPILE_ENVIRON["postgres"])
    with pytest.raises(ProjectFileError) as info:
        compile_project(load_project(root), profile, environ={})
    text = info.value.render()
    assert (CORPUS / construct / "not_portable.txt").read_text().strip() in text
    assert f"models/{construct}.ff.sql" in text and "config(transpile=false)" in text


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, dict[str, str]]:
    """{engine: {construct: its SQL}} for the engines the corpus only compiles for."""
    out = {}
    for engine in COMPILED_ONLY:
        root = _project(tmp_path_factory.mktemp("corpus") / engine, portable_on(engine))
        plan = compile_project(load_project(root), resolve_profile(root, None, environ=COMPILE_ENVIRON[engine]), environ={})
        out[engine] = {node.relation: node.sql for node in plan.nodes if node.kind == "sql"}
    return out


@pytest.mark.parametrize(
    ("construct", "engine"), [(c, engine) for engine in COMPILED_ONLY for c in portable_on(engine)]
)
def test_compiles_for_engines_the_suite_cannot_run_to_one_query(construct: str, engine: str, compiled) -> None:
    """Compile only: no BigQuery or Snowflake to run it on here (the README's engine matrix says so)."""
    import sqlglot

    (statement,) = sqlglot.parse(compiled[engine][construct], read=COMPILED_ONLY[engine])
    assert isinstance(statement, sqlglot.exp.Query)


@pytest.mark.parametrize(("construct", "engine"), REFUSED_ON)
def test_a_construct_refused_on_one_engine_is_named_at_compile_time(construct: str, engine: str, tmp_path: Path) -> None:
    root = _project(tmp_path / "p", [construct])
    with pytest.raises(ProjectFileError) as info:
        compile_project(load_project(root), resolve_profile(root, None, environ=COMPILE_ENVIRON[engine]), environ={})
    text = info.value.render()
    assert (CORPUS / construct / f"not_portable.{engine}.txt").read_text().strip() in text
    assert f"models/{construct}.ff.sql" in text and "config(transpile=false)" in text


def test_every_recorded_difference_says_why_and_pins_rows() -> None:
    assert DIFFERS, "the corpus records no engine difference; remove this test with the last one"
    for entry in DIFFERS:
        construct, engine = entry.split(":")
        folder = CORPUS / construct
        assert (folder / f"differs.{engine}.txt").read_text(encoding="utf-8").strip(), entry
        assert json.loads((folder / f"expected.{engine}.json").read_text(encoding="utf-8")) != json.loads((folder / "expected.json").read_text(encoding="utf-8"))
