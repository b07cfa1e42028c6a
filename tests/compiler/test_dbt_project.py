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
            "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n        tests:\n          - relationships: {to: other, field: id}\n",
        }
    )
    with pytest.raises(ProjectFileError, match="must be ref"):
        load_project(root)


def test_sources_in_schema_files_take_dbts_default_schema_and_their_column_tests(make_project) -> None:
    from flowforge_compiler.compile import compile_project
    from flowforge_compiler.profiles import resolve_profile

    root = make_project(
        {
            "project.yml": None,
            "dbt_project.yml": "name: shop\n",
            "models/stg_orders.sql": "select id from {{ source('raw', 'orders') }}",
            "models/sources.yml": """
                version: 2
                sources:
                  - name: raw
                    description: Loaded by the EL tool.
                    tables:
                      - name: orders
                        identifier: orders_v2
                        description: One row per order.
                        columns:
                          - name: id
                            tests: [not_null]
                      - name: customers
                """,
        }
    )
    project = load_project(root)
    orders = project.sources[("raw", "orders")]
    assert (orders.identifier, orders.schema, orders.description, orders.source_description) == ("orders_v2", "raw", "One row per order.", "Loaded by the EL tool.")
    plan = compile_project(project, resolve_profile(root, None, environ={}), environ={})
    assert plan.node("stg_orders").source_relations == ["raw.orders_v2"]
    (check,) = plan.checks
    assert (check.type, check.relation.schema_, check.relation.name, check.node) == ("not_null", "raw", "orders_v2", None)


def test_seeds_take_dbts_folder_config_and_properties_and_a_disabled_seeds_tests_go_with_it(make_project) -> None:
    from tests.compiler.helpers import compile_dir

    root = make_project(
        {
            "project.yml": None,
            "dbt_project.yml": """
                name: shop
                version: '1'
                vars: {load_legacy: false}
                seeds:
                  shop:
                    +column_types: {zip: varchar}
                    +quote_columns: false
                    legacy:
                      +enabled: "{{ var('load_legacy', true) }}"
            """,
            "seeds/stores.csv": "id,zip\n1,01234\n",
            "seeds/legacy/old_stores.csv": "id\n1\n",
            "seeds/properties.yml": """
                version: 2
                seeds:
                  - name: stores
                    description: Our stores.
                    config: {column_types: {id: bigint}}
                    columns:
                      - name: zip
                        description: Kept as text, leading zeros and all.
                        data_tests: [not_null]
                  - name: old_stores
                    columns:
                      - name: id
                        data_tests: [unique]
            """,
        }
    )
    project = load_project(root)
    (stores,) = project.seeds
    assert stores.settings.column_types == {"zip": "varchar", "id": "bigint"} and stores.settings.description == "Our stores."
    assert stores.settings.columns == {"zip": "Kept as text, leading zeros and all."}
    assert [(c.type, c.table) for c in project.config.tests] == [("not_null", "stores")]
    assert [c.table for c in compile_dir(root).checks] == ["stores"]
    (root / "dbt_project.yml").write_text((root / "dbt_project.yml").read_text().replace("load_legacy: false", "load_legacy: true"))
    assert sorted(s.name for s in load_project(root).seeds) == ["old_stores", "stores"]


def test_what_a_dbt_project_holds_that_flowforge_does_not_build_is_named(make_project, caplog) -> None:
    import logging

    root = make_project(
        {
            "project.yml": None,
            "dbt_project.yml": "name: shop\nversion: '1'\non-run-end: \"{{ log('done') }}\"\n",
            "packages.yml": "packages:\n  - package: dbt-labs/dbt_utils\n",
            "snapshots/orders_snapshot.sql": "{% snapshot orders_snapshot %}select 1{% endsnapshot %}",
            "models/a.sql": "select 1 as id",
            "macros/naming.sql": "{% macro generate_schema_name(custom_schema_name, node) %}x{% endmacro %}",
            "models/py_model.py": "def model(dbt, session):\n    return None\n",
            "models/exposures.yml": "version: 2\nexposures:\n  - name: dashboard\n    type: dashboard\nsemantic_models: []\n",
        }
    )
    with caplog.at_level(logging.WARNING, logger="flowforge"):
        project = load_project(root)
    assert [m.name for m in project.sql_models] == ["a"]
    for expected in [
        "'on-run-end' is not supported",
        "packages.yml: its packages are not installed in dbt_packages/; run `dbt deps`",
        "snapshots/: dbt snapshots are not built",
        "models/py_model.py: dbt Python models are not read",
        "models/exposures.yml: semantic_models not read",  # exposures are read
        "macros/naming.sql: generate_schema_name is not called by FlowForge",
    ]:
        assert expected in caplog.text, expected


@pytest.mark.parametrize("key", ["model-paths", "seed-paths", "macro-paths", "test-paths"])
@pytest.mark.parametrize("folder", ["../outside", "/tmp"])
def test_a_dbt_path_outside_the_project_is_refused(make_project, tmp_path, key: str, folder: str) -> None:
    (tmp_path / "outside").mkdir(exist_ok=True)
    (tmp_path / "outside" / "x.sql").write_text("select 1 as id")
    root = make_project({"project.yml": None, "dbt_project.yml": f"name: shop\nversion: '1'\n{key}: ['{folder}']\n"})
    if folder == "../outside":
        (root.parent / "outside").mkdir(exist_ok=True)
    with pytest.raises(ProjectFileError, match="outside the project folder"):
        load_project(root)


def test_a_seeds_and_a_models_own_config_in_dbt_project_yml_is_read_at_their_own_level(make_project) -> None:
    """dbt's fqn ends with the node's name: `seeds: shop: lookups: codes: +column_types` types
    the seed codes (it was ignored, loading the codes as numbers), and a model is configured the
    same way; `column_types` without its `+` is the config too, not a folder."""
    root = make_project({
        "project.yml": None,
        "dbt_project.yml": """
            name: shop
            version: '1'
            seeds:
              shop:
                lookups:
                  codes:
                    +column_types: {code: varchar}
                  regions:
                    column_types: {region: varchar}
            models:
              shop:
                marts:
                  orders:
                    +materialized: table
                    +tags: [finance]
        """,
        "seeds/lookups/codes.csv": "code\n007\n",
        "seeds/lookups/regions.csv": "region\n01\n",
        "models/marts/orders.sql": "select 1 as id",
        "models/marts/other.sql": "select 2 as id",
    })
    project = load_project(root)
    by_name = {s.name: s.settings.column_types for s in project.seeds}
    assert by_name == {"codes": {"code": "varchar"}, "regions": {"region": "varchar"}}
    from tests.compiler.helpers import compile_dir

    plan = compile_dir(root)
    assert plan.node("orders").materialization.type == "table" and plan.node("orders").tags == ["finance"]
    assert plan.node("other").materialization.type == "view"  # dbt's default for a model that sets none
