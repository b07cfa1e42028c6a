"""`ffc` on the Spark example, as users run it (each command a process with its own JVM): a
build and a no-op re-run, in a warehouse whose path holds a space and a quote."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.e2e]


def test_the_spark_example_builds_and_reruns_as_a_no_op_in_another_process(example_copy, ffc, spark_warehouse: Path, tmp_path: Path) -> None:
    """Its own warehouse (the test process holds the suite's), at a path with a space and a
    quote: the path reaches Derby's URL and the JVM's options, so neither may split an option
    nor send the catalog elsewhere; the second process finds the first one's `_ff_meta`. (Each
    command starts a JVM, so only what needs processes of its own is here: `ffc show` and
    `ffc utest` on Spark are the CLI's engine-neutral code over what
    tests/runtime/test_databricks_spark_executor.py runs in the suite's session.)"""
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
