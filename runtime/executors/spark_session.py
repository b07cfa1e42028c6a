"""Spark's one session per process, for the Spark / Databricks executor.

One SparkSession per process, started on first use and kept until the process exits (a JVM
is too slow to start per model). Its catalog is a Hive metastore in an embedded Derby database
beside the warehouse (`<warehouse_dir>-metastore`), so tables, views and `_ff_meta` outlive the
process, which is what the cache and orchestrator tasks need. Derby lets one process open it at
a time: FlowForge holds a lock file there while the session lives, a second process waits for it
(`lock_timeout`) like DuckDB's file lock, and orchestrators run a Spark DAG one task at a time.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowforge_compiler.engines.databricks_spark import DatabricksSparkSettings
from flowforge_compiler.errors import ProfileError

log = logging.getLogger("flowforge")

_DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}



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
