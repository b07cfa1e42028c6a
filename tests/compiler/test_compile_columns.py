"""A relation's column names while compiling (dbt's adapter.get_columns_in_relation, which
dbt_utils.star reads): from a seed's header, or a model's SQL drafted first, never from the
warehouse; a model asking what only the warehouse knows renders at run time."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from flowforge_compiler.errors import FlowForgeError
from tests.compiler.helpers import compile_dir
from tests.conftest import REPO

DBT = "name: shop\nversion: '1'\n"
COLUMNS = "{% for c in adapter.get_columns_in_relation(ref('$')) %}{{ c.name }}{% if not loop.last %}, {% endif %}{% endfor %}"


def project(make_project, files: dict[str, str]) -> Path:
    return make_project({"project.yml": None, "dbt_project.yml": DBT, "seeds/raw.csv": "id,code,note\n1,a,x\n", **files})


def sql_of(root: Path, node: str) -> str:
    return next(n.sql for n in compile_dir(root).nodes if n.id == node)


def columns_of(name: str) -> str:
    return COLUMNS.replace("$", name)


def test_a_seeds_columns_come_from_its_header_and_a_models_from_its_sql(make_project) -> None:
    root = project(
        make_project,
        {
            "models/a_reader.sql": f"select {columns_of('z_model')} from {{{{ ref('z_model') }}}}",  # drafted before z_model
            "models/z_model.sql": "select *, code || note as label from {{ ref('raw') }}",
        },
    )
    assert sql_of(root, "a_reader") == "select id, code, note, label from z_model"


def test_dbt_utils_star_expands_from_what_the_compile_knows(make_project) -> None:
    root = project(make_project, {"models/m.sql": "select {{ dbt_utils.star(from=ref('raw'), except=['note']) }} from {{ ref('raw') }}"})
    shutil.copytree(REPO / "tests" / "fixtures" / "dbt" / "packages" / "dbt_utils", root / "dbt_packages" / "dbt_utils")
    assert sql_of(root, "m") == 'select "id",\n  "code" from raw'  # dbt compiles `select "id",\n  "code" from ...` (star quotes)


def test_the_plan_does_not_depend_on_which_model_was_drafted_first(make_project) -> None:
    files = {"models/a_reader.sql": f"select {columns_of('z_model')} from {{{{ ref('z_model') }}}}", "models/z_model.sql": "select 1 as x"}
    first, second = compile_dir(project(make_project, files)), compile_dir(project(make_project, files))
    assert [n.id for n in first.nodes] == [n.id for n in second.nodes] == ["raw", "z_model", "a_reader"]
    assert first.to_json() == second.to_json()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"models/m.sql": "{% set c = adapter.get_columns_in_relation(source('app', 'users')) %}select 1 as x",
             "models/sources.yml": "version: 2\nsources:\n  - name: app\n    tables: [{name: users}]\n"},
            "the columns of the source table 'app.users' are known only to the warehouse",
        ),
        ({"models/m.sql": "{% set c = adapter.get_columns_in_relation('raw') %}select 1 as x"}, "needs a relation from ref"),
        ({"models/m.sql": "select {{ adapter.get_columns_in_relation(ref('raw'))[0].data_type }} as t"}, "the type of the column 'id' is known only"),
        (
            {"models/m.sql": f"select {columns_of('n')} from {{{{ ref('n') }}}}", "models/n.sql": f"select {columns_of('m')} from {{{{ ref('m') }}}}"},
            r"Cycle detected among nodes: m -> n -> m",  # as dbt's parse finds it: each refs the other
        ),
        (
            {"models/m.sql": f"select {columns_of('n')} as x", "models/n.sql": "select * from {{ source('app', 'users') }}",
             "models/sources.yml": "version: 2\nsources:\n  - name: app\n    tables: [{name: users}]\n"},
            "the columns of 'n' cannot be worked out from its SQL",
        ),
    ],
)
def test_what_only_the_warehouse_knows_makes_the_model_render_at_run_time_naming_it(make_project, files: dict[str, str], message: str) -> None:
    """dbt renders such a model at run time, with the warehouse; so does FlowForge, and the plan
    says why with the file and line (an error only where rendering as dbt parses fails too)."""
    try:
        plan = compile_dir(project(make_project, files))
    except FlowForgeError as error:
        assert re.search(message, error.message), error.message
        return
    why = plan.node("m").render_at_run_time
    assert why is not None and why.startswith("models/m.sql:") and re.search(message, why), why
