"""`ffc` on the Spark example, as users run it (each command a process with its own JVM): a
build, a no-op re-run, `ffc show`, and `ffc utest --engine databricks_spark`."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.e2e]


def test_the_spark_example_builds_reruns_as_a_no_op_shows_and_unit_tests(example_copy, ffc, spark_warehouse: Path) -> None:
    project = example_copy("spark")  # its own warehouse (.local/ in the copy): this process holds the suite's
    first = ffc("build", project)
    assert first.exit_code == 0, first.output
    assert "7 built, 0 failed" in first.stdout and "passed: 7" in first.stdout
    assert (project / ".local" / "spark-warehouse" / "flowforge_example.db").is_dir()
    second = ffc("run", project)
    assert second.exit_code == 0 and "0 built, 0 failed, 7 skipped (7 cached)" in second.stdout, second.output
    shown = ffc("show", project, "mart_orders_enriched")
    assert shown.exit_code == 0, shown.output
    assert "b@gmail.com" in shown.stdout and "valid_amt" in shown.stdout
    unit = ffc("utest", project, "--engine", "databricks_spark")
    assert unit.exit_code == 0 and "Unit tests: 4 passed, 0 failed" in unit.stdout, unit.output


def test_a_warehouse_path_with_spaces_and_quotes_stays_in_its_place(make_project, ffc, spark_warehouse: Path, tmp_path: Path) -> None:
    """The warehouse path reaches Derby's URL and the JVM's options: a space or a quote in it
    must neither split an option nor send the catalog elsewhere."""
    root = make_project({"models/a.ff.sql": "select 1 as id"})
    warehouse = tmp_path / "my data's" / "spark warehouse"
    result = ffc("run", root, env={"FF_ENGINE": "databricks_spark", "FF_DBR_MASTER": "local[1]", "FF_DBR_WAREHOUSE_DIR": str(warehouse)})
    assert result.exit_code == 0, result.output
    assert (warehouse / "a").is_dir() and (warehouse.parent / "spark warehouse-metastore" / "metastore_db").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my data's", root.name]
    assert not (root / "metastore_db").exists() and not (root / "spark-warehouse").exists() and not Path("derby.log").exists()
