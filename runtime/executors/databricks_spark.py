"""The Spark / Databricks engine's executor (PySpark); its compile-time half is
`flowforge_compiler.engines.databricks_spark`, its session `runtime.executors.spark_session`.

Spark has no transactions. A table is built under `<name>__ff_tmp` and swapped in by two renames
(the old table to `<name>__ff_old`, the new one to its name), then published in `_ff_meta`: a
failed build leaves the old table untouched, and a run killed between the renames leaves the old
table under `__ff_old`, which the next build of that node puts back before it starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from flowforge_compiler.engines.databricks_spark import DatabricksSparkSettings
from flowforge_compiler.materializations import IncrementalMaterialization
from flowforge_compiler.plan import PlanNode, Relation
from flowforge_compiler.profiles import Profile
from flowforge_compiler.sql_names import Name
from runtime.executors.base import TEMP_SUFFIX, Executor, RelationKind
from runtime.executors.spark_session import spark_session
from runtime.meta_store import META_TABLE, CacheEntry, MetaStore

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("flowforge")

MERGE_SUFFIX = "__ff_merge"  # an incremental table's next version, on formats without DELETE



class SparkMetaStore(MetaStore):
    """`_ff_meta` on Spark: appends serialized (each INSERT adds a file, and parallel ones clash),
    and, once per executor before the table is first read or written, a table a killed compaction
    left aside put back and its small files written again as one."""

    FILES_KEPT = 200  # `_ff_meta` files before they are written again as one

    executor: DatabricksSparkExecutor

    def __init__(self, executor: Executor):
        super().__init__(executor)
        self._tidy = False

    def ensure(self) -> None:
        self.tidy()
        super().ensure()

    def read(self) -> dict[str, CacheEntry]:
        self.tidy()
        return super().read()

    def publish(self, node: PlanNode) -> None:
        with self.executor.append_lock:
            super().publish(node)

    def tidy(self) -> None:
        ex = self.executor
        with ex.append_lock:
            if self._tidy:
                return
            self._tidy = True
            ex.put_back(META_TABLE)
            if ex.relation_kind(META_TABLE) == "table":
                self._compact()

    def _compact(self) -> None:
        """Every build appends one small file to `_ff_meta`; past FILES_KEPT they are written
        again as one (every row kept, swapped in like a model), so reading it for the cache stays
        one short scan however many runs there were."""
        ex = self.executor
        files = ex.session.table(ex.quote(Relation(schema_=ex.database, name=META_TABLE))).inputFiles()
        if len(files) <= self.FILES_KEPT:
            return
        query = ex.statements.select_all(META_TABLE)
        query.set("hint", exp.Hint(expressions=[exp.Anonymous(this="COALESCE", expressions=[exp.Literal.number(1)])]))
        log.info("writing the %d files of %s again as one", len(files), META_TABLE)
        ex.replace_table(META_TABLE, lambda tmp: ex.create_table_as(tmp, ex.statements.sql(query)))


class DatabricksSparkExecutor(Executor):
    """No transactions (`Capabilities.transactions` is off): a table is renamed in with the old
    one renamed aside, and put back by the next build if a run died in between (the base does
    both); merge and delete+insert write the table's next version and swap it in."""

    engine = "databricks_spark"
    schema_setting = "database"  # unit tests: a throw-away database
    meta_store = SparkMetaStore

    def __init__(self, profile: Profile, *, lock_timeout: float = 60.0):
        super().__init__(profile, lock_timeout=lock_timeout)
        settings: DatabricksSparkSettings = profile.engine_settings
        self.database = settings.database
        self.table_format = settings.table_format
        self.session = spark_session(settings, profile.name, lock_timeout)
        self.create_if_missing(self.statements.create_schema(self.database), self._database_exists)
        self.execute(self.statements.sql(exp.Use(this=exp.to_identifier(self.database, quoted=True))))
        self.append_lock = threading.RLock()  # held by an append, then by its publish

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
        name = relation if isinstance(relation, Relation) else Relation(schema_=self.database, name=relation)
        frame.write.format(self.table_format).mode("errorifexists").saveAsTable(self.quote(name))

    def relation_kind(self, relation: Name) -> RelationKind | None:
        from pyspark.errors import AnalysisException

        name = relation if isinstance(relation, Relation) else Relation(schema_=self.database, name=relation)
        try:
            table = self.session.catalog.getTable(self.quote(name))
        except AnalysisException:
            return None
        return "view" if table.tableType == "VIEW" else "table"

    def existing_relations(self) -> set[str]:
        return {table.name for table in self.session.catalog.listTables(self.database) if not table.isTemporary}

    def close(self) -> None:
        """Nothing to release: the session serves the process until it exits."""

    # -- incremental: Parquet tables take no DELETE ------------------------------------------------

    def apply_incremental(self, node: PlanNode, config: IncrementalMaterialization, create: Callable[[str], int | None]) -> int:
        """Append with INSERT; merge and delete+insert write the kept and the new rows as the
        table's next version and swap it in (Parquet tables take no DELETE)."""
        if not config.replaces_keyed_rows:
            with self.append_lock:  # concurrent appends to one table clash in its _temporary folder
                return super().apply_incremental(node, config, create)
        tmp, merged = node.relation + TEMP_SUFFIX, node.relation + MERGE_SUFFIX
        self.execute(self.statements.drop("table", tmp, if_exists=True))
        self.execute(self.statements.drop("table", merged, if_exists=True))
        create(tmp)
        try:
            columns = self.same_columns(node, tmp)
            rows = self.count_rows(tmp)
            self.create_table_as(merged, self.statements.kept_and_new(node.relation, tmp, config.unique_key, columns))
            self.swap_in(merged, node.relation)
        finally:
            self.drop_quietly(merged)
            self.drop_quietly(tmp)
        return rows

    # -- Python models on Spark DataFrames ----------------------------------------------------------

    def input_frame(self, node: PlanNode) -> Any:
        if not node.builds_relation:
            return self.session.sql(self.node_query(node))
        return self.session.table(self.quote(Relation(schema_=self.database, name=node.relation)))

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
