"""Profiles from an Airflow connection, resolved in the worker (`--airflow-conn`).

The DAG file names only the connection id; its host, login and password are read by the task,
from whatever secrets backend the Airflow deployment uses, and never written anywhere.
"""

from __future__ import annotations

from urllib.parse import quote

from flowforge_compiler.errors import ProfileError
from flowforge_compiler.profiles import Profile


def apply_airflow_connection(profile: Profile, conn_id: str) -> Profile:
    """The profile with the connection's settings in place of its own engine block's."""
    try:
        from airflow.sdk import BaseHook
    except ImportError as exc:  # pragma: no cover - only reachable outside Airflow
        raise ProfileError(f"--airflow-conn {conn_id!r} needs Airflow in the worker") from exc
    try:
        connection = BaseHook.get_connection(conn_id)
    except Exception as exc:  # noqa: BLE001 - AirflowNotFoundException and backend errors alike
        raise ProfileError(
            f"Airflow connection {conn_id!r} cannot be read: {exc}",
            hint=f"create it, e.g. `airflow connections add {conn_id} --conn-uri postgresql://USER:PASSWORD@HOST:5432/DB`",
        ) from exc
    extra = connection.extra_dejson or {}
    if profile.engine == "postgres":
        missing = [f for f in ("host", "login", "schema") if not getattr(connection, f)]
        if missing:
            raise ProfileError(
                f"Airflow connection {conn_id!r} has no {', '.join(missing)} "
                "(schema is the database name in Airflow's postgres connections)",
            )
        password = f":{quote(connection.password, safe='')}" if connection.password else ""
        dsn = (
            f"postgresql+psycopg://{quote(connection.login, safe='')}{password}@{connection.host}:"
            f"{connection.port or 5432}/{connection.schema}"
        )
        return profile.with_engine_settings(dsn=dsn, **({"db_schema": extra["db_schema"]} if "db_schema" in extra else {}))
    if profile.engine == "duckdb":
        path = extra.get("path") or connection.host
        if not path:
            raise ProfileError(f"Airflow connection {conn_id!r} has no DuckDB path (set its host or extra 'path')")
        return profile.with_engine_settings(path=path)
    raise ProfileError(f"--airflow-conn is not supported for the {profile.engine} engine")
