"""The DuckDB engine's executor (its compile-time half is `flowforge_compiler.engines.duckdb`).

One connection per process, one cursor per thread (safe on one file from many threads). DuckDB
lets one process write a file at a time: opening a file another process holds waits for it
(`lock_timeout`), then names that process; orchestrators run a DuckDB DAG one task at a time.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowforge_compiler.engines.duckdb import MEMORY, DuckDBProfile, DuckDBSettings
from flowforge_compiler.errors import ProfileError
from flowforge_compiler.plan import Relation
from flowforge_compiler.profiles import Profile
from flowforge_compiler.sql_names import Name
from runtime.executors.base import DependentView, Executor, RelationKind, sql_log

log = logging.getLogger("flowforge")
_VIEWS = (
    "select schema_name, view_name, sql, schema_name = current_schema() from duckdb_views() "
    "where not internal and database_name = current_database()"
)
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")

if TYPE_CHECKING:
    import pyarrow as pa


class DuckDBExecutor(Executor):
    engine = "duckdb"

    @classmethod
    @contextmanager
    def isolated(cls, profile: Profile) -> Iterator[Executor]:
        """Unit tests run on an in-memory database that is thrown away."""
        with cls(Profile("utest", DuckDBProfile(engine="duckdb"))) as executor:
            yield executor

    def __init__(self, profile: Profile, *, lock_timeout: float = 60.0):
        super().__init__(profile, lock_timeout=lock_timeout)
        settings: DuckDBSettings = profile.engine_settings
        self._con = self._connect(settings)
        self._local = threading.local()
        self._cursors: list[Any] = []
        self._lock = threading.Lock()

    def _connect(self, settings: DuckDBSettings) -> Any:
        """Open the file, waiting while another process holds its lock; bad paths are profile errors."""
        import duckdb

        where = f"profile {self.profile.name!r}: duckdb.path {settings.path}"
        if settings.path != MEMORY:
            path = Path(settings.path)
            if path.is_dir():
                raise ProfileError(f"{where} is a folder, not a DuckDB file", hint="point the path at a file, e.g. .local/warehouse.duckdb")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ProfileError(f"{where}: cannot create its folder ({exc.strerror})") from exc
            if not path.exists():
                _create_whole(path)
        config: dict[str, Any] = {"threads": settings.threads} if settings.threads else {}
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.1
        while True:
            try:
                return duckdb.connect(settings.path, config=config)
            except duckdb.IOException as exc:
                holder = _LOCK_HOLDER.search(str(exc))
                if holder is None:
                    reason = str(exc).removeprefix("IO Error: ")
                    hint = "is it a DuckDB database file?"
                    if Path(settings.path).is_file() and Path(settings.path).stat().st_size == 0:
                        hint = "it is empty, as a process killed while DuckDB created it leaves it: delete it and run again"
                    raise ProfileError(f"{where} cannot be opened: {reason}", hint=hint) from exc
                if time.monotonic() >= deadline:
                    raise ProfileError(
                        f"{where} is locked by another process: {holder.group('program')} (PID {holder.group('pid')}); "
                        f"waited {self.lock_timeout:g}s",
                        hint="DuckDB allows one writing process per file: wait for it to finish, or raise --lock-timeout",
                        transient=True,
                    ) from exc
                log.info("waiting for %s, held by PID %s", settings.path, holder.group("pid"))
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 2.0)

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

    def fetch_rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.cursor.execute(sql).fetchall()

    def create_table_from_arrow(self, relation: Name, data: pa.Table) -> None:
        view = f"__ff_arrow_{threading.get_ident()}"
        self.cursor.register(view, data)
        try:
            self.execute(self.statements.create_table_from(relation, view))
        finally:
            self.cursor.unregister(view)

    def relation_kind(self, relation: Name) -> RelationKind | None:
        # Binding the name is ~10x faster than asking information_schema on a large catalog.
        import duckdb

        try:
            kind = self.cursor.table(self.quote(relation)).type
        except duckdb.CatalogException:
            return None
        except duckdb.Error:  # it exists and does not bind: only a view over tables that changed shape
            return "view"
        return "table" if kind == "TABLE_RELATION" else "view"

    def dependent_views(self, relation: str) -> list[DependentView]:
        """DuckDB records no view dependencies: the views whose SQL names the relation, then
        those naming one of them, and so on (a view named by chance is only bound again)."""
        unseen = [view for view in self.cursor.execute(_VIEWS).fetchall() if not (view[3] and view[1] == relation)]
        found: list[DependentView] = []
        names = [relation]
        while names and unseen:
            pattern = re.compile("|".join(rf"(?<![\w$]){re.escape(n.lower())}(?![\w$])" for n in names))
            reading = [view for view in unseen if pattern.search((view[2] or "").lower())]
            unseen = [view for view in unseen if view not in reading]
            found += [DependentView(name if own else Relation(schema_=schema, name=name), name if own else None, None) for schema, name, _, own in reading]
            names = [name for _, name, _, _ in reading]
        return found

    def create_table_as(self, relation: str, sql: str) -> int | None:
        statement = self.statements.create_table_as(relation, sql)
        sql_log.debug("%s", statement)
        row = self.cursor.execute(statement).fetchone()  # DuckDB reports the rows it wrote
        return int(row[0]) if row else None

    def close(self) -> None:
        with self._lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
        self._con.close()


_DRAFT_ABANDONED = 600.0  # seconds: a draft lives for milliseconds unless its creator was killed


def _create_whole(path: Path) -> None:
    """Create a new database file whole or not at all. DuckDB writes a new file in steps, and a
    process killed between them leaves an empty file DuckDB refuses ever after; so the file is
    made under a draft name beside `path` and linked into place. A process that loses the race
    to another creator uses the other's file. Where that cannot be done (no hard links, a
    read-only folder), DuckDB creates the file itself, and reports what stops it."""
    import duckdb

    drafts = f".{glob.escape(path.name)}.*.creating*"
    for stale in path.parent.glob(drafts):
        try:
            if time.time() - stale.stat().st_mtime > _DRAFT_ABANDONED:
                stale.unlink()
        except OSError:
            pass
    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.creating")
    try:
        duckdb.connect(str(draft)).close()
        os.link(draft, path)
    except FileExistsError:
        pass  # another process created it first
    except Exception as exc:  # noqa: BLE001 - the connect that follows reports what matters
        log.debug("could not create %s from a draft (%s); DuckDB creates it", path, exc)
    finally:
        draft.unlink(missing_ok=True)
        draft.with_name(draft.name + ".wal").unlink(missing_ok=True)
