"""The Snowflake (Snowpark) engine: its profile and SDK entry. The executor is not in this version."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from flowforge_compiler.engine_sdk import Capabilities, EngineSpec
from flowforge_compiler.project_file import Strict


class SnowflakeSnowparkSettings(Strict):
    account: str
    user: str
    password: str | None = None
    role: str | None = None
    warehouse: str | None = None
    database: str
    db_schema: str = "PUBLIC"


class SnowflakeSnowparkProfile(Strict):
    engine: Literal["snowflake_snowpark"]
    snowflake_snowpark: SnowflakeSnowparkSettings


def _location(settings: SnowflakeSnowparkSettings, root: Path, unresolved: Mapping[str, str]) -> dict[str, str]:
    return {"account": settings.account, "database": settings.database, "db_schema": settings.db_schema}


ENGINE = EngineSpec(
    name="snowflake_snowpark",
    dialect="snowflake",
    profile=SnowflakeSnowparkProfile,
    extra="snowflake",
    capabilities=Capabilities(merge=True, frame="snowpark"),
    block_hint="add `snowflake_snowpark: {account: ..., user: ..., database: ...}`",
    requires=("snowflake.snowpark",),
    location=_location,
    target=lambda settings, unresolved: (settings.db_schema, settings.database),
)
