"""The PostgreSQL engine (SQLAlchemy 2 + psycopg 3): profile, SDK entry and executor.

One connection per thread, COPY for Python results.

Postgres binds views to the tables they read, so replacing a table (or a view) also re-creates
the views that depend on it, in the same transaction: a downstream view survives a rebuild, and
if its SQL no longer fits the new table the whole swap is rolled back.
"""

from __future__ import annotations

import hashlib
import io
import sys
import threading
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from sqlglot import exp

from flowforge_compiler.dsn import Dsn, dsn_from_parts, parse_dsn, redact
from flowforge_compiler.engine_sdk import Capabilities, EngineSpec
from flowforge_compiler.errors import FlowForgeError, ProfileError
from flowforge_compiler.plan import Relation
from flowforge_compiler.profiles import Profile
from flowforge_compiler.yaml_files import Strict
from flowforge_compiler.rewrites import NotPortable, Rewrite
from runtime.executors.base import Executor, RelationKind, throwaway_schema
from runtime.statements import Name

if TYPE_CHECKING:
    import pyarrow as pa


class PostgresSettings(Strict):
    dsn: str
    db_schema: str = "public"


class PostgresProfile(Strict):
    engine: Literal["postgres"]
    postgres: PostgresSettings


@lru_cache(maxsize=1)
def _arrow_to_pg() -> list[tuple[Callable[[pa.DataType], bool], str]]:
    """Checked in order, first match wins (built on first use: pyarrow loads late)."""
    import pyarrow as pa

    return [
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_int8, "smallint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "integer"),
        (pa.types.is_integer, "bigint"),
        (pa.types.is_floating, "double precision"),
        (pa.types.is_decimal, "numeric"),
        (pa.types.is_date, "date"),
        (pa.types.is_time, "time"),
        (lambda t: pa.types.is_timestamp(t) and t.tz is not None, "timestamptz"),
        (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_binary, "bytea"),
        (pa.types.is_large_binary, "bytea"),
    ]


@lru_cache(maxsize=1)
def _pg_to_arrow() -> dict[int, pa.DataType]:
    """Arrow types by the type OIDs of PostgreSQL's built-in types."""
    import pyarrow as pa

    return {
        16: pa.bool_(),
        20: pa.int64(),
        21: pa.int16(),
        23: pa.int32(),
        700: pa.float32(),
        701: pa.float64(),
        25: pa.string(),
        1043: pa.string(),
        1082: pa.date32(),
        1114: pa.timestamp("us"),
        1184: pa.timestamp("us", "UTC"),
    }


_DEPENDENT_VIEWS = """
with recursive views(oid, depth) as (
    select distinct r.ev_class, 1
    from pg_depend d join pg_rewrite r on r.oid = d.objid
    where d.refobjid = %(relation)s::regclass and r.ev_class <> d.refobjid
  union
    select distinct r.ev_class, views.depth + 1
    from views join pg_depend d on d.refobjid = views.oid join pg_rewrite r on r.oid = d.objid
    where r.ev_class <> views.oid
)
select n.nspname, c.relname, max(v.depth) as depth, pg_get_viewdef(c.oid) as definition
from views v join pg_class c on c.oid = v.oid join pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'v'
group by n.nspname, c.relname, c.oid
order by depth, n.nspname, c.relname
"""


class PostgresConnectionError(FlowForgeError):
    """The server cannot be reached or refuses us; names profile, host and database, never the password."""


class PostgresExecutor(Executor):
    engine = "postgres"

    def __init__(self, profile: Profile, *, lock_timeout: float = 60.0):
        super().__init__(profile, lock_timeout=lock_timeout)
        import sqlalchemy

        settings: PostgresSettings = profile.engine_settings
        self.schema = settings.db_schema
        self.dsn = parse_dsn(settings.dsn, f"profiles.yml: profile {profile.name!r}: postgres.dsn")
        self.url = _sqlalchemy_url(self.dsn, profile.name)
        self._engine = sqlalchemy.create_engine(self.url, pool_pre_ping=True, poolclass=sqlalchemy.pool.NullPool)
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._ensure_schema()

    # -- connections ----------------------------------------------------------------------

    @property
    def connection(self) -> Any:
        """This thread's psycopg connection, in autocommit mode (transactions are explicit)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
        return connection

    def _connect(self) -> Any:
        try:
            fairy = self._engine.raw_connection()
        except Exception as exc:  # noqa: BLE001 - translated into what the user can act on
            raise self._connection_error(exc) from exc
        connection = fairy.driver_connection
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(self.statements.sql(_search_path(self.schema)))
        with self._lock:
            self._connections.append(fairy)
        return connection

    def _connection_error(self, exc: Exception) -> PostgresConnectionError:
        text = str(getattr(exc, "orig", None) or exc)
        where = f"profile {self.profile.name!r}, {self.dsn.describe()}"
        transient = False
        if "password authentication failed" in text or "authentication" in text.lower():
            reason, hint = "authentication failed", "check the user and the password the profile reads (FF_PG_DSN or its env_var())"
        elif "Connection refused" in text or "could not connect" in text or "timeout" in text.lower():
            reason, hint = "connection refused", "is the server running and reachable on that host and port?"
            transient = True  # a server restarting comes back
        elif "does not exist" in text:
            reason, hint = "the database does not exist", "create it, or fix the database name in the DSN"
        else:
            reason, hint, transient = "cannot connect", None, True
        detail = redact(text, self.dsn.secrets)
        message = f"PostgreSQL {reason} ({where}): {detail.strip().splitlines()[0]}"
        return PostgresConnectionError(message, hint=hint, transient=transient)

    def _schema_exists(self) -> bool:
        with self.connection.cursor() as cursor:
            cursor.execute("select 1 from pg_namespace where nspname = %s", [self.schema])
            return cursor.fetchone() is not None

    def _ensure_schema(self) -> None:
        try:
            if not self._schema_exists():
                self.create_if_missing(self.statements.create_schema(self.schema), self._schema_exists)
        except PostgresConnectionError:
            raise
        except Exception as exc:  # noqa: BLE001 - most often missing privileges
            raise PostgresConnectionError(
                f"cannot use schema {self.schema!r} in database {self.url.database!r} as user {self.url.username!r} "
                f"(profile {self.profile.name!r}): {redact(str(exc).strip().splitlines()[0], self.dsn.secrets)}",
                hint=f"create the schema, or grant: GRANT CREATE ON DATABASE {self.url.database} TO {self.url.username}",
            ) from exc

    def close(self) -> None:
        with self._lock:
            for fairy in self._connections:
                fairy.close()
            self._connections.clear()
        self._engine.dispose()

    # -- primitives -------------------------------------------------------------------------

    def _execute(self, sql: str) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)

    def read_arrow(self, sql: str) -> pa.Table:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)
            description = list(cursor.description or [])
            rows = cursor.fetchall()
        columns = list(zip(*rows, strict=False)) if rows else [() for _ in description]
        # Column types come from PostgreSQL, not from the Python values (an int4 stays int32).
        import pyarrow as pa

        types = _pg_to_arrow()
        return pa.table(
            {d.name: pa.array(list(values), type=types.get(d.type_code)) for d, values in zip(description, columns, strict=True)}
        )

    def fetch_rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    def create_table_from_arrow(self, relation: Name, data: pa.Table) -> None:
        """Create the table from the Arrow schema, then COPY the rows in as CSV."""
        import pyarrow.csv as pacsv

        data = _copyable(data)
        self.execute(self.statements.create_table(relation, [(f.name, _pg_type(f.type)) for f in data.schema]))
        if data.num_rows == 0:
            return
        buffer = io.BytesIO()
        # Quoting every value tells an empty string ("") from NULL (nothing) in PostgreSQL's CSV.
        pacsv.write_csv(data, buffer, write_options=pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
        with self.connection.cursor() as cursor:
            with cursor.copy(self.statements.sql(_copy_from_stdin(relation, data.column_names))) as copy:
                view = buffer.getbuffer()
                for start in range(0, len(view), 1 << 20):
                    copy.write(view[start:start + (1 << 20)])

    def relation_kind(self, relation: Name) -> RelationKind | None:
        with self.connection.cursor() as cursor:
            cursor.execute("select c.relkind from pg_class c where c.oid = to_regclass(%s)", [self.quote(relation)])
            row = cursor.fetchone()
        if row is None:
            return None
        return "view" if row[0] in ("v", "m") else "table"

    def drop_relation(self, relation: Name) -> None:
        kind = self.relation_kind(relation)
        if kind is not None:
            self.execute(self.statements.drop(kind, relation, cascade=True))

    # -- replacing relations under dependent views -------------------------------------------------

    def _dependent_views(self, relation: str) -> list[tuple[str, str, str]]:
        if self.relation_kind(relation) is None:
            return []
        with self.connection.cursor() as cursor:
            cursor.execute(_DEPENDENT_VIEWS, {"relation": self.quote(relation)})
            return [(schema, name, definition) for schema, name, _depth, definition in cursor.fetchall()]

    def _recreate(self, views: list[tuple[str, str, str]]) -> None:
        for schema, name, definition in views:
            self.execute(self.statements.create_view_as(Relation(schema=schema, name=name), definition, replace=True))

    def run_support(self, statements: list[str]) -> None:
        """Parallel tasks replacing one function race ("tuple concurrently updated"): one
        transaction at a time, under an advisory lock."""
        with self.transaction():
            self.execute("select pg_advisory_xact_lock(hashtext('flowforge support functions'))")
            for sql in statements:
                self.execute(sql)

    def swap_in(self, tmp: str, relation: str) -> None:
        views = self._dependent_views(relation)
        self.drop_relation(relation)
        self.execute(self.statements.rename(tmp, relation))
        self._recreate(views)

    def replace_view(self, relation: str, sql: str) -> None:
        with self.transaction():
            views = self._dependent_views(relation)
            self.drop_relation(relation)
            self.execute(self.statements.create_view_as(relation, sql))
            self._recreate(views)


_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "postgresql+psycopg": "postgresql+psycopg"}


def _sqlalchemy_url(dsn: Dsn, profile: str) -> Any:
    """The driver's URL built from the DSN's parts (never re-parsed from text); plain
    `postgresql://` DSNs are accepted too, since FlowForge talks to PostgreSQL through psycopg 3."""
    import sqlalchemy

    driver = _DRIVERS.get(dsn.scheme)
    if driver is None:
        raise ProfileError(
            f"profiles.yml: profile {profile!r}: postgres.dsn has the scheme {dsn.scheme!r}",
            hint="write postgresql+psycopg://user:password@host:5432/database",
        )
    return sqlalchemy.URL.create(
        driver, username=dsn.username, password=dsn.password, host=dsn.host, port=dsn.port,
        database=dsn.database, query=dict(dsn.query),
    )


def _search_path(schema: str) -> Any:
    from sqlglot import exp

    return exp.Set(expressions=[exp.SetItem(this=exp.EQ(this=exp.column("search_path"), expression=exp.to_identifier(schema, quoted=True)))])


def _copy_from_stdin(relation: str, columns: list[str]) -> Any:
    """COPY relation (columns) FROM STDIN WITH (FORMAT csv)."""
    from sqlglot import exp

    from runtime.statements import relation as table

    target = exp.Schema(this=table(relation), expressions=[exp.to_identifier(c, quoted=True) for c in columns])
    parameter = exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var("csv"))
    return exp.Copy(this=target, kind=True, files=[exp.var("STDIN")], params=[parameter])


def _pg_type(arrow_type: pa.DataType) -> str:
    return next((pg for test, pg in _arrow_to_pg() if test(arrow_type)), "text")


def _copyable(data: pa.Table) -> pa.Table:
    """Timestamps at microseconds (PostgreSQL's precision); dictionary columns decoded."""
    import pyarrow as pa

    columns = []
    for column in data.columns:
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
        elif pa.types.is_timestamp(kind) and kind.unit == "ns":
            column = column.cast(pa.timestamp("us", kind.tz), safe=False)
        columns.append(column)
    return pa.table(columns, names=data.column_names)


# -- portable SQL: DuckDB's semantics written for PostgreSQL ------------------------------------
# These forms stay correct whatever the argument's type (which the compiler does not know):
# overloaded helper functions choose by type, and `x + interval '0 seconds'` turns a date into a
# timestamp but leaves timestamps as they are.

_INTEGER_RANGES = {
    exp.DataType.Type.SMALLINT: 32767,
    exp.DataType.Type.INT: 2147483647,
    exp.DataType.Type.BIGINT: 9223372036854775807,
}
_FLOATING = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT, exp.DataType.Type.DECIMAL}
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_FLOAT = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|inf|infinity|nan)$"


def _sql(text: str) -> exp.Expression:
    return exp.maybe_parse(text, dialect="postgres")


class TryCastToPostgres(Rewrite):
    """DuckDB's `try_cast(x AS INT)` is NULL for text that is no number and for overflow, and
    rounds `'2.5'` to 3; PostgreSQL has no try_cast (sqlglot writes a plain CAST, which fails
    on dirty text)."""

    source, target, node = "duckdb", "postgres", exp.TryCast

    def apply(self, node: exp.Expression) -> exp.Expression:
        to = node.args["to"]
        kind = to.this
        text = f"TRIM(CAST({node.this.sql('postgres')} AS TEXT))"
        if kind in _INTEGER_RANGES:
            limit = _INTEGER_RANGES[kind]
            number = f"ROUND(CAST({text} AS NUMERIC))"
            return _sql(
                f"CASE WHEN NOT {text} ~ '{_NUMBER}' THEN NULL "
                f"WHEN {number} BETWEEN -{limit} AND {limit} THEN CAST({number} AS {to.sql('postgres')}) END"
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

    def apply(self, node: exp.Expression) -> exp.Expression:
        decimals = node.args.get("decimals") or exp.Literal.number(0)
        return exp.Anonymous(this="ff_round_v1", expressions=[node.this, exp.cast(decimals, "int")])


class DateTruncToPostgres(Rewrite):
    """DuckDB's `date_trunc` of a date is a timestamp; PostgreSQL's is a timestamp with time
    zone. Adding a zero interval makes a date a timestamp and leaves timestamps alone."""

    source, target, node = "duckdb", "postgres", exp.TimestampTrunc

    def apply(self, node: exp.Expression) -> exp.Expression:
        unit = node.args["unit"].name.lower()
        return _sql(f"DATE_TRUNC('{unit}', {node.this.sql('postgres')} + INTERVAL '0 seconds')")


class StarModifiersToPostgres(Rewrite):
    """`SELECT * EXCLUDE (...)` and `* REPLACE (...)` need the column list, which the compiler
    does not know."""

    source, target, node = "duckdb", "postgres", exp.Star

    def apply(self, node: exp.Expression) -> exp.Expression:
        for key, construct in (("except_", "SELECT * EXCLUDE (...)"), ("replace", "SELECT * REPLACE (...)")):
            if node.args.get(key):
                raise NotPortable(construct, self.target, "list the columns you want instead")
        return node


class StructToPostgres(Rewrite):
    """PostgreSQL has no struct literal with named fields (`{'a': 1}`); ROW() has no names."""

    source, target, node = "duckdb", "postgres", exp.Struct

    def apply(self, node: exp.Expression) -> exp.Expression:
        raise NotPortable("a struct literal {'name': value, ...}", self.target, "select the fields as columns instead")


class ArgMaxToPostgres(Rewrite):
    """`arg_max(arg, val)`: the arg of the row with the largest non-NULL val."""

    source, target, node = "duckdb", "postgres", exp.ArgMax
    descending = True

    def apply(self, node: exp.Expression) -> exp.Expression:
        order = "DESC" if self.descending else "ASC"
        arg, value = node.this.sql("postgres"), node.expression.sql("postgres")
        return _sql(f"(ARRAY_AGG({arg} ORDER BY {value} {order}) FILTER (WHERE {value} IS NOT NULL))[1]")


class ArgMinToPostgres(ArgMaxToPostgres):
    source, target, node = "duckdb", "postgres", exp.ArgMin
    descending = False


class EpochScaleToPostgres(Rewrite):
    """DuckDB's `epoch_ms(x)` turns a number into a timestamp *or* a timestamp into
    milliseconds, by the argument's type, which the compiler does not know."""

    source, target, node = "duckdb", "postgres", exp.UnixToTime

    def apply(self, node: exp.Expression) -> exp.Expression:
        if node.args.get("scale") is not None:
            raise NotPortable(
                "epoch_ms/epoch_us/epoch_ns(...)", self.target, "write epoch(ts) * 1000 for milliseconds, or to_timestamp(n / 1000)"
            )
        return node


class SelectToPostgres(Rewrite):
    """`GROUP BY ALL` groups by every selected expression without an aggregate; `ORDER BY ALL`
    orders by every selected column: written out for PostgreSQL."""

    source, target, node = "duckdb", "postgres", exp.Select

    def apply(self, node: exp.Expression) -> exp.Expression:
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

    def apply(self, node: exp.Expression) -> exp.Expression:
        if not node.alias and isinstance(node.parent, exp.From | exp.Join):
            digest = hashlib.sha1(node.sql().encode()).hexdigest()[:8]  # stable: plans are byte-identical
            node.set("alias", exp.TableAlias(this=exp.to_identifier(f"ff_subquery_{digest}")))
        return node


class ListLengthToPostgres(Rewrite):
    """`len([...])` of a list literal is PostgreSQL's cardinality(); of text, its length()."""

    source, target, node = "duckdb", "postgres", exp.Length

    def apply(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node.this, exp.Array):
            return exp.Anonymous(this="CARDINALITY", expressions=[node.this])
        return node


class MakeDateToPostgres(Rewrite):
    source, target, node = "duckdb", "postgres", exp.DateFromParts

    def apply(self, node: exp.Expression) -> exp.Expression:
        parts = [node.args[k] for k in ("year", "month", "day")]
        return exp.Anonymous(this="MAKE_DATE", expressions=parts)


class EndsWithToPostgres(Rewrite):
    """PostgreSQL has starts_with() but no ends_with()."""

    source, target, node = "duckdb", "postgres", exp.EndsWith

    def apply(self, node: exp.Expression) -> exp.Expression:
        text, suffix = node.this.sql("postgres"), node.expression.sql("postgres")
        return _sql(f"(RIGHT({text}, LENGTH({suffix})) = {suffix})")


class StrptimeToPostgres(Rewrite):
    """DuckDB's strptime() gives a timestamp; PostgreSQL's to_timestamp() one with a time zone."""

    source, target, node = "duckdb", "postgres", exp.StrToTime

    def apply(self, node: exp.Expression) -> exp.Expression:
        return exp.cast(node, exp.DataType.build("timestamp"))


class DayOfWeekToPostgres(Rewrite):
    """DuckDB's dayofweek() (Sunday = 0) is PostgreSQL's `dow` (sqlglot writes a day_of_week()
    PostgreSQL does not have)."""

    source, target, node = "duckdb", "postgres", exp.DayOfWeek
    unit = "DOW"

    def apply(self, node: exp.Expression) -> exp.Expression:
        return exp.Extract(this=exp.var(self.unit), expression=node.this)


class IsoDayOfWeekToPostgres(DayOfWeekToPostgres):
    """isodow() (Monday = 1) is PostgreSQL's `isodow`."""

    source, target, node = "duckdb", "postgres", exp.DayOfWeekIso
    unit = "ISODOW"


class ColumnsToPostgres(Rewrite):
    source, target, node = "duckdb", "postgres", exp.Columns

    def apply(self, node: exp.Expression) -> exp.Expression:
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


def _dbt_datediff(first_date: Any, second_date: Any, datepart: Any) -> str:
    """dbt's datediff counts the boundaries crossed; sqlglot's PostgreSQL DATEDIFF counts whole
    intervals. For days that is the difference of the two dates; other parts are not written."""
    part = str(datepart).strip("'\"").lower()
    if part != "day":
        raise ValueError(f"dbt.datediff(..., {part!r}): FlowForge writes it for PostgreSQL only in days; write the difference in SQL")
    first, second = (exp.cast(exp.maybe_parse(str(d), dialect="postgres"), "date") for d in (first_date, second_date))
    return exp.Paren(this=exp.Sub(this=second, expression=first)).sql("postgres")


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


ENGINE = EngineSpec(
    name="postgres",
    dialect="postgres",
    profile=PostgresProfile,
    extra="postgres",
    capabilities=Capabilities(merge=True),
    overrides={"FF_PG_DSN": "dsn", "FF_PG_SCHEMA": "db_schema"},
    block_hint="set FF_PG_DSN (and FF_PG_SCHEMA), or add `postgres: {dsn: ..., db_schema: ...}`",
    requires=("sqlalchemy", "psycopg"),
    executor=lambda: PostgresExecutor,
    rewrites=(
        TryCastToPostgres(), RoundToPostgres(), DateTruncToPostgres(), StarModifiersToPostgres(), StructToPostgres(),
        ColumnsToPostgres(), ArgMaxToPostgres(), ArgMinToPostgres(), EpochScaleToPostgres(), SelectToPostgres(),
        SubqueryAliasToPostgres(), ListLengthToPostgres(), MakeDateToPostgres(), EndsWithToPostgres(), StrptimeToPostgres(),
        DayOfWeekToPostgres(), IsoDayOfWeekToPostgres(),
    ),
    location=_location,
    target=_target,
    airflow_connection=_airflow_connection,
    isolated=lambda profile: throwaway_schema(profile, PostgresExecutor, "db_schema"),
    transient=_transient,
    asset_namespace=_asset_namespace,
    dbt_types=("postgres",),
    from_dbt=_from_dbt,
    dbt_macros={"datediff": _dbt_datediff},
)
