"""The Snowflake engine's executor (Snowpark); its compile-time half is
`flowforge_compiler.engines.snowflake_snowpark`.

Profile keys as the spec names them (`account`, `user`, `password`, `role`, `warehouse`,
`database`, `db_schema`), plus `options`: further connection parameters handed to Snowpark as
they are (`authenticator`, `private_key_file`, `host`, `port`, `protocol`, ...). `FF_SF_*`
variables override them. Each thread gets its own Snowpark session (a transaction belongs to
one connection), in the profile's schema, which is created if missing (the database is not).

Names: Snowflake folds a plain unquoted name to upper case, and FlowForge quotes every name it
writes. So that a model's `from orders` and FlowForge's `"ORDERS"` are one table, every quoted
plain name FlowForge renders for Snowflake is folded the same way (`FoldNamesToSnowflake`):
tables and columns are upper case, as dbt users of Snowflake know them; names that need quotes
(spaces, dashes, dots) keep their case.

Snowflake commits DDL as it runs, so a table is built as `<name>__ff_tmp` and swapped in with
`ALTER TABLE ... SWAP WITH` (one atomic metadata step; the old table, now under the temporary
name, is dropped after), then published in `_ff_meta`. An incremental model's new rows go to a
temporary table; DELETE and INSERT (`delete+insert`) or INSERT (`append`) then run in one
transaction with the node's `_ff_meta` row, so a killed run neither loses rows nor appends them
twice. `merge` is one MERGE statement, atomic by itself, which gives the same table if a killed
run applies it again; it is published after, like a table. Python models receive and return Snowpark DataFrames (no pandas); seeds and
Arrow results are written as INSERT ... VALUES batches of SQL literals.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from flowforge_compiler.engines.snowflake_snowpark import SnowflakeSnowparkSettings, fold
from flowforge_compiler.errors import ProfileError
from flowforge_compiler.materializations import IncrementalMaterialization
from flowforge_compiler.plan import PlanNode, Relation
from flowforge_compiler.profiles import Profile
from flowforge_compiler.sql_names import Name, literal
from runtime.executors.base import Executor, RelationKind

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("flowforge")

_VALUES_BYTES = 256 * 1024  # one INSERT ... VALUES statement's text, well below Snowflake's 1 MB




def _session(settings: SnowflakeSnowparkSettings, profile: str) -> Any:
    """A Snowpark session; a refused connection names the account and user, never the password."""
    from snowflake.connector.errors import Error as ConnectorError
    from snowflake.connector.errors import OperationalError
    from snowflake.snowpark import Session

    configs = {
        "account": settings.account, "user": settings.user, "password": settings.password, "role": settings.role,
        "warehouse": settings.warehouse, "database": settings.database, **settings.options,
    }
    configs = {k: v for k, v in configs.items() if v is not None}
    try:
        return Session.builder.configs(configs).create()
    except ConnectorError as exc:
        reason = str(exc)
        if settings.password:
            reason = reason.replace(settings.password, "***")
        raise ProfileError(
            f"profile {profile!r}: cannot connect to Snowflake account {settings.account!r} as {settings.user!r}: {reason}",
            hint="check account, user, password (FF_SF_PASSWORD), role and warehouse",
            transient=isinstance(exc, OperationalError),  # the network, not a refused login
        ) from exc


class SnowflakeSnowparkExecutor(Executor):
    engine = "snowflake_snowpark"
    schema_setting = "db_schema"

    def __init__(self, profile: Profile, *, lock_timeout: float = 60.0):
        super().__init__(profile, lock_timeout=lock_timeout)
        self.settings: SnowflakeSnowparkSettings = profile.engine_settings
        self.schema = fold(self.settings.db_schema)
        self._local = threading.local()
        self._sessions: list[Any] = []
        self._lock = threading.Lock()
        _ = self.session  # connect now: a bad profile fails before any node runs

    @property
    def session(self) -> Any:
        """This thread's session, in the profile's schema (created if missing)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = _session(self.settings, self.profile.name)
            with self._lock:
                self._sessions.append(session)
            self._local.session = session
            database = fold(self.settings.database)
            session.sql(self.statements.create_schema(self.schema, database)).collect()
            session.sql(self.statements.use_schema(self.schema, database)).collect()
        return session

    def catalog_name(self, name: str) -> str:
        return fold(name)

    # -- primitives --------------------------------------------------------------------------

    def _execute(self, sql: str) -> None:
        self.session.sql(sql).collect()

    def read_arrow(self, sql: str) -> pa.Table:
        return self.session.sql(sql).to_arrow()

    def fetch_rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.session.sql(sql).collect()]

    def create_table_from_arrow(self, relation: Name, data: pa.Table) -> None:
        """CREATE TABLE from the Arrow schema, then INSERT ... VALUES in batches: Snowpark's
        bulk paths (`write_pandas`, `create_dataframe`) need pandas or an internal stage."""
        self.execute(self.statements.create_table(relation, [(f.name, _snowflake_type(f.type)) for f in data.schema]))
        batch: list[tuple[Any, ...]] = []
        size = 0
        for row in data.to_pylist():
            values = tuple(row.values())
            batch.append(values)
            size += sum(len(str(v)) + 4 for v in values)
            if size >= _VALUES_BYTES:
                self.execute(self.statements.insert_values(relation, data.column_names, batch))
                batch, size = [], 0
        if batch:
            self.execute(self.statements.insert_values(relation, data.column_names, batch))

    def _catalog_query(self, relation: Name | None) -> str:
        """The (name, kind) of the schema's tables and views (of one name when given): views
        from INFORMATION_SCHEMA.VIEWS, tables of type BASE TABLE."""
        schema = relation.schema_ if isinstance(relation, Relation) and relation.schema_ else None
        where: exp.Expr = exp.EQ(this=exp.column("table_schema"), expression=literal(fold(schema)) if schema else exp.func("CURRENT_SCHEMA"))
        if relation is not None:
            name = relation.name if isinstance(relation, Relation) else relation
            where = exp.and_(where, exp.EQ(this=exp.column("table_name"), expression=literal(fold(name))))
        views = exp.select("table_name", exp.Literal.string("view").as_("kind")).from_("information_schema.views").where(where)
        tables = exp.select("table_name", exp.Literal.string("table")).from_("information_schema.tables").where(
            exp.and_(where, exp.EQ(this=exp.column("table_type"), expression=exp.Literal.string("BASE TABLE")))
        )
        return self.statements.sql(exp.union(views, tables, distinct=False))

    def relation_kind(self, relation: Name) -> RelationKind | None:
        kinds = {kind for _, kind in self.fetch_rows(self._catalog_query(relation))}
        return "view" if "view" in kinds else "table" if "table" in kinds else None

    def existing_relations(self) -> set[str]:
        return {name for name, _ in self.fetch_rows(self._catalog_query(None))}

    def close(self) -> None:
        """Close every thread's session, and drop the exit handler Snowpark keeps for each one
        (which would hold the session, and call the server at exit, in a long-lived worker)."""
        import atexit

        with self._lock:
            for session in self._sessions:
                try:
                    session.close()
                finally:
                    atexit.unregister(session._close_at_exit)
            self._sessions.clear()

    # -- swap, incremental ------------------------------------------------------------------

    def apply_incremental(self, node: PlanNode, config: IncrementalMaterialization, create: Callable[[str], int | None]) -> int:
        def apply(stage: str, columns: list[str]) -> None:
            steps = self.incremental_steps(node, config, stage, columns)
            if config.strategy == "merge":
                self.execute(*steps)  # one atomic statement, which gives the same table if run again
                return
            with self.atomic():  # DML only: DDL would commit it
                for statement in steps:
                    self.execute(statement)
                self.publish_pending()

        return self.apply_staged(node, create, apply)

    # -- Python models on Snowpark DataFrames -------------------------------------------------

    def input_frame(self, node: PlanNode) -> Any:
        if not node.builds_relation:
            return self.session.sql(self.node_query(node))
        return self.session.table(self.quote(node.relation))

    def frame_columns(self, frame: Any) -> list[str]:
        return [name.strip('"') for name in frame.columns]

    def model_rows(self, frame: Any, node: PlanNode) -> Any:
        from snowflake.snowpark import DataFrame

        return frame if isinstance(frame, DataFrame) else super().model_rows(frame, node)

    def table_from_rows(self, relation: str, rows: Any) -> int:
        from snowflake.snowpark import DataFrame

        if not isinstance(rows, DataFrame):
            return super().table_from_rows(relation, rows)
        rows.write.save_as_table(self.quote(relation), mode="errorifexists")
        return self.count_rows(relation)


def _snowflake_type(arrow_type: pa.DataType) -> str:
    import pyarrow as pa

    checks: list[tuple[Callable[[pa.DataType], bool], str]] = [
        (pa.types.is_boolean, "BOOLEAN"),
        (pa.types.is_integer, "BIGINT"),
        (pa.types.is_floating, "DOUBLE"),
        (pa.types.is_date, "DATE"),
        (pa.types.is_time, "TIME"),
        (lambda t: pa.types.is_timestamp(t) and t.tz is not None, "TIMESTAMP_TZ"),
        (pa.types.is_timestamp, "TIMESTAMP_NTZ"),
        (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), "BINARY"),
    ]
    if pa.types.is_decimal(arrow_type):
        return f"NUMBER({arrow_type.precision}, {arrow_type.scale})"
    return next((name for test, name in checks if test(arrow_type)), "VARCHAR")
