"""Reading a dbt project: folder config with dbt's nesting and `+` prefixes, schema.yml tests and
descriptions (with doc() blocks), disabled models."""

from __future__ import annotations

import pytest

from flowforge_compiler.dbt_project import folder_config
from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.project import load_project

MODELS = {"shop": {"+materialized": "table", "+tags": ["nightly"], "staging": {"materialized": "view", "+tags": "raw", "old": {"+enabled": False}}}}


def test_folder_config_nests_and_the_deeper_folder_wins_tags_add_up() -> None:
    assert folder_config(MODELS, "shop", (), "models/a.sql") == {"materialized": "table", "tags": ["nightly"]}
    assert folder_config(MODELS, "shop", ("staging",), "m") == {"materialized": "view", "tags": ["nightly", "raw"]}
    assert folder_config(MODELS, "shop", ("staging", "old"), "m")["enabled"] is False
    assert folder_config(MODELS, "other", ("staging",), "m") == {}


def test_schema_files_give_descriptions_tests_and_disabled_models(make_project) -> None:
    root = make_project(
        {
            "project.yml": None,
            "dbt_project.yml": "name: shop\nversion: '1'\nmodels:\n  shop:\n    staging:\n      +materialized: view\n      old:\n        +enabled: false\n",
            "models/staging/stg.sql": "select 1 as id, 'a' as status",
            "models/staging/old/legacy.sql": "select 1 as id",
            "models/docs.md": "{% docs status_doc %}\nOne of a, b.\n{% enddocs %}",
            "models/schema.yml": """
                version: 2
                models:
                  - name: stg
                    description: Staged rows.
                    columns:
                      - name: id
                        data_tests: [unique, {not_null: {config: {severity: warn}}}]
                      - name: status
                        description: '{{ doc("status_doc") }}'
                        tests:
                          - accepted_values: {values: [a, b], tags: [quality]}
                """,
        }
    )
    project = load_project(root)
    assert [m.name for m in project.sql_models] == ["stg"]  # legacy is disabled
    settings = project.config.models["stg"]
    assert settings.materialized == "view" and settings.description == "Staged rows."
    assert settings.columns == {"status": "One of a, b."}
    checks = [(c.type, c.column, c.severity, c.tags) for c in project.config.tests]
    assert checks == [("unique", "id", "error", []), ("not_null", "id", "warn", []), ("accepted_values", "status", "error", ["quality"])]


def test_a_relationships_test_must_point_at_a_ref(make_project) -> None:
    root = make_project(
        {
            "project.yml": None,
            "dbt_project.yml": "name: shop\n",
            "models/a.sql": "select 1 as id",
            "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n        tests:\n          - relationships: {to: \"source('x', 'y')\", field: id}\n",
        }
    )
    with pytest.raises(ProjectFileError, match="must be ref"):
        load_project(root)
