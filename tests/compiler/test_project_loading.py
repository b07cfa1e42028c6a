"""Loading project files: strict YAML with file, line and allowed keys; sources; seeds; names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compiler.helpers import compile_dir

from flowforge_compiler.errors import ModuleLoadError, ProjectFileError
from flowforge_compiler.project import load_project


def test_example_project_loads(example_copy) -> None:
    project = load_project(example_copy("simple_duckdb"))
    assert project.config.name == "simple_duckdb"
    assert sorted(m.name for m in project.sql_models) == ["mart_users.ff", "orders.ff", "users.ff"]
    assert sorted(m.name for m in project.python_models) == ["mart_orders_enriched", "users_enriched"]
    assert sorted(s.name for s in project.seeds) == ["seed_orders", "seed_users"]


def test_missing_project_yml_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="has no project.yml"):
        load_project(tmp_path)


def test_unknown_key_names_file_line_key_and_allowed_keys(make_project) -> None:
    root = make_project({"project.yml": "name: t\nversion: '1'\nschedul: '@daily'\n"})
    with pytest.raises(ProjectFileError) as info:
        load_project(root)
    text = info.value.render()
    assert text.startswith("project.yml:3:")
    assert "unknown key 'schedul'" in text
    assert "allowed keys:" in text and "schedule" in text and "vars" in text


def test_unknown_key_in_model_config_lists_config_keys(make_project) -> None:
    root = make_project(
        {
            "project.yml": "name: t\nversion: '1'\nmodels:\n  a.ff:\n    materialised: view\n",
            "models/a.ff.sql": "select 1 as x",
        }
    )
    with pytest.raises(ProjectFileError) as info:
        load_project(root)
    assert "project.yml:5" in info.value.render()
    assert "'materialised'" in info.value.message and "materialized" in info.value.message


def test_unknown_check_key_is_an_error(make_project) -> None:
    root = make_project(
        {"project.yml": "name: t\nversion: '1'\ntests:\n  - {type: not_null, table: a, colum: x}\n"}
    )
    with pytest.raises(ProjectFileError, match="unknown key 'colum'"):
        load_project(root)


def test_invalid_yaml_reports_its_line(make_project) -> None:
    root = make_project({"project.yml": "name: t\nversion: '1'\nvars: [a\n"})
    with pytest.raises(ProjectFileError) as info:
        load_project(root)
    assert info.value.location is not None and info.value.location.line is not None
    assert "invalid YAML" in info.value.message


def test_project_models_entry_must_name_a_model(make_project) -> None:
    root = make_project(
        {"project.yml": "name: t\nversion: '1'\nmodels:\n  user.ff: {materialized: view}\n", "models/users.ff.sql": "select 1"}
    )
    with pytest.raises(ProjectFileError, match="'user.ff' is not a model") as info:
        load_project(root)
    assert "users.ff" in (info.value.hint or "")


def test_flat_and_dbt_sources_shapes_normalise_alike(make_project) -> None:
    flat = make_project({"sources.yml": "crm:\n  users: {identifier: seed_users}\n  events: {}\n"})
    dbt = make_project(
        {
            "sources.yml": """
            version: 2
            sources:
              - name: crm
                tables:
                  - {name: users, identifier: seed_users}
                  - {name: events}
            """
        }
    )
    assert load_project(flat).sources == load_project(dbt).sources
    users = load_project(flat).sources[("crm", "users")]
    assert users.relation == "seed_users"


def test_dbt_sources_schema_qualifies_the_relation(make_project) -> None:
    root = make_project(
        {"sources.yml": "version: 2\nsources:\n  - name: raw\n    schema: ext\n    tables: [{name: events, identifier: raw_events}]\n"}
    )
    assert load_project(root).sources[("raw", "events")].relation == "ext.raw_events"


def test_sources_unknown_key_is_reported_with_line(make_project) -> None:
    root = make_project({"sources.yml": "crm:\n  users:\n    identifer: seed_users\n"})
    with pytest.raises(ProjectFileError) as info:
        load_project(root)
    assert info.value.render().startswith("sources.yml:3")
    assert "identifier" in info.value.message


def test_models_are_found_recursively_with_flat_names(make_project) -> None:
    root = make_project(
        {
            "models/staging/stg_a.ff.sql": "select 1 as x",
            "models/marts/deep/m.ff.py": "from flowforge_compiler import model\n@model(deps=['stg_a.ff'])\ndef m(df):\n    return df\n",
        }
    )
    project = load_project(root)
    assert [m.path for m in project.sql_models] == ["models/staging/stg_a.ff.sql"]
    assert [(m.name, m.path) for m in project.python_models] == [("m", "models/marts/deep/m.ff.py")]


def test_two_nodes_with_one_name_is_an_error(make_project) -> None:
    root = make_project({"models/a/x.ff.sql": "select 1", "models/b/x.ff.sql": "select 2"})
    with pytest.raises(ProjectFileError, match="two nodes are named 'x.ff'"):
        load_project(root)


def test_two_nodes_with_one_relation_is_an_error(make_project) -> None:
    root = make_project(
        {
            "models/users.ff.sql": "select 1",
            "models/u.ff.py": "from flowforge_compiler import model\n@model(name='users')\ndef f():\n    return None\n",
        }
    )
    with pytest.raises(ProjectFileError, match="both build the relation 'users'"):
        load_project(root)


def test_seed_formats_and_schema_types(make_project) -> None:
    root = make_project(
        {
            "seeds/a.csv": "id\n1\n",
            "seeds/b.sql": "select 1 as id",
            "seeds/schema.yml": "seeds:\n  a: {column_types: {id: BIGINT}}\n",
            "seeds/README.txt": "ignored",
        }
    )
    seeds = {s.name: s for s in load_project(root).seeds}
    assert sorted(seeds) == ["a", "b"]
    assert seeds["a"].settings.column_types == {"id": "BIGINT"}
    assert seeds["b"].format == "sql"


def test_seed_schema_naming_a_missing_seed_is_an_error(make_project) -> None:
    root = make_project({"seeds/a.csv": "id\n1\n", "seeds/schema.yml": "seeds:\n  zz: {column_types: {id: INT}}\n"})
    with pytest.raises(ProjectFileError, match="no file: zz"):
        load_project(root)


def test_python_syntax_error_names_file_and_line(make_project) -> None:
    root = make_project({"models/bad.ff.py": "from flowforge_compiler import model\n\ndef f(:\n    pass\n"})
    with pytest.raises(ModuleLoadError) as info:
        load_project(root)
    assert info.value.render().startswith("models/bad.ff.py:3")


def test_macros_are_read(make_project) -> None:
    root = make_project({"macros/m.sql": "{% macro one() %}1{% endmacro %}"})
    assert list(load_project(root).macros) == ["macros/m.sql"]


def test_files_flowforge_does_not_read_are_named_in_a_warning(make_project, caplog) -> None:
    from flowforge_compiler.project import load_project

    root = make_project(
        {
            "packages.yml": "packages: []\n",
            "models/schema.yml": "version: 2\nmodels: []\n",
            "models/notes.md": "# notes",
            "models/old.sql": "select 1",
            "models/unused.py": "X = 1\n",
            "models/helper.py": "Y = 2\n",
            "models/m.ff.py": "from flowforge_compiler import model\nimport helper\n@model(name='m')\ndef f():\n    return None\n",
            "seeds/data.json": "{}",
            "seeds/sub/schema.yml": "seeds: {}\n",
            "macros/readme.txt": "x",
        }
    )
    load_project(root)
    text = caplog.text
    assert "packages.yml: not read" in text
    assert "models/schema.yml: not read; FlowForge takes model config from config()" in text
    assert "models/notes.md: not read" in text and "models/old.sql: not read" in text
    assert "models/unused.py: not a model" in text
    assert "models/helper.py" not in text  # a Python model imports it
    assert "seeds/data.json: not read" in text and "seeds/sub/schema.yml: not read" in text
    assert "macros/readme.txt: not read" in text


@pytest.mark.parametrize("folder", ["models", "macros", "seeds"])
def test_a_linked_sub_folder_is_never_read_and_says_so(make_project, tmp_path, folder, caplog) -> None:
    file = {"models": "x.ff.sql", "macros": "x.sql", "seeds": "x.csv"}[folder]
    text = {"models": "select 1 as v", "macros": "{% macro x() %}1{% endmacro %}", "seeds": "id\n1\n"}[folder]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / file).write_text(text)
    root = make_project({"models/a.ff.sql": "select 1 as a"})
    (root / folder).mkdir(exist_ok=True)
    (root / folder / "linked").symlink_to(outside)
    project = load_project(root)
    assert f"{folder}/linked: a linked folder is not read" in caplog.text
    assert [m.name for m in project.sql_models] == ["a.ff"] and not project.macros and not project.seeds


def test_orchestrator_sections_of_project_yml_reach_the_plan_as_written(make_project) -> None:
    """Each target validates its own block when it writes (tests/targets/test_target.py)."""
    assert load_project(make_project({"project.yml": "name: t\nversion: '1'\nprefect: {tags: [nightly]}\n"})).config.prefect == {"tags": ["nightly"]}
    root = make_project({"project.yml": "name: t\nversion: '1'\nairflow: {owner: me}\n", "models/a.ff.sql": "select 1 as x"})
    assert compile_dir(root).project.targets == {"airflow": {"owner": "me"}}


def test_every_example_loads_where_it_is() -> None:
    """As a newcomer runs them: in place, not copied (a copy would follow links the checks refuse)."""
    from tests.conftest import EXAMPLES

    examples = sorted(p.parent for p in EXAMPLES.glob("*/project.yml"))
    assert examples
    for example in examples:
        assert load_project(example).sql_models, example.name
