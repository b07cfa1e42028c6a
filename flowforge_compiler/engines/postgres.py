"""The PostgreSQL engine, compile-time half: its profile block, DuckDB's semantics written for
PostgreSQL, and how dbt outputs and Airflow connections map onto it. The executor is
`runtime.executors.postgres`."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from sqlglot import exp

from flowforge_compiler.dsn import dsn_from_parts, parse_dsn
from flowforge_compiler.engine_sdk import Capabilities, DbtColumnRules, EngineSpec
from flowforge_compiler.errors import ProfileError
from flowforge_compiler.rewrites import NotPortable, Rewrite
from flowforge_compiler.yaml_files import Strict


class PostgresSettings(Strict):
    dsn: str
    db_schema: str = "public"


class PostgresProfile(Strict):
    engine: Literal["postgres"]
    postgres: PostgresSettings


# -- portable SQL: DuckDB's semantics written for PostgreSQL ------------------------------------
# These forms stay correct whatever the argument's type (which the compiler does not know):
# overloaded helper functions choose by type, and `x + interval '0 seconds'` turns a date into a
# timestamp but leaves timestamps as they are.

_INTEGER_RANGES = {  # (smallest, largest): two's complement reaches one further below zero
    exp.DataType.Type.SMALLINT: (-32768, 32767),
    exp.DataType.Type.INT: (-2147483648, 2147483647),
    exp.DataType.Type.BIGINT: (-9223372036854775808, 9223372036854775807),
}
_FLOATING = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT, exp.DataType.Type.DECIMAL}
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_FLOAT = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|inf|infinity|nan)$"


def _sql(text: str) -> exp.Expr:
    return exp.maybe_parse(text, dialect="postgres")


class TryCastToPostgres(Rewrite):
    """DuckDB's `try_cast(x AS INT)` is NULL for text that is no number and for overflow, and
    rounds `'2.5'` to 3; PostgreSQL has no try_cast (sqlglot writes a plain CAST, which fails
    on dirty text)."""

    source, target, node = "duckdb", "postgres", exp.TryCast

    def apply(self, node: exp.Expr) -> exp.Expr:
        to = node.args["to"]
        kind = to.this
        text = f"TRIM(CAST({node.this.sql('postgres')} AS TEXT))"
        if kind in _INTEGER_RANGES:
            low, high = _INTEGER_RANGES[kind]
            number = f"ROUND(CAST({text} AS NUMERIC))"
            return _sql(
                f"CASE WHEN NOT {text} ~ '{_NUMBER}' THEN NULL "
                f"WHEN {number} BETWEEN {low} AND {high} THEN CAST({number} AS {to.sql('postgres')}) END"
            )
        if kind in _FLOATING:
            return _sql(f"CASE WHEN {text} ~* '{_FLOAT}' THEN CAST({text} AS {to.sql('postgres')}) END")
        raise NotPortable(
            f"try_cast(... AS {to.sql('duckdb')})",
            self.target,
            "PostgreSQL has no try_cast; FlowForge emulates it for integer and floating types only: "
            "use cast() where the text is clean, or config(transpile=false)",
        )


def _sql_file(name: str) -> tuple[str, ...]:
    """The statements of a .sql file beside this module (a line holding only ';' separates them),
    without its `-- ` header lines."""
    text = Path(__file__).with_name(name).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("-- "))
    return tuple(part.strip() for part in body.split("\n;\n") if part.strip())


# DuckDB's round(double, n) is the exact binary value rounded half away from zero (checked on
# 12,000 values); `floor(x * 10^n + 0.5)` misses about 1% of two-decimal values (2.675 -> 2.68).
# The double overload works on the exact value (decoded from the IEEE bits, so in whole numbers);
# the numeric one is PostgreSQL's own half-away round. Overloads choose by the argument's type,
# which the compiler does not know.
POSTGRES_ROUND = _sql_file("postgres_round.sql")


class RoundToPostgres(Rewrite):
    """DuckDB rounds halves away from zero for every type; PostgreSQL's `round(double)` rounds
    them to even and `round(double, n)` does not exist."""

    source, target, node = "duckdb", "postgres", exp.Round
    support = POSTGRES_ROUND

    def apply(self, node: exp.Expr) -> exp.Expr:
        decimals = node.args.get("decimals") or exp.Literal.number(0)
        return exp.Anonymous(this="ff_round_v1", expressions=[node.this, exp.cast(decimals, "int")])


class DateTruncToPostgres(Rewrite):
    """DuckDB's `date_trunc` of a date is a timestamp; PostgreSQL's is a timestamp with time
    zone. Adding a zero interval makes a date a timestamp and leaves timestamps alone."""

    source, target, node = "duckdb", "postgres", exp.TimestampTrunc

    def apply(self, node: exp.Expr) -> exp.Expr:
        unit = node.args["unit"].name.lower()
        return _sql(f"DATE_TRUNC('{unit}', {node.this.sql('postgres')} + INTERVAL '0 seconds')")


class StarModifiersToPostgres(Rewrite):
    """`SELECT * EXCLUDE (...)` and `* REPLACE (...)` need the column list, which the compiler
    does not know."""

    source, target, node = "duckdb", "postgres", exp.Star

    def apply(self, node: exp.Expr) -> exp.Expr:
        for key, construct in (("except_", "SELECT * EXCLUDE (...)"), ("replace", "SELECT * REPLACE (...)")):
            if node.args.get(key):
                raise NotPortable(construct, self.target, "list the columns you want instead")
        return node


class RangeColumnToPostgres(Rewrite):
    """`FROM range(n)`: DuckDB names its column `range`, PostgreSQL's generate_series names it
    `generate_series`, so `select range from range(3)` would fail there: the column is named as
    DuckDB names it (generate_series's own name is the same on both)."""

    source, target, node = "duckdb", "postgres", exp.Table

    def apply(self, node: exp.Expr) -> exp.Expr:
        series, alias = node.this, node.args.get("alias")
        if not isinstance(series, exp.GenerateSeries) or not series.args.get("is_end_exclusive") or (alias is not None and alias.columns):
            return node
        name = alias.this if alias is not None else exp.to_identifier("range")
        node.set("alias", exp.TableAlias(this=name, columns=[exp.to_identifier("range")]))
        return node


class StructToPostgres(Rewrite):
    """PostgreSQL has no struct literal with named fields (`{'a': 1}`); ROW() has no names."""

    source, target, node = "duckdb", "postgres", exp.Struct

    def apply(self, node: exp.Expr) -> exp.Expr:
        raise NotPortable("a struct literal {'name': value, ...}", self.target, "select the fields as columns instead")


class ArgMaxToPostgres(Rewrite):
    """`arg_max(arg, val)`: the arg of the row with the largest non-NULL val."""

    source, target, node = "duckdb", "postgres", exp.ArgMax
    descending = True

    def apply(self, node: exp.Expr) -> exp.Expr:
        order = "DESC" if self.descending else "ASC"
        arg, value = node.this.sql("postgres"), node.expression.sql("postgres")
        return _sql(f"(ARRAY_AGG({arg} ORDER BY {value} {order}) FILTER (WHERE {value} IS NOT NULL))[1]")


class ArgMinToPostgres(ArgMaxToPostgres):
    source, target, node = "duckdb", "postgres", exp.ArgMin  # type: ignore[assignment]
    descending = False


class EpochScaleToPostgres(Rewrite):
    """DuckDB's `epoch_ms(x)` turns a number into a timestamp *or* a timestamp into
    milliseconds, by the argument's type, which the compiler does not know."""

    source, target, node = "duckdb", "postgres", exp.UnixToTime

    def apply(self, node: exp.Expr) -> exp.Expr:
        if node.args.get("scale") is not None:
            raise NotPortable(
                "epoch_ms/epoch_us/epoch_ns(...)", self.target, "write epoch(ts) * 1000 for milliseconds, or to_timestamp(n / 1000)"
            )
        return node


class SelectToPostgres(Rewrite):
    """`GROUP BY ALL` groups by every selected expression without an aggregate; `ORDER BY ALL`
    orders by every selected column: written out for PostgreSQL."""

    source, target, node = "duckdb", "postgres", exp.Select

    def apply(self, node: exp.Expr) -> exp.Expr:
        group = node.args.get("group")
        if group is not None and group.args.get("all"):
            keys = [p.unalias().copy() for p in node.expressions if not p.find(exp.AggFunc)]
            node.set("group", exp.Group(expressions=keys))
        order = node.args.get("order")
        if order is not None and len(order.expressions) == 1 and isinstance(order.expressions[0].this, exp.Var) and order.expressions[0].this.name.upper() == "ALL":
            every = order.expressions[0]
            positions = [
                exp.Ordered(this=exp.Literal.number(i + 1), desc=every.args.get("desc"), nulls_first=every.args.get("nulls_first"))
                for i in range(len(node.expressions))
            ]
            node.set("order", exp.Order(expressions=positions))
        return node


class SubqueryAliasToPostgres(Rewrite):
    """PostgreSQL (before 16) wants a name for every sub-query in FROM; DuckDB does not."""

    source, target, node = "duckdb", "postgres", exp.Subquery

    def apply(self, node: exp.Expr) -> exp.Expr:
        if not node.alias and isinstance(node.parent, exp.From | exp.Join):
            digest = hashlib.sha1(node.sql().encode()).hexdigest()[:8]  # stable: plans are byte-identical
            node.set("alias", exp.TableAlias(this=exp.to_identifier(f"ff_subquery_{digest}")))
        return node


class ListLengthToPostgres(Rewrite):
    """`len([...])` of a list literal is PostgreSQL's cardinality(); of text, its length()."""

    source, target, node = "duckdb", "postgres", exp.Length

    def apply(self, node: exp.Expr) -> exp.Expr:
        if isinstance(node.this, exp.Array):
            return exp.Anonymous(this="CARDINALITY", expressions=[node.this])
        return node


class MakeDateToPostgres(Rewrite):
    source, target, node = "duckdb", "postgres", exp.DateFromParts

    def apply(self, node: exp.Expr) -> exp.Expr:
        parts = [node.args[k] for k in ("year", "month", "day")]
        return exp.Anonymous(this="MAKE_DATE", expressions=parts)


class EndsWithToPostgres(Rewrite):
    """PostgreSQL has starts_with() but no ends_with()."""

    source, target, node = "duckdb", "postgres", exp.EndsWith

    def apply(self, node: exp.Expr) -> exp.Expr:
        text, suffix = node.this.sql("postgres"), node.expression.sql("postgres")
        return _sql(f"(RIGHT({text}, LENGTH({suffix})) = {suffix})")


class StrptimeToPostgres(Rewrite):
    """DuckDB's strptime() gives a timestamp; PostgreSQL's to_timestamp() one with a time zone."""

    source, target, node = "duckdb", "postgres", exp.StrToTime

    def apply(self, node: exp.Expr) -> exp.Expr:
        return exp.cast(node, exp.DataType.build("timestamp"))


class DayOfWeekToPostgres(Rewrite):
    """DuckDB's dayofweek() (Sunday = 0) is PostgreSQL's `dow` (sqlglot writes a day_of_week()
    PostgreSQL does not have)."""

    source, target, node = "duckdb", "postgres", exp.DayOfWeek
    unit = "DOW"

    def apply(self, node: exp.Expr) -> exp.Expr:
        return exp.Extract(this=exp.var(self.unit), expression=node.this)


class IsoDayOfWeekToPostgres(DayOfWeekToPostgres):
    """isodow() (Monday = 1) is PostgreSQL's `isodow`."""

    source, target, node = "duckdb", "postgres", exp.DayOfWeekIso  # type: ignore[assignment]
    unit = "ISODOW"


class DatePartToPostgres(Rewrite):
    """DuckDB's dayofyear(), quarter() and weekofyear() (ISO weeks) are EXTRACT fields in
    PostgreSQL, where sqlglot writes functions it does not have; BIGINT, as DuckDB gives."""

    source, target, node = "duckdb", "postgres", exp.DayOfYear
    unit = "DOY"

    def apply(self, node: exp.Expr) -> exp.Expr:
        return exp.cast(exp.Extract(this=exp.var(self.unit), expression=node.this), exp.DataType.build("bigint"))


class QuarterToPostgres(DatePartToPostgres):
    source, target, node = "duckdb", "postgres", exp.Quarter  # type: ignore[assignment]
    unit = "QUARTER"


class WeekOfYearToPostgres(DatePartToPostgres):
    source, target, node = "duckdb", "postgres", exp.WeekOfYear  # type: ignore[assignment]
    unit = "WEEK"


class DayNameToPostgres(Rewrite):
    """dayname() and monthname(): to_char's names, without the blank padding (`FM`)."""

    source, target, node = "duckdb", "postgres", exp.Dayname
    pattern = "FMDay"

    def apply(self, node: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="TO_CHAR", expressions=[node.this, exp.Literal.string(self.pattern)])


class MonthNameToPostgres(DayNameToPostgres):
    source, target, node = "duckdb", "postgres", exp.Monthname  # type: ignore[assignment]
    pattern = "FMMonth"


class ContainsToPostgres(Rewrite):
    """contains(text, part): PostgreSQL has strpos()."""

    source, target, node = "duckdb", "postgres", exp.Contains

    def apply(self, node: exp.Expr) -> exp.Expr:
        return exp.GT(this=exp.StrPosition(this=node.this, substr=node.expression), expression=exp.Literal.number(0))


class IntegerArgumentsToPostgres(Rewrite):
    """left(), right(), repeat(), split_part() and make_timestamp() take INTEGER counts in
    PostgreSQL, which casts no BIGINT (a column, `id + 1`) down to them; DuckDB takes either."""

    source, target, node = "duckdb", "postgres", exp.Left
    counts: tuple[str, ...] = ("expression",)

    def apply(self, node: exp.Expr) -> exp.Expr:
        for key in self.counts:
            value = node.args.get(key)
            if isinstance(value, exp.Expr) and not (isinstance(value, exp.Literal) and value.is_int):
                node.set(key, exp.cast(value, exp.DataType.build("int")))
        return node


class RightToPostgres(IntegerArgumentsToPostgres):
    source, target, node = "duckdb", "postgres", exp.Right  # type: ignore[assignment]


class RepeatToPostgres(IntegerArgumentsToPostgres):
    source, target, node = "duckdb", "postgres", exp.Repeat  # type: ignore[assignment]
    counts = ("times",)


class SplitPartToPostgres(IntegerArgumentsToPostgres):
    source, target, node = "duckdb", "postgres", exp.SplitPart  # type: ignore[assignment]
    counts = ("part_index",)


class MakeTimestampToPostgres(IntegerArgumentsToPostgres):
    source, target, node = "duckdb", "postgres", exp.TimestampFromParts  # type: ignore[assignment]
    counts = ("year", "month", "day", "hour", "min")


class RegexpExtractToPostgres(Rewrite):
    """regexp_extract(text, pattern): the whole first match, '' when none (PostgreSQL's
    substring() gives NULL, and a pattern's first group rather than the match)."""

    source, target, node = "duckdb", "postgres", exp.RegexpExtract

    def apply(self, node: exp.Expr) -> exp.Expr:
        pattern, group = node.expression, node.args.get("group")
        extra = [k for k in ("position", "occurrence", "parameters") if node.args.get(k) is not None]
        if not (isinstance(pattern, exp.Literal) and pattern.is_string) or extra or (group is not None and group.name not in ("", "0")):
            raise NotPortable(
                "regexp_extract(...) with a group, options or a pattern that is no text literal",
                self.target,
                "extract the whole match of a literal pattern, or write the query for PostgreSQL with config(transpile=false)",
            )
        match = exp.Anonymous(this="SUBSTRING", expressions=[node.this, exp.Literal.string(f"({pattern.name})")])
        found = exp.Coalesce(this=match, expressions=[exp.Literal.string("")])
        return exp.If(this=exp.Is(this=node.this, expression=exp.Null()), true=exp.Null(), false=found)


class DateDiffDaysToPostgres(Rewrite):
    """date_diff('day' | 'week', start, end) counts the days between the two dates (DuckDB drops
    the times), whole weeks toward zero; sqlglot's interval arithmetic counts 24-hour spans and
    rounds weeks."""

    source, target, node = "duckdb", "postgres", exp.DateDiff

    def apply(self, node: exp.Expr) -> exp.Expr:
        unit = node.args.get("unit")
        name = unit.name.lower() if unit is not None else "day"
        if name not in ("day", "days", "week", "weeks"):
            return node
        date = exp.DataType.build("date")
        days = exp.Sub(this=exp.cast(node.this, date), expression=exp.cast(node.expression, date))
        counted = exp.Div(this=exp.paren(days), expression=exp.Literal.number(7), typed=True) if name.startswith("week") else days
        return exp.cast(counted, exp.DataType.build("bigint"))


class ColumnsToPostgres(Rewrite):
    source, target, node = "duckdb", "postgres", exp.Columns

    def apply(self, node: exp.Expr) -> exp.Expr:
        raise NotPortable("COLUMNS(...)", self.target, "list the columns you want instead")


def _location(settings: PostgresSettings, root: Path, unresolved: Mapping[str, str]) -> dict[str, str]:
    """Host, port, database and schema; never the user or the password."""
    if "postgres.dsn" in unresolved:
        return {"dsn": settings.dsn, "db_schema": settings.db_schema}
    dsn = parse_dsn(settings.dsn, "profiles.yml: postgres.dsn")
    return {"host": dsn.host or "", "port": str(dsn.port or ""), "database": dsn.database or "", "db_schema": settings.db_schema}


def _target(settings: PostgresSettings, unresolved: Mapping[str, str]) -> tuple[str | None, str | None]:
    database = None if "postgres.dsn" in unresolved else parse_dsn(settings.dsn, "profiles.yml: postgres.dsn").database
    return settings.db_schema, database


def _airflow_connection(settings: PostgresSettings, connection: Any, conn_id: str) -> dict[str, Any]:
    """Airflow's postgres connection: host, port, login, password, and the database in `schema`."""
    missing = [f for f in ("host", "login", "schema") if not getattr(connection, f)]
    if missing:
        raise ProfileError(
            f"Airflow connection {conn_id!r} has no {', '.join(missing)} "
            "(schema is the database name in Airflow's postgres connections)",
        )
    dsn = dsn_from_parts("postgresql+psycopg", connection.login, connection.password, connection.host, connection.port or 5432, connection.schema)
    extra = connection.extra_dejson or {}
    return {"dsn": dsn, **({"db_schema": extra["db_schema"]} if "db_schema" in extra else {})}


_DBT_QUERY = ("sslmode", "sslcert", "sslkey", "sslrootcert", "connect_timeout", "keepalives_idle", "application_name")


def _from_dbt(output: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """dbt-postgres's output: host, user, password (or pass), port, dbname (or database),
    schema, and the libpq settings FlowForge passes on in the DSN's query."""
    out = dict(output)
    password = out.pop("password", out.pop("pass", None))
    database = out.pop("dbname", out.pop("database", None))
    query = {key: out.pop(key) for key in _DBT_QUERY if key in out}
    dsn = dsn_from_parts("postgresql+psycopg", out.pop("user", None), password, out.pop("host", None), out.pop("port", 5432), database, query)
    settings = {"dsn": dsn, **({"db_schema": out.pop("schema")} if "schema" in out else {})}
    out.pop("threads", None)  # FlowForge's --jobs
    return settings, sorted(out)


def _asset_namespace(settings: PostgresSettings, root: Path, unresolved: Mapping[str, str]) -> str | None:
    """`postgres://host:port/database/schema`, as the postgres provider normalizes Asset URIs and
    OpenLineage names datasets (never the user or the password)."""
    if "postgres.dsn" in unresolved:
        return None
    dsn = parse_dsn(settings.dsn, "profiles.yml: postgres.dsn")
    parts = [quote(p, safe="") for p in (dsn.database or "postgres", settings.db_schema)]
    return f"postgres://{dsn.host or 'localhost'}:{dsn.port or 5432}/{'/'.join(parts)}"


# SQLSTATE classes and codes a retry can outlive: connection exceptions (08), insufficient
# resources (53), operator intervention such as a shutdown (57P01-57P03), serialization failures
# and deadlocks (40001, 40P01), a lock not available (55P03).
_TRANSIENT_STATES = ("08", "53", "57P01", "57P02", "57P03", "40001", "40P01", "55P03")


def _transient(error: BaseException) -> bool:
    psycopg = sys.modules.get("psycopg")
    if psycopg is None or not isinstance(error, psycopg.Error):
        return False
    state = error.sqlstate
    if state is None:  # no answer from the server: the connection broke
        return isinstance(error, psycopg.OperationalError)
    return state.startswith(_TRANSIENT_STATES)


ENGINE = EngineSpec[PostgresSettings](
    name="postgres",
    dialect="postgres",
    profile=PostgresProfile,
    extra="postgres",
    capabilities=Capabilities(names_fold_case=False),  # quoted names keep their case
    overrides={"FF_PG_DSN": "dsn", "FF_PG_SCHEMA": "db_schema"},
    block_hint="set FF_PG_DSN (and FF_PG_SCHEMA), or add `postgres: {dsn: ..., db_schema: ...}`",
    requires=("sqlalchemy", "psycopg"),
    executor="runtime.executors.postgres:PostgresExecutor",
    rewrites=(
        TryCastToPostgres(), RoundToPostgres(), DateTruncToPostgres(), StarModifiersToPostgres(), StructToPostgres(),
        ColumnsToPostgres(), ArgMaxToPostgres(), ArgMinToPostgres(), EpochScaleToPostgres(), SelectToPostgres(),
        SubqueryAliasToPostgres(), ListLengthToPostgres(), MakeDateToPostgres(), EndsWithToPostgres(), StrptimeToPostgres(),
        DayOfWeekToPostgres(), IsoDayOfWeekToPostgres(), RangeColumnToPostgres(), DatePartToPostgres(), QuarterToPostgres(),
        WeekOfYearToPostgres(), DayNameToPostgres(), MonthNameToPostgres(), ContainsToPostgres(), IntegerArgumentsToPostgres(),
        RightToPostgres(), RepeatToPostgres(), SplitPartToPostgres(), MakeTimestampToPostgres(), RegexpExtractToPostgres(),
        DateDiffDaysToPostgres(),
    ),
    location=_location,
    target=_target,
    airflow_connection=_airflow_connection,
    transient=_transient,
    asset_namespace=_asset_namespace,
    dbt_types=("postgres",),
    dbt_column=DbtColumnRules(sizes=True, unsized_strings_as_written=True),  # dbt-postgres's PostgresColumn
    from_dbt=_from_dbt,
)
