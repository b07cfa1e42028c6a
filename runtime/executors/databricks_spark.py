"""The Spark / Databricks engine: its profile and SDK entry (Spark SQL). The executor is not in this version.

Profile keys as the spec names them (`master`, `app_name`, `extra_conf`) plus where tables live:
`warehouse_dir` (relative to the project; default `.local/spark-warehouse` in it), `database`
and `table_format` (`parquet`, or `delta` when delta-spark and its jars are installed). `FF_DBR_*`
variables override them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field

from flowforge_compiler.engine_sdk import Capabilities, EngineSpec
from flowforge_compiler.paths import project_relative
from flowforge_compiler.project_file import Strict

DEFAULT_WAREHOUSE = ".local/spark-warehouse"  # relative to the project


class DatabricksSparkSettings(Strict):
    master: str = "local[*]"
    app_name: str = "flowforge"
    extra_conf: dict[str, str] = Field(default_factory=dict)  # spark.* settings for the session
    warehouse_dir: str | None = None  # None: DEFAULT_WAREHOUSE in the project
    database: str = "default"
    table_format: Literal["parquet", "delta"] = "parquet"


class DatabricksSparkProfile(Strict):
    engine: Literal["databricks_spark"]
    databricks_spark: DatabricksSparkSettings = Field(default_factory=DatabricksSparkSettings)


def _location(settings: DatabricksSparkSettings, root: Path, unresolved: Mapping[str, str]) -> dict[str, str]:
    warehouse = settings.warehouse_dir or str(root / DEFAULT_WAREHOUSE)
    if "databricks_spark.warehouse_dir" not in unresolved:
        warehouse = project_relative(Path(warehouse), root)
    return {"master": settings.master, "warehouse_dir": warehouse, "database": settings.database, "table_format": settings.table_format}


ENGINE = EngineSpec(
    name="databricks_spark",
    dialect="databricks",
    profile=DatabricksSparkProfile,
    extra="spark",
    capabilities=Capabilities(transactions=False, create_or_replace=False, frame="spark"),
    overrides={
        "FF_DBR_MASTER": "master",
        "FF_DBR_APPNAME": "app_name",
        "FF_DBR_WAREHOUSE_DIR": "warehouse_dir",
        "FF_DBR_DATABASE": "database",
        "FF_DBR_TABLE_FORMAT": "table_format",
    },
    path_keys=("warehouse_dir",),
    requires=("pyspark",),
    location=_location,
    target=lambda settings, unresolved: (settings.database, None),
)
