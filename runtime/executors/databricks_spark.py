"""The Spark / Databricks engine (PySpark): profile, SDK entry (Spark SQL) and executor.

Profile keys as the spec names them (`master`, `app_name`, `extra_conf`) plus where tables live:
`warehouse_dir` (relative to the project; default `.local/spark-warehouse` in it), `database`
and `table_format` (`parquet`, or `delta` when delta-spark and its jars are on the session).
`FF_DBR_*` variables override them.

One SparkSession per process, started on first use and kept until the process exits (a JVM
is too slow to start per model). Its catalog is a Hive metastore in an embedded Derby database
beside the warehouse (`<warehouse_dir>-metastore`), so tables, views and `_ff_meta` outlive the
process, which is what the cache and orchestrator tasks need. Derby lets one process open it at
a time: FlowForge holds a lock file there while the session lives, a second process waits for it
(`lock_timeout`) like DuckDB's file lock, and orchestrators run a Spark DAG one task at a time.

Spark has no transactions. A table is built under `<name>__ff_tmp` and swapped in by two renames
(the old table to `<name>__ff_old`, the new one to its name), then published in `_ff_meta`: a
failed build leaves the old table untouched, and a run killed between the renames leaves the old
table under `__ff_old`, which the next build of that node puts back before it starts.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator
from sqlglot import exp

from flowforge_compiler.engine_sdk import Capabilities, EngineSpec
from flowforge_compiler.errors import ProfileError
from flowforge_compiler.paths import project_relative
from flowforge_compiler.plan import PlanNode, Relation
from flowforge_compiler.profiles import Profile
from flowforge_compiler.yaml_files import Strict
from flowforge_compiler.rewrites import NotPortable, RegexpReplaceEveryMatch, Rewrite
from runtime.executors.base import META_TABLE, TEMP_SUFFIX, RelationKind, WithoutTransactions, throwaway_schema
from runtime.statements import Name

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("flowforge")

DEFAULT_WAREHOUSE = ".local/spark-warehouse"  # relative to the project
OLD_SUFFIX = "__ff_old"  # the previous table while a new one is swapped in
MERGE_SUFFIX = "__ff_merge"  # an incremental table's next version, on formats without DELETE
_DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


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


# -- the process's one session ---------------------------------------------------------------


@dataclass(frozen=True)
class _SessionPlace:
    """Where a session keeps its tables and catalog: fixed for the life of the process."""

    master: str
    warehouse: Path
    table_format: str

    @property
    def metastore(self) -> Path:
        return self.warehouse.with_name(self.warehouse.name + "-metastore")

    def session_conf(self, settings: DatabricksSparkSettings) -> dict[str, str]:
        """The measured start-up settings (notes: 4-10 s instead of 16-21 s; with the JIT
        stopped at C1 the default code cache fills after a few hundred models and the JVM turns
        interpreter-only, so it is made larger), a persistent Hive catalog, DuckDB's timestamp
        semantics (no time zone), then the profile's own settings."""
        derby = self.metastore / "metastore_db"
        return {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.warehouse.dir": str(self.warehouse),
            "spark.sql.catalogImplementation": "hive",
            "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={derby};create=true",
            "spark.driver.extraJavaOptions": (
                f'-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m "-Dderby.system.home={self.metastore}" "-Dlog4j2.configurationFile={_LOG_CONFIG}"'
            ),
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.timestampType": "TIMESTAMP_NTZ",
            "spark.sql.legacy.createHiveTableByDefault": "false",
            **(_DELTA_CONF if self.table_format == "delta" else {}),
            **settings.extra_conf,
        }


_SESSION_LOCK = threading.Lock()
_SESSION: tuple[_SessionPlace, Any, int] | None = None  # (place, SparkSession, lock file descriptor)
_UNSAFE_PATH = set(';"\\\n\r')  # would change Derby's URL or the JVM's options
_LOG_CONFIG = Path(__file__).with_name("spark_log4j2.properties")


def _place(settings: DatabricksSparkSettings) -> _SessionPlace:
    warehouse = Path(settings.warehouse_dir).resolve()
    if _UNSAFE_PATH & set(str(warehouse)):
        raise ProfileError(
            f"databricks_spark.warehouse_dir {str(warehouse)!r} holds a character Spark's metastore URL or JVM options cannot carry (; \" \\ or a newline)",
            hint="choose a folder whose path has none of them",
        )
    return _SessionPlace(settings.master, warehouse, settings.table_format)


def spark_session(settings: DatabricksSparkSettings, profile: str, lock_timeout: float) -> Any:
    """A session of its own (current database, SQL settings) on the process's SparkContext and
    catalog, which start on first use. A profile that needs another master, warehouse, table
    format or start-up setting is refused: Spark keeps one context per process."""
    global _SESSION
    place = _place(settings)
    with _SESSION_LOCK:
        if _SESSION is None:
            place.metastore.mkdir(parents=True, exist_ok=True)
            fd = _lock_metastore(place, lock_timeout)
            try:
                root = _start(place, settings)
            except BaseException:
                os.close(fd)
                raise
            _SESSION = (place, root, fd)
        running, root, _fd = _SESSION
    if running != place:
        raise ProfileError(
            f"profile {profile!r} needs a Spark session on {place.master} with the warehouse {place.warehouse} ({place.table_format}), "
            f"but this process already runs one on {running.master} with {running.warehouse} ({running.table_format})",
            hint="Spark keeps one session per process: run the other profile in its own process",
        )
    session = root.newSession()
    started = root.sparkContext.getConf()
    for key, value in settings.extra_conf.items():
        if session.conf.isModifiable(key):
            session.conf.set(key, value)
        elif started.get(key) != value:
            raise ProfileError(
                f"profile {profile!r} sets {key}={value!r}, a start-up setting this process's Spark session has as {started.get(key)!r}",
                hint="Spark fixes start-up settings for the life of the process: run the profile in its own process",
            )
    return session


def _lock_metastore(place: _SessionPlace, lock_timeout: float) -> int:
    """Hold `flowforge.lock` in the metastore folder: Derby opens in one process at a time."""
    path = place.metastore / "flowforge.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + lock_timeout
    delay = 0.1
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = path.read_text(encoding="utf-8").strip() or "unknown"
                os.close(fd)
                raise ProfileError(
                    f"the Spark warehouse {place.warehouse} is in use by another process (PID {holder}); waited {lock_timeout:g}s",
                    hint="its Derby metastore allows one process at a time: wait for it to finish, or raise --lock-timeout",
                    transient=True,
                ) from None
            log.info("waiting for the Spark warehouse %s, held by another process", place.warehouse)
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 2.0)


def _start(place: _SessionPlace, settings: DatabricksSparkSettings) -> Any:
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise ProfileError(
            "Spark needs a Java runtime, and there is no `java` on PATH (nor JAVA_HOME)",
            hint="install Java 17 or later (Debian: apt-get install default-jre-headless), or set JAVA_HOME",
        )
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(place.master).appName(settings.app_name)
    for key, value in place.session_conf(settings).items():
        builder = builder.config(key, value)
    started = time.perf_counter()
    with warnings.catch_warnings():  # that pyspark does not yet support pandas 3: FlowForge hands Spark Arrow, not pandas
        warnings.simplefilter("ignore", FutureWarning)
        session = builder.enableHiveSupport().getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    log.info("started Spark %s on %s in %.1fs", session.version, place.master, time.perf_counter() - started)
    if place.table_format == "delta" and not _has_class(session, "io.delta.tables.DeltaTable"):
        raise ProfileError(
            "databricks_spark.table_format is delta, but the Spark session has no Delta Lake classes",
            hint="install delta-spark and put its jars on the session (extra_conf: spark.jars or spark.jars.packages), or use table_format: parquet",
        )
    return session


def _has_class(session: Any, name: str) -> bool:
    try:
        session.sparkContext._jvm.java.lang.Class.forName(name)
    except Exception:  # noqa: BLE001 - py4j wraps ClassNotFoundException
        return False
    return True


# -- the executor ------------------------------------------------------------------------------


class DatabricksSparkExecutor(WithoutTransactions):
    engine = "databricks_spark"

    def __init__(self, profile: Profile, *, lock_timeout: float = 60.0):
        super().__init__(profile, lock_timeout=lock_timeout)
        settings: DatabricksSparkSettings = profile.engine_settings
        self.database = settings.database
        self.table_format = settings.table_format
        self.session = spark_session(settings, profile.name, lock_timeout)
        self.create_if_missing(self.statements.create_schema(self.database), self._database_exists)
        self.execute(self.statements.sql(exp.Use(this=exp.to_identifier(self.database, quoted=True))))
        self._append_lock = threading.RLock()  # held by an append, then by its publish
        self._meta_tidy = False

    def _database_exists(self) -> bool:
        return bool(self.session.catalog.databaseExists(self.database))

    # -- primitives -------------------------------------------------------------------------

    def _execute(self, sql: str) -> None:
        self.session.sql(sql)  # statements run when issued; only queries are lazy

    def read_arrow(self, sql: str) -> pa.Table:
        return self.session.sql(sql).toArrow()

    def fetch_rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.session.sql(sql).collect()]

    def create_table_from_arrow(self, relation: Name, data: pa.Table) -> None:
        self._save(self.session.createDataFrame(_sparkable(data)), relation)

    def _save(self, frame: Any, relation: Name) -> None:
        """Write a DataFrame as a new table, named in this executor's database (a frame made by
        another session would otherwise land in that session's)."""
        name = relation if isinstance(relation, Relation) else Relation(schema=self.database, name=relation)
        frame.write.format(self.table_format).mode("errorifexists").saveAsTable(self.quote(name))

    def relation_kind(self, relation: Name) -> RelationKind | None:
        from pyspark.errors import AnalysisException

        name = relation if isinstance(relation, Relation) else Relation(schema=self.database, name=relation)
        try:
            table = self.session.catalog.getTable(self.quote(name))
        except AnalysisException:
            return None
        return "view" if table.tableType == "VIEW" else "table"

    def existing_relations(self) -> set[str]:
        return {table.name for table in self.session.catalog.listTables(self.database) if not table.isTemporary}

    def close(self) -> None:
        """Nothing to release: the session serves the process until it exits."""

    # -- no transactions: swap by renames, put back what a killed run left -----------------------

    def build(self, plan: Any, node: PlanNode, root: Path, *, full_refresh: bool = False) -> Any:
        if node.materialization != "ephemeral":
            self._put_back(node.relation)
        return super().build(plan, node, root, full_refresh=full_refresh)

    def _put_back(self, relation: str) -> None:
        """A run killed between the two renames of a swap left the previous table as `__ff_old`."""
        old = relation + OLD_SUFFIX
        if self.relation_kind(old) != "table":
            return
        if self.relation_kind(relation) is None:
            log.warning("%s: putting back the previous table, left as %s by a run that stopped mid-swap", relation, old)
            self.execute(self.statements.rename(old, relation))
        else:
            self.execute(self.statements.drop("table", old))

    def swap_in(self, tmp: str, relation: str) -> None:
        old = relation + OLD_SUFFIX
        self.execute(self.statements.drop("table", old, if_exists=True))
        kind = self.relation_kind(relation)
        if kind == "view":
            self.execute(self.statements.drop("view", relation))
        elif kind == "table":
            self.execute(self.statements.rename(relation, old))
        self.execute(self.statements.rename(tmp, relation))
        self.execute(self.statements.drop("table", old, if_exists=True))

    def apply_incremental(self, node: PlanNode, create: Callable[[str], int | None]) -> int:
        """Append with INSERT; merge and delete+insert write the kept and the new rows as the
        table's next version and swap it in (Parquet tables take no DELETE)."""
        if node.config.incremental_strategy not in ("merge", "delete+insert"):
            with self._append_lock:  # concurrent appends to one table clash in its _temporary folder
                return super().apply_incremental(node, create)
        tmp, merged = node.relation + TEMP_SUFFIX, node.relation + MERGE_SUFFIX
        self.execute(self.statements.drop("table", tmp, if_exists=True))
        self.execute(self.statements.drop("table", merged, if_exists=True))
        create(tmp)
        try:
            columns = self.same_columns(node, tmp)
            rows = self.count_rows(tmp)
            self.create_table_as(merged, self.statements.kept_and_new(node.relation, tmp, node.config.unique_key, columns))
            self.swap_in(merged, node.relation)
        finally:
            self._drop_quietly(merged)
            self._drop_quietly(tmp)
        return rows

    def publish(self, node: PlanNode) -> None:
        with self._append_lock:  # each INSERT adds a file to _ff_meta; parallel ones clash
            super().publish(node)

    META_FILES_KEPT = 200  # `_ff_meta` files before they are written again as one

    def _ensure_meta(self) -> None:
        self._tidy_meta()
        super()._ensure_meta()

    def read_meta(self) -> dict[str, Any]:
        self._tidy_meta()
        return super().read_meta()

    def _tidy_meta(self) -> None:
        """Once per executor, before `_ff_meta` is first read or written: put back a table a
        killed compaction left aside, and compact it."""
        with self._append_lock:
            if self._meta_tidy:
                return
            self._meta_tidy = True
            self._put_back(META_TABLE)
            if self.relation_kind(META_TABLE) == "table":
                self._compact_meta()

    def _compact_meta(self) -> None:
        """Every build appends one small file to `_ff_meta`; past META_FILES_KEPT they are
        written again as one (every row kept, swapped in like a model), so reading it for the
        cache stays one short scan however many runs there were."""
        files = self.session.table(self.quote(Relation(schema=self.database, name=META_TABLE))).inputFiles()
        if len(files) <= self.META_FILES_KEPT:
            return
        query = self.statements.select_all(META_TABLE)
        query.set("hint", exp.Hint(expressions=[exp.Anonymous(this="COALESCE", expressions=[exp.Literal.number(1)])]))
        log.info("writing the %d files of %s again as one", len(files), META_TABLE)
        self.replace_table(META_TABLE, lambda tmp: self.create_table_as(tmp, self.statements.sql(query)))

    # -- Python models on Spark DataFrames ----------------------------------------------------------

    def input_frame(self, node: PlanNode) -> Any:
        if node.materialization == "ephemeral":
            return self.session.sql(self.node_query(node))
        return self.session.table(self.quote(Relation(schema=self.database, name=node.relation)))

    native_frame = "Spark DataFrame"

    def model_rows(self, frame: Any, node: PlanNode) -> Any:
        from pyspark.sql import DataFrame

        if isinstance(frame, DataFrame):
            return frame
        return self.session.createDataFrame(_sparkable(super().model_rows(frame, node)))

    def table_from_rows(self, relation: str, rows: Any) -> int:
        self._save(rows, relation)
        return self.count_rows(relation)


def _sparkable(data: pa.Table) -> pa.Table:
    """Arrow types Spark reads: dictionaries decoded, large strings plain, timestamps in µs."""
    import pyarrow as pa

    columns = []
    for column in data.columns:
        kind = column.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        if pa.types.is_large_string(kind):
            column = column.cast(pa.string())
        elif pa.types.is_timestamp(kind) and kind.unit == "ns":
            column = column.cast(pa.timestamp("us", kind.tz), safe=False)
        columns.append(column)
    return pa.table(columns, names=data.column_names)


# -- portable SQL: DuckDB's semantics written for Spark ---------------------------------------
# DuckDB's timestamps have no time zone: the session's TIMESTAMP is TIMESTAMP_NTZ, and functions
# that still give Spark's zoned TIMESTAMP are cast back.

SPARK = "databricks"


def _spark(text: str) -> exp.Expression:
    return exp.maybe_parse(text, dialect=SPARK)


def _naive(node: exp.Expression) -> exp.Expression:
    return exp.cast(node, exp.DataType.build("timestamp_ntz", dialect=SPARK))


def _is_date(node: exp.Expression) -> bool:
    """A date the compiler can see: a DATE literal or cast, current_date, make_date."""
    if isinstance(node, exp.Cast):
        return node.to.this == exp.DataType.Type.DATE
    return isinstance(node, exp.CurrentDate | exp.DateFromParts)


class DateTruncToSpark(Rewrite):
    """DuckDB's `date_trunc` gives a timestamp without a zone; Spark's a zoned TIMESTAMP."""

    source, target, node = "duckdb", SPARK, exp.TimestampTrunc

    def apply(self, node: exp.Expression) -> exp.Expression:
        return _naive(node)


class AddToSpark(Rewrite):
    """DuckDB's `date + interval` is a timestamp; Spark's stays a date."""

    source, target, node = "duckdb", SPARK, exp.Add

    def apply(self, node: exp.Expression) -> exp.Expression:
        return _naive(node) if isinstance(node.this, exp.Interval) or isinstance(node.expression, exp.Interval) else node


class SubToSpark(AddToSpark):
    """Also DuckDB's `date - date`: a number of days, where Spark gives an interval."""

    source, target, node = "duckdb", SPARK, exp.Sub

    def apply(self, node: exp.Expression) -> exp.Expression:
        left, right = node.this, node.expression
        if isinstance(left, exp.Interval) or isinstance(right, exp.Interval):
            return _naive(node)
        if _is_date(left) or _is_date(right):
            return exp.Anonymous(this="DATEDIFF", expressions=[left, right])
        return node


class ExtractToSpark(Rewrite):
    """DuckDB counts `dow` from Sunday = 0, Spark from Sunday = 1."""

    source, target, node = "duckdb", SPARK, exp.Extract

    def apply(self, node: exp.Expression) -> exp.Expression:
        if node.this.name.lower() in ("dow", "dayofweek"):
            return exp.paren(exp.Sub(this=node, expression=exp.Literal.number(1)))
        return node


class DayOfWeekToSpark(Rewrite):
    source, target, node = "duckdb", SPARK, exp.DayOfWeek

    def apply(self, node: exp.Expression) -> exp.Expression:
        return exp.paren(exp.Sub(this=exp.Anonymous(this="DAYOFWEEK", expressions=[node.this]), expression=exp.Literal.number(1)))


class IsoDayOfWeekToSpark(Rewrite):
    """`isodow`: Monday = 1 ... Sunday = 7 (sqlglot's Spark form is off by one day)."""

    source, target, node = "duckdb", SPARK, exp.DayOfWeekIso

    def apply(self, node: exp.Expression) -> exp.Expression:
        return _spark(f"((DAYOFWEEK({node.this.sql(SPARK)}) + 5) % 7 + 1)")


class TryCastToSpark(Rewrite):
    """DuckDB's `try_cast('1.5' AS INT)` rounds to 2; Spark's gives NULL for a fraction."""

    source, target, node = "duckdb", SPARK, exp.TryCast

    def apply(self, node: exp.Expression) -> exp.Expression:
        to = node.args["to"]
        if to.this not in (exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT):
            return node
        number = exp.TryCast(this=node.this, to=exp.DataType.build("decimal(38, 18)"))
        return exp.TryCast(this=exp.Round(this=number), to=to)


class LengthToSpark(Rewrite):
    """`len([...])` of a list literal is Spark's size(); of text, its length()."""

    source, target, node = "duckdb", SPARK, exp.Length

    def apply(self, node: exp.Expression) -> exp.Expression:
        return exp.ArraySize(this=node.this) if isinstance(node.this, exp.Array) else node


class ArrayAggToSpark(Rewrite):
    """DuckDB's `array_agg` keeps NULLs and its ORDER BY, and is NULL over no rows; Spark's
    collect_list drops both and is empty. Each value travels in a struct behind its sort keys,
    sorted, then unwrapped."""

    source, target, node = "duckdb", SPARK, exp.ArrayAgg

    def apply(self, node: exp.Expression) -> exp.Expression:
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
        fields: list[exp.Expression] = []
        for i, key in enumerate(keys):
            fields += [exp.Literal.string(f"k{i}"), key]
        fields += [exp.Literal.string("v"), value]
        collected: exp.Expression = exp.Anonymous(this="COLLECT_LIST", expressions=[exp.Anonymous(this="NAMED_STRUCT", expressions=fields)])
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

    def apply(self, node: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])


class GenerateSeriesToSpark(Rewrite):
    """`FROM range(n)` / `generate_series(a, b)`: Spark's range() (end exclusive, column `id`,
    renamed as DuckDB names it)."""

    source, target, node = "duckdb", SPARK, exp.Table

    def apply(self, node: exp.Expression) -> exp.Expression:
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


ENGINE = EngineSpec(
    name="databricks_spark",
    dialect=SPARK,
    profile=DatabricksSparkProfile,
    extra="spark",
    capabilities=Capabilities(transactions=False, create_or_replace=False, single_writer=True, frame="spark"),
    overrides={
        "FF_DBR_MASTER": "master",
        "FF_DBR_APPNAME": "app_name",
        "FF_DBR_WAREHOUSE_DIR": "warehouse_dir",
        "FF_DBR_DATABASE": "database",
        "FF_DBR_TABLE_FORMAT": "table_format",
    },
    path_keys=("warehouse_dir",),
    requires=("pyspark",),
    executor=lambda: DatabricksSparkExecutor,
    rewrites=(
        DateTruncToSpark(), AddToSpark(), SubToSpark(), ExtractToSpark(), DayOfWeekToSpark(), IsoDayOfWeekToSpark(),
        TryCastToSpark(), LengthToSpark(), ArrayAggToSpark(), PercentileContToSpark(), GenerateSeriesToSpark(), RegexpReplaceToSpark(),
    ),
    location=_location,
    target=lambda settings, unresolved: (settings.database, None),
    airflow_connection=_airflow_connection,
    isolated=lambda profile: throwaway_schema(profile, DatabricksSparkExecutor, "database"),  # a throw-away database
    orchestrator_problem=_orchestrator_problem,
    transient=_transient,
    asset_namespace=_asset_namespace,
    relation_name_problem=_relation_name_problem,
)
