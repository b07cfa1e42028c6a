"""`ffc` on the Spark example, as users run it (each command a process with its own JVM): a
build, a no-op re-run, `ffc show`, and `ffc utest --engine databricks_spark`, in a warehouse
whose path holds a space and a quote."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.e2e]


def test_the_spark_example_builds_reruns_as_a_no_op_shows_and_unit_tests(example_copy, ffc, spark_warehouse: Path, tmp_path: Path) -> None:
    """Its own warehouse (the test process holds the suite's), at a path with a space and a
    quote: the path reaches Derby's URL and the JVM's options, so neither may split an option
    nor send the catalog elsewhere. (Each command starts a JVM: one test, to start few.)"""
    project = example_copy("spark")
    warehouse = tmp_path / "my data's" / "spark warehouse"
    env = {"FF_DBR_WAREHOUSE_DIR": str(warehouse)}
    first = ffc("build", project, env=env)
    assert first.exit_code == 0, first.output
    assert "7 built, 0 failed" in first.stdout and "passed: 7" in first.stdout
    assert (warehouse / "flowforge_example.db").is_dir() and (warehouse.parent / "spark warehouse-metastore" / "metastore_db").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my data's", project.name]
    assert not (project / ".local").exists() and not (project / "metastore_db").exists() and not Path("derby.log").exists()
    second = ffc("run", project, env=env)
    assert second.exit_code == 0 and "0 built, 0 failed, 7 skipped (7 cached)" in second.stdout, second.output
    shown = ffc("show", project, "mart_orders_enriched", env=env)
    assert shown.exit_code == 0, shown.output
    assert "b@gmail.com" in shown.stdout and "valid_amt" in shown.stdout
    unit = ffc("utest", project, "--engine", "databricks_spark", env=env)
    assert unit.exit_code == 0 and "Unit tests: 4 passed, 0 failed" in unit.stdout, unit.output
