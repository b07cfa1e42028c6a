"""The Spark / Databricks engine, compile-time half: its profile block, DuckDB's semantics
written for Spark SQL, and how Airflow connections map onto it. The executor is
`runtime.executors.databricks_spark`, its process-wide session `runtime.executors.spark_session`.

Profile keys as the spec names them (`master`, `app_name`, `extra_conf`) plus where tables live:
`warehouse_dir` (relative to the project; default `.local/spark-warehouse` in it), `database`
and `table_format` (`parquet`, or `delta` when delta-spark and its jars are on the session).
`FF_DBR_*` variables override them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator
from sqlglot import exp

from flowforge_compiler.engine_sdk import Capabilities, EngineSpec
from flowforge_compiler.errors import ProfileError
from flowforge_compiler.paths import project_relative
from flowforge_compiler.rewrites import NotPortable, RegexpReplaceEveryMatch, Rewrite
from flowforge_compiler.yaml_files import Strict

DEFAULT_WAREHOUSE = ".local/spark-warehouse"  # relative to the project
_HIVE_NAME = re.compile(r"[A-Za-z0-9_]+")


def _relation_name_problem(name: str) -> str | None:
    """Spark's Hive metastore holds tables named with letters, digits and `_` only (and folds
    them to lower case, so two names that differ in case would be one table)."""
    if not _HIVE_NAME.fullmatch(name):
        return "Spark's Hive catalog names tables with letters, digits and _ only"
    if name != name.lower():
        return "Spark's Hive catalog folds table names to lower case; write the name in lower case"
    return None


class DatabricksSparkSettings(Strict):
    master: str = "local[*]"
    app_name: str = "flowforge"
    extra_conf: dict[str, str] = Field(default_factory=dict)  # spark.* settings for the session
    warehouse_dir: str = DEFAULT_WAREHOUSE  # relative paths (this default too) are in the project
    database: str = "default"
    table_format: Literal["parquet", "delta"] = "parquet"

    @field_validator("database")
    @classmethod
    def _catalog_name(cls, name: str) -> str:
        problem = _relation_name_problem(name)
        if problem:
            raise ValueError(f"{name!r} cannot be a Spark database: {problem.replace('tables', 'databases')}")
        return name


class DatabricksSparkProfile(Strict):
    engine: Literal["databricks_spark"]
    databricks_spark: DatabricksSparkSettings = Field(default_factory=DatabricksSparkSettings)


# -- portable SQL: DuckDB's semantics written for Spark ---------------------------------------
# DuckDB's timestamps have no time zone: the session's TIMESTAMP is TIMESTAMP_NTZ, and functions
# that still give Spark's zoned TIMESTAMP are cast back.

SPARK = "databricks"


def _spark(text: str) -> exp.Expr:
    return exp.maybe_parse(text, dialect=SPARK)


def _naive(node: exp.Expr) -> exp.Expr:
    return exp.cast(node, exp.DataType.build("timestamp_ntz", dialect=SPARK))


def _is_date(node: exp.Expr) -> bool:
    """A date the compiler can see: a DATE literal or cast, current_date, make_date."""
    if isinstance(node, exp.Cast):
        return node.to.this == exp.DataType.Type.DATE
    return isinstance(node, exp.CurrentDate | exp.DateFromParts)


class DateTruncToSpark(Rewrite):
    """DuckDB's `date_trunc` gives a timestamp without a zone; Spark's a zoned TIMESTAMP."""

    source, target, node = "duckdb", SPARK, exp.TimestampTrunc

    def apply(self, node: exp.Expr) -> exp.Expr:
        return _naive(node)


class AddToSpark(Rewrite):
    """DuckDB's `date + interval` is a timestamp; Spark's stays a date."""

    source, target, node = "duckdb", SPARK, exp.Add

    def apply(self, node: exp.Expr) -> exp.Expr:
        return _naive(node) if isinstance(node.this, exp.Interval) or isinstance(node.expression, exp.Interval) else node


class SubToSpark(AddToSpark):
    """Also DuckDB's `date - date`: a number of days, where Spark gives an interval."""

    source, target, node = "duckdb", SPARK, exp.Sub  # type: ignore[assignment]

    def apply(self, node: exp.Expr) -> exp.Expr:
        left, right = node.this, node.expression
        if isinstance(left, exp.Interval) or isinstance(right, exp.Interval):
            return _naive(node)
        if _is_date(left) or _is_date(right):
            return exp.Anonymous(this="DATEDIFF", expressions=[left, right])
        return node


class ExtractToSpark(Rewrite):
    """DuckDB counts `dow` from Sunday = 0, Spark from Sunday = 1."""

    source, target, node = "duckdb", SPARK, exp.Extract

    def apply(self, node: exp.Expr) -> exp.Expr:
        if node.this.name.lower() in ("dow", "dayofweek"):
            return exp.paren(exp.Sub(this=node, expression=exp.Literal.number(1)))
        return node


class DayOfWeekToSpark(Rewrite):
    source, target, node = "duckdb", SPARK, exp.DayOfWeek

    def apply(self, node: exp.Expr) -> exp.Expr:
        return exp.paren(exp.Sub(this=exp.Anonymous(this="DAYOFWEEK", expressions=[node.this]), expression=exp.Literal.number(1)))


class IsoDayOfWeekToSpark(Rewrite):
    """`isodow`: Monday = 1 ... Sunday = 7 (sqlglot's Spark form is off by one day)."""

    source, target, node = "duckdb", SPARK, exp.DayOfWeekIso

    def apply(self, node: exp.Expr) -> exp.Expr:
        return _spark(f"((DAYOFWEEK({node.this.sql(SPARK)}) + 5) % 7 + 1)")


class DayNameToSpark(Rewrite):
    """dayname() and monthname(): the full names (sqlglot's Spark forms give `Tue`, `Mar`)."""

    source, target, node = "duckdb", SPARK, exp.Dayname
    pattern = "EEEE"

    def apply(self, node: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="DATE_FORMAT", expressions=[node.this, exp.Literal.string(self.pattern)])


class MonthNameToSpark(DayNameToSpark):
    source, target, node = "duckdb", SPARK, exp.Monthname  # type: ignore[assignment]
    pattern = "MMMM"


class DateDiffToSpark(Rewrite):
    """date_diff('month' | 'quarter' | 'year', start, end) counts the boundaries crossed (DuckDB:
    January 31 to February 1 is one month), and 'day' and 'week' the days between the two dates
    (the times dropped; whole weeks toward zero); Spark's counts whole months, 24-hour days."""

    source, target, node = "duckdb", SPARK, exp.DateDiff
    per_year = {"month": ("MONTH", 12), "quarter": ("QUARTER", 4), "year": (None, 1)}

    def apply(self, node: exp.Expr) -> exp.Expr:
        unit = node.args.get("unit")
        name = unit.name.lower().rstrip("s") if unit is not None else "day"
        if name in ("day", "week"):
            date = exp.DataType.build("date")
            days = exp.Anonymous(this="DATEDIFF", expressions=[exp.cast(node.this, date), exp.cast(node.expression, date)])
            counted = exp.Div(this=days, expression=exp.Literal.number(7)) if name == "week" else days
            return exp.cast(counted, exp.DataType.build("bigint"))
        if name not in self.per_year:
            return node
        part, per_year = self.per_year[name]

        def ordinal(value: exp.Expr) -> exp.Expr:
            years = exp.Anonymous(this="YEAR", expressions=[value.copy()])
            if part is None:
                return years
            counted = exp.Mul(this=years, expression=exp.Literal.number(per_year))
            return exp.Add(this=counted, expression=exp.Anonymous(this=part, expressions=[value.copy()]))

        difference = exp.Sub(this=exp.paren(ordinal(node.this)), expression=exp.paren(ordinal(node.expression)))
        return exp.cast(difference, exp.DataType.build("bigint"))


class TryCastToSpark(Rewrite):
    """DuckDB's `try_cast('1.5' AS INT)` rounds to 2; Spark's gives NULL for a fraction."""

    source, target, node = "duckdb", SPARK, exp.TryCast

    def apply(self, node: exp.Expr) -> exp.Expr:
        to = node.args["to"]
        if to.this not in (exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT):
            return node
        number = exp.TryCast(this=node.this, to=exp.DataType.build("decimal(38, 18)"))
        return exp.TryCast(this=exp.Round(this=number), to=to)


class LengthToSpark(Rewrite):
    """`len([...])` of a list literal is Spark's size(); of text, its length()."""

    source, target, node = "duckdb", SPARK, exp.Length

    def apply(self, node: exp.Expr) -> exp.Expr:
        return exp.ArraySize(this=node.this) if isinstance(node.this, exp.Array) else node


class ArrayAggToSpark(Rewrite):
    """DuckDB's `array_agg` keeps NULLs and its ORDER BY, and is NULL over no rows; Spark's
    collect_list drops both and is empty. Each value travels in a struct behind its sort keys,
    sorted, then unwrapped."""

    source, target, node = "duckdb", SPARK, exp.ArrayAgg

    def apply(self, node: exp.Expr) -> exp.Expr:
        value, keys, descending = node.this, [], False
        if isinstance(value, exp.Distinct):
            return node
        if isinstance(value, exp.Order):
            orders = value.expressions
            directions = {bool(o.args.get("desc")) for o in orders}
            if len(directions) > 1:
                raise NotPortable("array_agg(... ORDER BY a ASC, b DESC)", self.target, "order every key the same way")
            descending = directions.pop()
            keys, value = [o.this for o in orders], value.this
        fields: list[exp.Expr] = []
        for i, key in enumerate(keys):
            fields += [exp.Literal.string(f"k{i}"), key]
        fields += [exp.Literal.string("v"), value]
        collected: exp.Expr = exp.Anonymous(this="COLLECT_LIST", expressions=[exp.Anonymous(this="NAMED_STRUCT", expressions=fields)])
        if keys:
            collected = exp.Anonymous(this="ARRAY_SORT", expressions=[collected])
            if descending:
                collected = exp.Anonymous(this="REVERSE", expressions=[collected])
        unwrap = exp.Lambda(this=exp.Dot(this=exp.column("ff_x"), expression=exp.to_identifier("v")), expressions=[exp.to_identifier("ff_x")])
        values = exp.Transform(this=collected, expression=unwrap)
        if isinstance(node.parent, exp.Window):
            return values
        # over no rows DuckDB's array_agg is NULL, collect_list an empty array
        return exp.If(this=exp.EQ(this=exp.Count(this=exp.Literal.number(1)), expression=exp.Literal.number(0)), true=exp.Null(), false=values)


class RegexpReplaceToSpark(RegexpReplaceEveryMatch):
    target = SPARK


class PercentileContToSpark(Rewrite):
    source, target, node = "duckdb", SPARK, exp.PercentileCont

    def apply(self, node: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])


class GenerateSeriesToSpark(Rewrite):
    """`FROM range(n)` / `generate_series(a, b)`: Spark's range() (end exclusive, column `id`,
    renamed as DuckDB names it)."""

    source, target, node = "duckdb", SPARK, exp.Table

    def apply(self, node: exp.Expr) -> exp.Expr:
        series = node.this
        if not isinstance(series, exp.GenerateSeries):
            return node
        start, end, step = series.args.get("start"), series.args["end"], series.args.get("step")
        if isinstance(step, exp.Interval) or not (start is None or start.is_int) or not end.is_int:
            raise NotPortable("range/generate_series over non-integer literals", self.target, "generate the rows with sequence() and config(transpile=false)")
        if step is not None and not step.is_int:
            raise NotPortable("range/generate_series with a computed step", self.target, "write the step as a number")
        exclusive = series.args.get("is_end_exclusive")
        direction = -1 if step is not None and int(step.name) < 0 else 1
        bound = end if exclusive else exp.Literal.number(int(end.name) + direction)
        arguments = [start or exp.Literal.number(0), bound, *([step] if step is not None else [])]
        alias = node.args.get("alias")
        if alias is None or not alias.columns:
            column = "range" if exclusive else "generate_series"
            alias = exp.TableAlias(this=alias.this if alias is not None else exp.to_identifier(column), columns=[exp.to_identifier(column)])
        return exp.Table(this=exp.Anonymous(this="RANGE", expressions=arguments), alias=alias)


# -- the SDK entry --------------------------------------------------------------------------------


def _location(settings: DatabricksSparkSettings, root: Path, unresolved: Mapping[str, str]) -> dict[str, str]:
    warehouse = settings.warehouse_dir
    if "databricks_spark.warehouse_dir" not in unresolved:
        warehouse = project_relative(Path(warehouse), root)
    return {"master": settings.master, "warehouse_dir": warehouse, "database": settings.database, "table_format": settings.table_format}


def _airflow_connection(settings: DatabricksSparkSettings, connection: Any, conn_id: str) -> dict[str, Any]:
    """Airflow's spark connection: the master in host (`spark://h`, `yarn`, `local[*]`) and
    port; the extra may hold FlowForge's other keys."""
    host = connection.host
    if not host:
        raise ProfileError(f"Airflow connection {conn_id!r} has no Spark master (set its host: local[*], yarn or spark://host)")
    master = f"{host}:{connection.port}" if connection.port else host
    extra = connection.extra_dejson or {}
    known = set(DatabricksSparkSettings.model_fields) - {"master"}
    return {"master": master, **{k: v for k, v in extra.items() if k in known}}


def _orchestrator_problem(settings: DatabricksSparkSettings) -> str | None:
    if settings.extra_conf.get("spark.sql.catalogImplementation", "hive") == "in-memory":
        return (
            "an in-memory Spark catalog lives as long as one process, and every Airflow or Prefect task runs in its own, "
            "so each would start from an empty catalog"
        )
    return None


def _asset_namespace(settings: DatabricksSparkSettings, root: Path, unresolved: Mapping[str, str]) -> str | None:
    """`file://<warehouse>` (plus `/<database>.db` outside `default`): where Spark keeps the
    tables, as OpenLineage names file-based datasets."""
    if "databricks_spark.warehouse_dir" in unresolved:
        return None
    warehouse = Path(root / settings.warehouse_dir).resolve()
    folder = "" if settings.database == "default" else f"/{settings.database}.db"
    return "file://" + quote(str(warehouse) + folder, safe="/")


def _transient(error: BaseException) -> bool:
    """A lost connection to the JVM; Spark's analysis and execution errors fail the same way again."""
    py4j = sys.modules.get("py4j.protocol")
    return py4j is not None and isinstance(error, py4j.Py4JNetworkError)


ENGINE = EngineSpec[DatabricksSparkSettings](
    name="databricks_spark",
    dialect=SPARK,
    profile=DatabricksSparkProfile,
    extra="spark",
    capabilities=Capabilities(transactions=False, single_writer=True, frame="Spark DataFrame"),
    overrides={
        "FF_DBR_MASTER": "master",
        "FF_DBR_APPNAME": "app_name",
        "FF_DBR_WAREHOUSE_DIR": "warehouse_dir",
        "FF_DBR_DATABASE": "database",
        "FF_DBR_TABLE_FORMAT": "table_format",
    },
    path_keys=("warehouse_dir",),
    requires=("pyspark",),
    executor="runtime.executors.databricks_spark:DatabricksSparkExecutor",
    rewrites=(
        DateTruncToSpark(), AddToSpark(), SubToSpark(), ExtractToSpark(), DayOfWeekToSpark(), IsoDayOfWeekToSpark(),
        TryCastToSpark(), LengthToSpark(), ArrayAggToSpark(), PercentileContToSpark(), GenerateSeriesToSpark(), RegexpReplaceToSpark(),
        DayNameToSpark(), MonthNameToSpark(), DateDiffToSpark(),
    ),
    location=_location,
    target=lambda settings, unresolved: (settings.database, None),
    airflow_connection=_airflow_connection,
    orchestrator_problem=_orchestrator_problem,
    transient=_transient,
    asset_namespace=_asset_namespace,
    relation_name_problem=_relation_name_problem,
)
