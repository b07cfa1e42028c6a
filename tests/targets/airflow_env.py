"""Airflow in tests: a private AIRFLOW_HOME, DAGs folder and SQLite database, set up once.

Airflow reads its configuration when first imported, so the environment is set before that.
"""

from __future__ import annotations

import os
from pathlib import Path


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
