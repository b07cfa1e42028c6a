"""The DuckDB engine: its profile, its place in the SDK, and its executor.

One connection per process, one cursor per thread (safe on one file from many threads). DuckDB
lets one process write a file at a time: opening a file another process holds waits for it
(`lock_timeout`), then names that process; orchestrators run a DuckDB DAG one task at a time.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from pydantic import Field

from flowforge_compiler.engine_sdk import Capabilities, EngineSpec
from flowforge_compiler.errors import ProfileError
from flowforge_compiler.paths import project_relative
from flowforge_compiler.profiles import Profile
from flowforge_compiler.yaml_files import Strict
from runtime.executors.base import Executor, RelationKind, sql_log
from runtime.statements import Name

log = logging.getLogger("flowforge")
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")

if TYPE_CHECKING:
    import pyarrow as pa


class DuckDBSettings(Strict):
    path: str = ":memory:"
    threads: int | None = None


class DuckDBProfile(Strict):
    engine: Literal["duckdb"]
    duckdb: DuckDBSettings = Field(default_factory=DuckDBSettings)


class DuckDBExecutor(Executor):
    engine = "duckdb"

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
        if settings.path != ":memory:":
            path = Path(settings.path)
            if path.is_dir():
                raise ProfileError(f"{where} is a folder, not a DuckDB file", hint="point the path at a file, e.g. .local/warehouse.duckdb")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ProfileError(f"{where}: cannot create its folder ({exc.strerror})") from exc
            if not path.exists():
                _create_whole(path)
        config = {"threads": settings.threads} if settings.threads else {}
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
        return "table" if kind == "TABLE_RELATION" else "view"

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


def _location(settings: DuckDBSettings, root: Path, unresolved: Mapping[str, str]) -> dict[str, str]:
    if "duckdb.path" in unresolved or settings.path == ":memory:":
        return {"path": settings.path}
    return {"path": project_relative(Path(settings.path), root)}


def _target(settings: DuckDBSettings, unresolved: Mapping[str, str]) -> tuple[str | None, str | None]:
    return "main", "memory" if settings.path == ":memory:" else Path(settings.path).stem


def _airflow_connection(settings: DuckDBSettings, connection: Any, conn_id: str) -> dict[str, Any]:
    path = (connection.extra_dejson or {}).get("path") or connection.host
    if not path:
        raise ProfileError(f"Airflow connection {conn_id!r} has no DuckDB path (set its host or extra 'path')")
    return {"path": path}


def _transient(error: BaseException) -> bool:
    """A write-write conflict between two transactions; everything else (binder and parser
    errors, constraint violations, a missing file) fails the same way each time."""
    duckdb = sys.modules.get("duckdb")
    return duckdb is not None and isinstance(error, duckdb.TransactionException)


def _asset_namespace(settings: DuckDBSettings, root: Path, unresolved: Mapping[str, str]) -> str | None:
    """`duckdb:<absolute file path>/main`: a relation is the file, its schema and its name (the
    form Airflow normalizes `duckdb:///path` to, since the scheme has no host part)."""
    if "duckdb.path" in unresolved or settings.path == ":memory:":
        return None
    return "duckdb:" + quote(str(Path(settings.path).resolve()), safe="/") + "/main"


def _orchestrator_problem(settings: DuckDBSettings) -> str | None:
    if settings.path == ":memory:":
        return (
            "an in-memory DuckDB lives as long as one process, and every Airflow or Prefect task runs in its own, "
            "so each would start from an empty database"
        )
    return None


def _warehouse_absent(settings: DuckDBSettings) -> str | None:
    if settings.path == ":memory:":
        return "an in-memory DuckDB keeps nothing between processes"
    if not Path(settings.path).is_file():
        return f"{settings.path} does not exist"
    return None


def _from_dbt(output: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """dbt-duckdb's output: `path` and `threads`. Models build in the file's `main` schema, as
    dbt-duckdb's default `schema: main` has it; another schema is left unread."""
    out = dict(output)
    settings = {key: out.pop(key) for key in ("path", "threads") if key in out}
    out.pop("database", None)  # dbt-duckdb derives it from the path, as FlowForge does
    if out.get("schema") == "main":
        out.pop("schema")
    return settings, sorted(out)


@contextmanager
def _isolated(profile: Profile) -> Iterator[DuckDBExecutor]:
    """Unit tests run on an in-memory database that is thrown away."""
    with DuckDBExecutor(Profile("utest", DuckDBProfile(engine="duckdb"))) as executor:
        yield executor


ENGINE = EngineSpec(
    name="duckdb",
    dialect="duckdb",
    profile=DuckDBProfile,
    extra="duckdb",
    capabilities=Capabilities(single_writer=True, merge=True),
    overrides={"FF_DUCKDB_PATH": "path"},
    path_keys=("path",),
    requires=("duckdb",),
    executor=lambda: DuckDBExecutor,
    location=_location,
    target=_target,
    airflow_connection=_airflow_connection,
    isolated=_isolated,
    orchestrator_problem=_orchestrator_problem,
    transient=_transient,
    asset_namespace=_asset_namespace,
    warehouse_absent=_warehouse_absent,
    dbt_types=("duckdb",),
    from_dbt=_from_dbt,
)
