"""Profiles from an Airflow connection, resolved in the worker (`--airflow-conn`).

The DAG file names only the connection id; its host, login and password are read by the task,
from whatever secrets backend the Airflow deployment uses, and never written anywhere. Each
engine says how a connection maps onto its settings (`EngineSpec.airflow_connection`). This is
the Airflow target's: the runtime knows only a generic settings hook (`runtime.bundle.SettingsHook`),
which a generated DAG builds with `airflow_settings`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flowforge_compiler.errors import ProfileError
from flowforge_compiler.profiles import Profile


def airflow_settings(conn_id: str | None) -> Callable[[Profile], Profile] | None:
    """The settings hook a task hands the runtime: the profile with the connection's settings
    (read when the task opens its profile); None without a connection."""
    return partial(apply_airflow_connection, conn_id=conn_id) if conn_id else None


def apply_airflow_connection(profile: Profile, conn_id: str) -> Profile:
    """The profile with the connection's settings in place of its own engine block's."""
    mapping = profile.spec.airflow_connection
    if mapping is None:
        raise ProfileError(f"--airflow-conn is not supported for the {profile.engine} engine")
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
    return profile.with_engine_settings(**mapping(profile.engine_settings, connection, conn_id))
