"""The example DAG on a real Airflow scheduler (LocalExecutor, metadata on the CI PostgreSQL).

The slowest test of the suite (about a minute): it starts Airflow's api-server, scheduler and
dag-processor, imports the DAG's one-slot pool, triggers the DAG twice and reads what happened
from Airflow's own metadata.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.targets.airflow_services import airflow_services

pytestmark = [pytest.mark.airflow, pytest.mark.postgres]


def test_a_real_scheduler_builds_once_then_skips_every_node_task(tmp_path: Path, pg_dsn: str, ffc, example_copy) -> None:
    project = example_copy("simple_duckdb")
    config = project / "project.yml"  # no schedule: unpausing must not start a run of its own
    config.write_text("".join(line for line in config.read_text().splitlines(keepends=True) if not line.startswith("schedule:")))
    warehouse = tmp_path / "warehouse.duckdb"
    with airflow_services(tmp_path / "airflow", pg_dsn) as airflow:
        compiled = ffc(
            "compile", project, "--target", "airflow", "--out", airflow.dags, "--dag-id", "shop", "--env", "dev",
            env={"FF_DUCKDB_PATH": str(warehouse)},
        )
        assert compiled.exit_code == 0, compiled.output
        airflow.cli("pools", "import", str(airflow.dags / "shop" / "pools.json"))
        airflow.wait_for_dags("shop")
        airflow.cli("dags", "unpause", "shop")
        first, first_state, _ = airflow.trigger("shop")
        second, second_state, _ = airflow.trigger("shop")
        states = [airflow.task_states("shop", run) for run in (first, second)]
    assert first_state == "success", states[0]
    assert second_state == "success", states[1]
    node_tasks = {"users", "orders", "users_enriched", "mart_orders_enriched", "mart_users", "seeds.seed_users", "seeds.seed_orders"}
    assert {states[0][t] for t in node_tasks} == {"success"}
    assert {states[1][t] for t in node_tasks} == {"skipped"}  # the plan task branched to none of them
    assert states[1]["flowforge_plan"] == "success"
    # checks ran and passed, then ended skipped: nothing was built, so they publish no Asset event
    assert {s for t, s in states[1].items() if t.startswith("test_")} == {"skipped"}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from _ff_meta").fetchone() == (7,)  # each node built once
