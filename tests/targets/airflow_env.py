"""Airflow in tests: a private AIRFLOW_HOME, DAGs folder and SQLite database, set up once.

Airflow reads its configuration when first imported (`airflow.settings.DAGS_FOLDER`, which
`dag.test()` re-parses, is a constant of that import), so the environment is set before that:
once per test process, from `pytest_configure` (each xdist worker is a process). Set up later,
by a fixture, an earlier import in the same worker left `dag.test()` syncing the default
~/airflow/dags and failing with "the dag is not serialized".
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_DAGS: Path | None = None


def configure(home: Path) -> Path:
    """Point Airflow at `home`; returns the DAGs folder. Call before importing airflow."""
    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    return dags


def configure_once() -> Path:
    """The test process's Airflow home, made on first call; returns its DAGs folder."""
    global _DAGS
    if _DAGS is None:
        home = Path(tempfile.mkdtemp(prefix="ff-airflow-"))
        _DAGS = configure(home)
    return _DAGS


def remove() -> None:
    if _DAGS is not None:
        shutil.rmtree(_DAGS.parent, ignore_errors=True)
