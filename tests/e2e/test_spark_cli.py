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
