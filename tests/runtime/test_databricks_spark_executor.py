"""The Spark executor on a real local Spark (pyspark on the machine's Java): what Spark alone
does (the two renames of its swap and a run killed between them, Python models on Spark
DataFrames, seed types, `_ff_meta` compaction, unit tests, the one-session and one-process
rules); what every engine does is in test_conformance.py. One session serves the whole test process;
each test builds in a database of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowforge_compiler.errors import FlowForgeError, ModelBuildError, ProfileError, RequiredColumnsError
from flowforge_compiler.profiles import resolve_profile
from runtime import open_executor, run_node
from runtime.cache import CachePolicy
from targets.local import LevelScheduler
from tests.compiler.helpers import compile_dir
from tests.conftest import spark_environ

pytestmark = pytest.mark.spark

PY = "from flowforge_compiler import model\n"


@pytest.fixture
def spark(spark_warehouse: Path, spark_database: str):
    """(the FF_* settings of this test's Spark profile, a function returning a query's rows)."""
    environ = spark_environ(spark_warehouse, spark_database)

    def rows(root: Path, sql: str) -> list[tuple]:
        with open_executor(resolve_profile(root, None, environ=environ)) as executor:
            return executor.fetch_rows(sql)

    return environ, rows


def build(root: Path, environ: dict[str, str], *, full_refresh: bool = False, cache: bool = False):
    plan = compile_dir(root, environ=environ)
    with open_executor(resolve_profile(root, None, environ=environ)) as executor:
        if cache:
            policy = CachePolicy.for_run(plan, executor, root, "default")
            return plan, LevelScheduler(plan, executor, root, cache=policy).run([n.id for n in plan.nodes]).results
        return plan, [run_node(plan, n.id, executor=executor, root=root, full_refresh=full_refresh) for n in plan.nodes]


def test_a_run_killed_between_the_two_renames_gets_its_table_back(make_project, spark) -> None:
    """The swap renames the old table to `__ff_old`, then the new one into place: a process
    killed in between leaves no table under the name; the next build puts the old one back first."""
    environ, rows = spark
    root = make_project({"models/t.ff.sql": "select 1 as id union all select 2"})
    build(root, environ)
    with open_executor(resolve_profile(root, None, environ=environ)) as executor:
        executor.execute(executor.statements.rename("t", "t__ff_old"))  # where the kill left it
    (root / "models/t.ff.sql").write_text("select cast('x' as int) as id")
    with pytest.raises(ModelBuildError):
        build(root, environ)
    assert rows(root, "select id from t order by id") == [(1,), (2,)]  # put back, then kept by the failed swap
    with open_executor(resolve_profile(root, None, environ=environ)) as executor:
        executor.execute(executor.statements.create_table_as("t__ff_old", "select 9 as id"))  # killed after the second rename
    (root / "models/t.ff.sql").write_text("select 3 as id")
    build(root, environ)
    assert rows(root, "select id from t") == [(3,)]
    with open_executor(resolve_profile(root, None, environ=environ)) as executor:
        assert executor.relation_kind("t__ff_old") is None


def test_a_swap_stopped_after_the_first_rename_loses_no_rows(make_project, spark, monkeypatch) -> None:
    """The process dies (here: an error) right after the old table moved aside: its rows are
    under `__ff_old`, and the next build of the node puts them back before it starts."""
    from runtime.executors.databricks_spark import DatabricksSparkExecutor

    environ, rows = spark
    root = make_project({"models/t.ff.sql": "select 1 as id union all select 2"})
    build(root, environ)
    execute = DatabricksSparkExecutor.execute

    def dies_before_the_second_rename(self, sql: str) -> None:
        if "RENAME TO `t`" in sql:
            raise SystemExit("killed")
        execute(self, sql)

    monkeypatch.setattr(DatabricksSparkExecutor, "execute", dies_before_the_second_rename)
    (root / "models/t.ff.sql").write_text("select 3 as id")
    with pytest.raises(SystemExit):
        build(root, environ)
    monkeypatch.setattr(DatabricksSparkExecutor, "execute", execute)
    assert rows(root, "select id from t__ff_old order by id") == [(1,), (2,)]
    (root / "models/t.ff.sql").write_text("select cast('x' as int) as id")
    with pytest.raises(ModelBuildError):
        build(root, environ)
    assert rows(root, "select id from t order by id") == [(1,), (2,)]


def test_python_models_receive_and_return_spark_dataframes(make_project, spark) -> None:
    environ, rows = spark
    model = (
        PY + "from pyspark.sql import DataFrame, functions as F\n"
        "@model(name='p', deps=['src.ff', 'eph.ff'], requires={'src': {'id'}})\n"
        "def f(frames):\n"
        "    assert all(isinstance(f, DataFrame) for f in frames.values()), {k: type(v) for k, v in frames.items()}\n"
        "    return frames['src'].join(frames['eph'], 'id').withColumn('double', F.col('id') * 2)\n"
    )
    root = make_project(
        {
            "models/src.ff.sql": "select 1 as id union all select 2 union all select 3",
            "models/eph.ff.sql": "{{ config(materialized='ephemeral') }}select 2 as id, 'two' as name",
            "models/p.ff.py": model,
            "models/pd_result.ff.py": PY + "import pandas as pd\n@model(name='pd_result', deps=['src.ff'])\n"
            "def g(df):\n    return pd.DataFrame({'n': [df.count()], 's': ['x']})\n",
        }
    )
    _, results = build(root, environ)
    assert {r.node_id: r.rows for r in results}["p"] == 1
    assert rows(root, "select id, name, double from p") == [(2, "two", 4)]
    assert rows(root, "select n, s from pd_result") == [(3, "x")]


def test_requires_is_checked_on_the_spark_schema_before_the_function_runs(make_project, spark) -> None:
    environ, _ = spark
    root = make_project(
        {
            "models/src.ff.sql": "select 1 as id",
            "models/p.ff.py": PY + "@model(name='p', deps=['src.ff'], requires={'src': {'id', 'email'}})\n"
            "def f(df):\n    raise AssertionError('must not run')\n",
        }
    )
    with pytest.raises(RequiredColumnsError, match="email"):
        build(root, environ)
    (root / "models/p.ff.py").write_text(PY + "@model(name='p', deps=['src.ff'])\ndef f(df):\n    return 42\n")
    with pytest.raises(ModelBuildError, match="return a Spark DataFrame"):
        build(root, environ)


def test_seeds_with_schema_types_and_nulls(make_project, spark) -> None:
    environ, rows = spark
    root = make_project(
        {
            "seeds/people.csv": "id,name,born,score\n1,Ann,2001-02-03,1.5\n2,,2002-03-04,\n",
            "seeds/schema.yml": "seeds:\n  people: {column_types: {id: bigint, born: date, score: double}}\n",
            "models/ages.ff.sql": "select id, name, born, score from {{ ref('people') }}",
        }
    )
    build(root, environ)
    import datetime as dt

    assert rows(root, "select id, name, born, score from ages order by id") == [(1, "Ann", dt.date(2001, 2, 3), 1.5), (2, None, dt.date(2002, 3, 4), None)]
    assert rows(root, "select typeof(id), typeof(born) from ages limit 1") == [("bigint", "date")]


def test_parquet_and_sql_seeds(make_project, spark, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    environ, rows = spark
    root = make_project({"seeds/codes.sql": "select 'a' as code, 1 as n union all select 'b', 2"})
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int32()), "label": ["x", None]}), root / "seeds" / "labels.parquet")
    build(root, environ)
    assert rows(root, "select id, label from labels order by id") == [(1, "x"), (2, None)]
    assert rows(root, "select code, n from codes order by code") == [("a", 1), ("b", 2)]


def test_jobs_build_a_level_in_parallel_on_the_shared_session(make_project, spark) -> None:
    """`ffc run --jobs 4`: threads on one session, appends and `_ff_meta` rows serialized (two
    writes into one table's folder at once would clash)."""
    environ, rows = spark
    files = {f"models/m{i}.ff.sql": f"select {i} as id" for i in range(6)}
    files |= {f"models/inc{i}.ff.sql": "{{ config(materialized='incremental') }}" f"select {i} as id" for i in range(3)}
    root = make_project(files)
    plan = compile_dir(root, environ=environ)
    for _ in range(2):
        with open_executor(resolve_profile(root, None, environ=environ)) as executor:
            summary = LevelScheduler(plan, executor, root, jobs=4).run([n.id for n in plan.nodes])
        assert not summary.errors and len(summary.results) == 9
    assert rows(root, "select count(*) from _ff_meta") == [(18,)]
    assert rows(root, "select id from inc2") == [(2,), (2,)]


def test_ff_meta_files_are_written_again_as_one_past_a_limit(make_project, spark, monkeypatch) -> None:
    """Each build appends a file to `_ff_meta`; a new executor past the limit compacts them,
    keeping every row, so the cache's read stays short after years of runs."""
    from runtime.executors.databricks_spark import SparkMetaStore

    environ, rows = spark
    monkeypatch.setattr(SparkMetaStore, "FILES_KEPT", 3)
    root = make_project({f"models/m{i}.ff.sql": f"select {i} as id" for i in range(5)})
    build(root, environ)

    def meta_files() -> int:
        with open_executor(resolve_profile(root, None, environ=environ)) as executor:
            return len(executor.session.table(executor.quote("_ff_meta")).inputFiles())

    assert meta_files() >= 5
    _, results = build(root, environ, cache=True)  # compacts first, then skips every node
    assert {r.status for r in results} == {"skipped"}
    assert meta_files() == 1
    assert rows(root, "select count(*) from _ff_meta") == [(5,)]


def test_unit_tests_run_in_a_throwaway_database_dropped_afterwards(example_copy, spark) -> None:
    from runtime.unit_tests import isolated_executor

    environ, _ = spark
    root = example_copy("spark")
    profile = resolve_profile(root, None, environ=environ)
    with isolated_executor(profile) as executor:
        database = executor.database
        assert database.startswith("ff_utest_") and executor.session.catalog.databaseExists(database)
        session = executor.session
    assert not session.catalog.databaseExists(database)


def test_a_profile_needing_another_session_in_this_process_is_refused(make_project, spark, tmp_path: Path) -> None:
    environ, _ = spark
    root = make_project({"models/a.ff.sql": "select 1 as id"})
    build(root, environ)  # this process's session now runs
    other = {**environ, "FF_DBR_WAREHOUSE_DIR": str(tmp_path / "other")}
    with pytest.raises(ProfileError, match="one session per process"):
        open_executor(resolve_profile(root, None, environ=other))


def test_a_second_process_waits_for_the_warehouse_then_names_the_holder(make_project, spark) -> None:
    """The test process holds its warehouse's metastore; another process gives up after
    --lock-timeout with the holder's PID, before it starts a JVM."""
    environ, _ = spark
    root = make_project({"models/a.ff.sql": "select 1 as id"})
    build(root, environ)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FF_")} | environ
    proc = subprocess.run(
        [sys.executable, "-m", "flowforge.cli", "run", str(root), "--lock-timeout", "1"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode != 0
    assert f"in use by another process (PID {os.getpid()})" in proc.stderr and "--lock-timeout" in proc.stderr


def test_a_warehouse_path_that_would_change_the_metastore_url_is_refused(make_project, tmp_path: Path) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as id"})
    for bad in ("wh;create=false", 'wh"x', "wh\nx", "wh\\x"):
        profile = resolve_profile(root, None, environ={"FF_ENGINE": "databricks_spark", "FF_DBR_WAREHOUSE_DIR": str(tmp_path / bad)})
        with pytest.raises(FlowForgeError, match="metastore URL"):
            open_executor(profile)


def test_without_java_the_run_says_what_to_install(make_project, tmp_path: Path) -> None:
    root = make_project({"models/a.ff.sql": "select 1 as id"})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FF_", "JAVA"))}
    env |= {"PATH": str(Path(sys.executable).parent), "FF_ENGINE": "databricks_spark", "FF_DBR_WAREHOUSE_DIR": str(tmp_path / "wh")}
    proc = subprocess.run([sys.executable, "-m", "flowforge.cli", "run", str(root)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Spark needs a Java runtime" in proc.stderr and "default-jre-headless" in proc.stderr
