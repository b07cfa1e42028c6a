"""The Spark profile (issue 13's first step; no Spark needed): the spec's keys, defaults, FF_DBR_*."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.profiles import resolve_profile

SPARK = "dev:\n  engine: databricks_spark\n  databricks_spark:\n    extra_conf: {spark.sql.shuffle.partitions: '2'}\n"


def test_defaults_put_the_warehouse_in_the_project(make_project) -> None:
    root = make_project({"profiles.yml": SPARK}).resolve()
    profile = resolve_profile(root, "dev", environ={})
    settings = profile.engine_settings
    assert (settings.master, settings.app_name, settings.database, settings.table_format) == ("local[*]", "flowforge", "default", "parquet")
    assert settings.extra_conf == {"spark.sql.shuffle.partitions": "2"}
    assert profile.location(root)["warehouse_dir"] == ".local/spark-warehouse"
    assert profile.target().schema == "default" and profile.dialect == "databricks"


def test_ff_dbr_variables_override_and_paths_are_relative_to_the_project(make_project, tmp_path: Path) -> None:
    root = make_project({"profiles.yml": SPARK + "    warehouse_dir: wh\n"}).resolve()
    assert resolve_profile(root, "dev", environ={}).engine_settings.warehouse_dir == str(root / "wh")
    environ = {"FF_DBR_MASTER": "local[2]", "FF_DBR_APPNAME": "nightly", "FF_DBR_DATABASE": "marts", "FF_DBR_TABLE_FORMAT": "delta",
               "FF_DBR_WAREHOUSE_DIR": str(tmp_path / "elsewhere")}
    settings = resolve_profile(root, "dev", environ=environ).engine_settings
    assert (settings.master, settings.app_name, settings.database, settings.table_format) == ("local[2]", "nightly", "marts", "delta")
    assert settings.warehouse_dir == str(tmp_path / "elsewhere")


def test_unknown_keys_and_formats_are_errors_naming_the_file(make_project) -> None:
    root = make_project({"profiles.yml": SPARK + "    table_fromat: delta\n"})
    with pytest.raises(ProjectFileError, match="table_fromat"):
        resolve_profile(root, "dev", environ={})
    root = make_project({"profiles.yml": SPARK + "    table_format: orc\n"})
    with pytest.raises(ProjectFileError, match="table_format"):
        resolve_profile(root, "dev", environ={})


def test_a_database_the_hive_catalog_cannot_name_is_a_profile_error(make_project) -> None:
    for bad in ("Marts", "x`; drop", "a.b"):
        root = make_project({"profiles.yml": SPARK + f"    database: {bad!r}\n"})
        with pytest.raises(ProjectFileError, match="cannot be a Spark database") as info:
            resolve_profile(root, "dev", environ={})
        assert "profiles.yml" in info.value.render()
    with pytest.raises(ProjectFileError, match="cannot be a Spark database"):
        resolve_profile(make_project({"profiles.yml": SPARK}), "dev", environ={"FF_DBR_DATABASE": "Upper"})
