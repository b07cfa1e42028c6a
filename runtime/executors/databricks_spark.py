"""The Spark / Databricks engine: its profile and SDK entry (Spark SQL). The executor is not in this version."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field

from flowforge_compiler.engine_sdk import Capabilities, EngineSpec
from flowforge_compiler.paths import project_relative
from flowforge_compiler.project_file import Strict


class DatabricksSparkSettings(Strict):
    master: str = "local[*]"
    app_name: str = "flowforge"
    warehouse_dir: str | None = None
    database: str | None = None
    conf: dict[str, str] = Field(default_factory=dict)


class DatabricksSparkProfile(Strict):
    engine: Literal["databricks_spark"]
    databricks_spark: DatabricksSparkSettings = Field(default_factory=DatabricksSparkSettings)


def _location(settings: DatabricksSparkSettings, root: Path, unresolved: Mapping[str, str]) -> dict[str, str]:
    warehouse = settings.warehouse_dir
    if warehouse and "databricks_spark.warehouse_dir" not in unresolved:
        warehouse = project_relative(Path(warehouse), root)
    return {"master": settings.master, "warehouse_dir": warehouse or "", "database": settings.database or ""}


ENGINE = EngineSpec(
    name="databricks_spark",
    dialect="databricks",
    profile=DatabricksSparkProfile,
    extra="spark",
    capabilities=Capabilities(transactions=False, create_or_replace=False, frame="spark"),
    path_keys=("warehouse_dir",),
    requires=("pyspark",),
    location=_location,
    target=lambda settings, unresolved: (settings.database or "default", None),
)
