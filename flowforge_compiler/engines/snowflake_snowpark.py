"""The Snowflake engine, compile-time half: its profile block (`account`, `user`, `password`,
`role`, `warehouse`, `database`, `db_schema`, `options`; `FF_SF_*` overrides), Snowflake SQL where
sqlglot's translation of DuckDB's SQL is not Snowflake's, and how dbt outputs and Airflow
connections map onto it. The executor is `runtime.executors.snowflake_snowpark`.

Names: Snowflake folds a plain unquoted name to upper case, and FlowForge quotes every name it
writes. So that a model's `from orders` and FlowForge's `"ORDERS"` are one table, every quoted
plain name FlowForge renders for Snowflake is folded the same way (`FoldNamesToSnowflake`):
tables and columns are upper case, as dbt users of Snowflake know them; names that need quotes
(spaces, dashes, dots) keep their case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from sqlglot import exp

from flowforge_compiler.engine_sdk import Capabilities, DbtColumnRules, EngineSpec
from flowforge_compiler.errors import ProfileError
from flowforge_compiler.rewrites import Rewrite, regexp_replace_flags
from flowforge_compiler.yaml_files import Strict

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
def fold(name: str) -> str:
    """A name as Snowflake's catalog holds it: plain names in upper case, others as written."""
    return name.upper() if _PLAIN.fullmatch(name) else name


class SnowflakeSnowparkSettings(Strict):
    account: str
    user: str
    password: str | None = None
    role: str | None = None
    warehouse: str | None = None
    database: str
    db_schema: str = "PUBLIC"
    options: dict[str, Any] = Field(default_factory=dict)  # further Snowpark connection parameters


class SnowflakeSnowparkProfile(Strict):
    engine: Literal["snowflake_snowpark"]
    snowflake_snowpark: SnowflakeSnowparkSettings



# -- Snowflake SQL where sqlglot's translation of DuckDB's SQL is not Snowflake's ---------------


class FoldNamesToSnowflake(Rewrite):
    """A quoted plain name (`"orders"`, which DuckDB matches whatever its case) in upper case,
    the case Snowflake gives the same name unquoted: FlowForge's quoted DDL and a model's bare
    `from orders` then name one table."""

    source, target, node = "duckdb", "snowflake", exp.Identifier

    def apply(self, node: exp.Expr) -> exp.Expr:
        if node.args.get("quoted") and _PLAIN.fullmatch(node.name):
            return exp.to_identifier(node.name.upper(), quoted=True)
        return node


class RegexpReplaceToSnowflake(Rewrite):
    """DuckDB's flags as Snowflake's arguments: without `g` the first match only (occurrence
    1), with it every match (0); `i` as the parameter `'i'`."""

    source, target, node = "duckdb", "snowflake", exp.RegexpReplace

    def apply(self, node: exp.Expr) -> exp.Expr:
        flags = regexp_replace_flags(node, self.target)
        node.set("position", exp.Literal.number(1))
        node.set("occurrence", exp.Literal.number(0 if "g" in flags else 1))
        node.set("modifiers", exp.Literal.string("i") if "i" in flags else None)
        node.set("single_replace", None)
        return node


def _location(settings: SnowflakeSnowparkSettings, root: Path, unresolved: Mapping[str, str]) -> dict[str, str]:
    return {"account": settings.account, "database": settings.database, "db_schema": settings.db_schema}


def _airflow_connection(settings: SnowflakeSnowparkSettings, connection: Any, conn_id: str) -> dict[str, Any]:
    """Airflow's snowflake connection: login and password, the account, warehouse, database,
    role in its extra (with or without the old `extra__snowflake__` prefix), the schema in
    its schema field."""
    extra = connection.extra_dejson or {}

    def get(key: str) -> Any:
        return extra.get(key) or extra.get(f"extra__snowflake__{key}")

    updates: dict[str, Any] = {k: get(k) for k in ("account", "warehouse", "database", "role") if get(k)}
    if connection.login:
        updates["user"] = connection.login
    if connection.password:
        updates["password"] = connection.password
    if connection.schema:
        updates["db_schema"] = connection.schema
    if not (updates.get("account") or settings.account) or not (updates.get("user") or settings.user):
        raise ProfileError(f"Airflow connection {conn_id!r} names no Snowflake account or login", hint="set its login and its extra 'account'")
    return updates


def _transient(error: BaseException) -> bool:
    """A lost connection or a Snowflake-side outage; SQL errors fail the same way again."""
    import sys

    errors = sys.modules.get("snowflake.connector.errors")
    return errors is not None and isinstance(error, errors.OperationalError | errors.InterfaceError)


def _relation_name_problem(name: str) -> str | None:
    if '"' in name:
        return "Snowflake names may not hold a double quote"
    if len(name) > 255:
        return "Snowflake names are at most 255 characters"
    return None


_DBT_OPTIONS = ("authenticator", "private_key_path", "private_key_passphrase", "query_tag", "client_session_keep_alive")


def _from_dbt(output: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """dbt-snowflake's output: account, user, password, role, warehouse, database, schema; its
    key-pair and authenticator settings go to Snowpark as connection options."""
    out = dict(output)
    settings: dict[str, Any] = {key: out.pop(key) for key in ("account", "user", "password", "role", "warehouse", "database") if key in out}
    if "schema" in out:
        settings["db_schema"] = out.pop("schema")
    options = {key: out.pop(key) for key in _DBT_OPTIONS if key in out}
    if "private_key_path" in options:
        options["private_key_file"] = options.pop("private_key_path")  # Snowpark's name for it
    if "private_key_passphrase" in options:
        options["private_key_file_pwd"] = options.pop("private_key_passphrase")
    if options:
        settings["options"] = options
    out.pop("threads", None)
    return settings, sorted(out)


ENGINE = EngineSpec[SnowflakeSnowparkSettings](
    name="snowflake_snowpark",
    dialect="snowflake",
    profile=SnowflakeSnowparkProfile,
    extra="snowflake",
    capabilities=Capabilities(transactions=False, replace="swap", frame="Snowpark DataFrame"),
    overrides={
        "FF_SF_ACCOUNT": "account",
        "FF_SF_USER": "user",
        "FF_SF_PASSWORD": "password",
        "FF_SF_ROLE": "role",
        "FF_SF_WAREHOUSE": "warehouse",
        "FF_SF_DATABASE": "database",
        "FF_SF_SCHEMA": "db_schema",
    },
    block_hint="add `snowflake_snowpark: {account: ..., user: ..., database: ...}`",
    requires=("snowflake.snowpark",),
    executor="runtime.executors.snowflake_snowpark:SnowflakeSnowparkExecutor",
    rewrites=(FoldNamesToSnowflake(), RegexpReplaceToSnowflake()),
    location=_location,
    target=lambda settings, unresolved: (settings.db_schema, settings.database),
    airflow_connection=_airflow_connection,
    transient=_transient,
    relation_name_problem=_relation_name_problem,
    dbt_types=("snowflake",),
    from_dbt=_from_dbt,
    dbt_column=DbtColumnRules(  # dbt-snowflake's SnowflakeColumn: every integer is a NUMBER(38, 0)
        integer_types=frozenset(),
        numeric_types=frozenset({"int", "integer", "bigint", "smallint", "tinyint", "byteint", "numeric", "decimal", "number"}),
    ),
)
