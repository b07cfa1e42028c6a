"""The BigQuery engine: its profile and SDK entry (GoogleSQL). The executor is not in this version."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from flowforge_compiler.engine_sdk import Capabilities, EngineSpec
from flowforge_compiler.project_file import Strict


class BigQuerySettings(Strict):
    project: str | None = None
    dataset: str
    location: str | None = None
    use_bigframes: bool = False


class BigQueryProfile(Strict):
    engine: Literal["bigquery"]
    bigquery: BigQuerySettings


def _location(settings: BigQuerySettings, root: Path, unresolved: Mapping[str, str]) -> dict[str, str]:
    return {"project": settings.project or "", "dataset": settings.dataset, "location": settings.location or ""}


ENGINE = EngineSpec(
    name="bigquery",
    dialect="bigquery",
    profile=BigQueryProfile,
    extra="bigquery",
    capabilities=Capabilities(transactions=False, merge=True),
    overrides={"FF_BQ_DATASET": "dataset", "FF_BQ_LOCATION": "location", "FF_BQ_USE_BIGFRAMES": "use_bigframes"},
    block_hint="set FF_BQ_DATASET, or add `bigquery: {dataset: ...}`",
    requires=("google.cloud.bigquery",),
    location=_location,
    target=lambda settings, unresolved: (settings.dataset, settings.project),
)
