"""DuckDB: one connection per process, one cursor per thread (safe on one file from many threads)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pyarrow as pa

from flowforge_compiler.profiles import DuckDBSettings, Profile
from runtime.executors.base import Executor, RelationKind


class DuckDBExecutor(Executor):
    engine = "duckdb"

    def __init__(self, profile: Profile):
        super().__init__(profile)
        import duckdb

        settings: DuckDBSettings = profile.engine_settings
        if settings.path != ":memory:":
            Path(settings.path).parent.mkdir(parents=True, exist_ok=True)
        config = {"threads": settings.threads} if settings.threads else {}
        self._con = duckdb.connect(settings.path, config=config)
        self._local = threading.local()
        self._cursors: list[Any] = []
        self._lock = threading.Lock()

    @property
    def cursor(self) -> Any:
        """This thread's cursor: DuckDB connections are not shared between threads."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._lock:
                cursor = self._con.cursor()
                self._cursors.append(cursor)
            self._local.cursor = cursor
        return cursor

    def _execute(self, sql: str) -> None:
        self.cursor.execute(sql)

    def read_arrow(self, sql: str) -> pa.Table:
        return self.cursor.sql(sql).to_arrow_table()

    def create_table_from_arrow(self, relation: str, data: pa.Table) -> None:
        view = f"__ff_arrow_{threading.get_ident()}"
        self.cursor.register(view, data)
        try:
            self.execute(f"create table {self.quote(relation)} as select * from {view}")
        finally:
            self.cursor.unregister(view)

    def relation_kind(self, relation: str) -> RelationKind | None:
        parts = relation.split(".")
        schema_filter = "and table_schema = ?" if len(parts) > 1 else "and table_schema = current_schema()"
        params = [parts[-1], *parts[:-1][-1:]]
        rows = self.cursor.execute(
            f"select table_type from information_schema.tables where table_name = ? {schema_filter}", params
        ).fetchall()
        if not rows:
            return None
        return "view" if rows[0][0] == "VIEW" else "table"

    def close(self) -> None:
        with self._lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
        self._con.close()
