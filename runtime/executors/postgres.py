"""The PostgreSQL engine's executor (SQLAlchemy 2 + psycopg 3); its compile-time half is
`flowforge_compiler.engines.postgres`.

One connection per thread, COPY for Python results.

Postgres binds views to the tables they read, so replacing a table (or a view) also re-creates
the views that depend on it, in the same transaction: a downstream view survives a rebuild, and
if its SQL no longer fits the new table the whole swap is rolled back.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flowforge_compiler.dsn import Dsn, parse_dsn, redact
from flowforge_compiler.engines.postgres import PostgresSettings
from flowforge_compiler.errors import FlowForgeError, ProfileError
from flowforge_compiler.plan import Relation
from flowforge_compiler.profiles import Profile
from flowforge_compiler.sql_names import Name
from runtime.executors.base import DependentView, Executor, RelationKind

if TYPE_CHECKING:
    import pyarrow as pa


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
    schema_setting = "db_schema"

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
        connection: Any = fairy.driver_connection
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
        with self.connection.cursor() as cursor, cursor.copy(self.statements.sql(_copy_from_stdin(relation, data.column_names))) as copy:
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

    def dependent_views(self, relation: str) -> list[DependentView]:
        if self.relation_kind(relation) is None:
            return []
        with self.connection.cursor() as cursor:
            cursor.execute(_DEPENDENT_VIEWS, {"relation": self.quote(relation)})
            rows = cursor.fetchall()
        return [
            DependentView(Relation(schema_=schema, name=name), name if schema == self.schema else None, definition)
            for schema, name, _depth, definition in rows
        ]

    def run_support(self, statements: list[str]) -> None:
        """Parallel tasks replacing one function race ("tuple concurrently updated"): one
        transaction at a time, under an advisory lock."""
        with self.transaction():
            self.execute("select pg_advisory_xact_lock(hashtext('flowforge support functions'))")
            for sql in statements:
                self.execute(sql)

    def exchange(self, tmp: str, relation: str) -> None:
        """Dropped with its dependent views (CASCADE), which `refit_views` creates again."""
        self.drop_relation(relation)
        self.execute(self.statements.rename(tmp, relation))

    def replace_view(self, relation: str, sql: str) -> None:
        with self.transaction():
            views = self.dependent_views(relation)
            self.drop_relation(relation)
            self.execute(self.statements.create_view_as(relation, sql))
            self.refit_views(relation, views)


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


def _copy_from_stdin(relation: Name, columns: list[str]) -> Any:
    """COPY relation (columns) FROM STDIN WITH (FORMAT csv)."""
    from sqlglot import exp

    from flowforge_compiler.sql_names import relation as table

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
