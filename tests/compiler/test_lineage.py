"""Column-level lineage in the plan, and `ffc lineage` for a column's sources and impact."""

from __future__ import annotations

import subprocess
import sys

from flowforge_compiler.compile import compile_project
from flowforge_compiler.lineage import downstream, upstream
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from tests.conftest import REPO

PROJECT = {
    "seeds/raw_users.csv": "id,email,country\n1,a@x.io,DE\n",
    "seeds/raw_orders.csv": "order_id,user_id,amount\n10,1,5\n",
    "models/users.ff.sql": "select * from {{ ref('raw_users') }}",
    "models/orders.ff.sql": "with o as (select order_id as id, user_id, amount * 2 as amount from {{ ref('raw_orders') }}) select * from o",
    "models/joined.ff.sql": "select o.id, u.email, o.amount, upper(u.country) || o.id as tag, count(*) over () as n "
    "from {{ ref('orders') }} as o join (select id, email, country from {{ ref('users') }}) as u on u.id = o.user_id",
    "models/both.ff.sql": "select id from {{ ref('users') }} union all select user_id from {{ ref('orders') }}",
    "models/py.ff.py": "from flowforge_compiler import model\n@model(name='py', deps=['joined.ff'])\ndef f(df):\n    return df\n",
    "models/after_py.ff.sql": "select email from {{ ref('py') }}",
}


def plan_with_lineage(make_project):
    root = make_project(PROJECT)
    return compile_project(load_project(root), resolve_profile(root, None, environ={}), environ={}, lineage=True)


def sources(plan, node_id: str) -> dict[str, list[tuple[str, str]]]:
    return {c.name: [(s.relation, s.column) for s in c.sources] for c in plan.node(node_id).columns}


def test_columns_follow_stars_ctes_subqueries_joins_and_set_operations(make_project) -> None:
    plan = plan_with_lineage(make_project)
    assert sources(plan, "users.ff") == {"id": [("raw_users", "id")], "email": [("raw_users", "email")], "country": [("raw_users", "country")]}
    assert sources(plan, "orders.ff") == {"id": [("raw_orders", "order_id")], "user_id": [("raw_orders", "user_id")], "amount": [("raw_orders", "amount")]}
    assert sources(plan, "joined.ff") == {
        "id": [("orders", "id")],
        "email": [("users", "email")],
        "amount": [("orders", "amount")],
        "tag": [("orders", "id"), ("users", "country")],
        "n": [],
    }
    assert sources(plan, "both.ff") == {"id": [("orders", "user_id"), ("users", "id")]}
    assert plan.node("py").columns is None  # a Python model's columns are not known at compile time
    assert sources(plan, "after_py.ff") == {"email": [("py", "email")]}


def test_upstream_and_downstream_of_a_column(make_project) -> None:
    plan = plan_with_lineage(make_project)
    assert upstream(plan.nodes, ("joined", "tag")) == [("orders", "id"), ("users", "country"), ("raw_orders", "order_id"), ("raw_users", "country")]
    columns, opaque = downstream(plan.nodes, ("raw_users", "id"))
    assert columns == [("users", "id"), ("both", "id")]
    assert opaque == []
    assert downstream(plan.nodes, ("raw_users", "email")) == ([("users", "email"), ("joined", "email")], ["py"])


def test_lineage_is_only_worked_out_when_asked(make_project) -> None:
    root = make_project(PROJECT)
    plan = compile_project(load_project(root), resolve_profile(root, None, environ={}), environ={})
    assert all(n.columns is None for n in plan.nodes)


def test_a_compile_without_lineage_does_not_load_sqlglots_optimizer(make_project) -> None:
    root = make_project(PROJECT)
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from flowforge_compiler.compile import compile_project\n"
        "from flowforge_compiler.profiles import resolve_profile\n"
        "from flowforge_compiler.project import load_project\n"
        "root = Path(sys.argv[1])\n"
        "compile_project(load_project(root), resolve_profile(root, None, environ={}), environ={})\n"
        "print('sqlglot.optimizer.qualify' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True, check=True, cwd=REPO)
    assert done.stdout.strip() == "False"


def test_ffc_lineage_prints_sources_and_impact(make_project, ffc) -> None:
    root = make_project(PROJECT)
    every = ffc("lineage", root)
    assert every.exit_code == 0 and "joined.tag <- orders.id, users.country" in every.stdout
    one = ffc("lineage", root, "users.ff.email")
    assert one.stdout.splitlines() == ["users.email", "  from: raw_users.email", "  into: joined.email", "  read by Python models (columns not known): py"]
    missing = ffc("lineage", root, "users.nope")
    assert missing.exit_code == 1 and "its columns: id, email, country" in missing.stderr
    compiled = ffc("compile", root)
    assert compiled.exit_code == 0 and '"columns": [' in (root / ".flowforge" / "plan.json").read_text()


def test_a_star_expands_through_an_ephemeral_parent_and_a_source_that_names_a_seed(make_project) -> None:
    """Each model is qualified against the columns of the relations it reads only (not the
    whole project's): those of an ephemeral parent's parents, whose SQL becomes its CTE, and of
    a seed read through source() must still be there."""
    root = make_project(
        {
            "seeds/raw_users.csv": "id,email\n1,a@x.io\n",
            "sources.yml": "crm:\n  users: {identifier: raw_users}\n",
            "project.yml": "name: p\nversion: '1'\nmodels:\n  eph.ff: {materialized: ephemeral}\n",
            "models/eph.ff.sql": "select * from {{ ref('raw_users') }}",
            "models/via_eph.ff.sql": "select * from {{ ref('eph') }}",
            "models/via_source.ff.sql": "select * from {{ source('crm', 'users') }}",
        }
    )
    plan = compile_project(load_project(root), resolve_profile(root, None, environ={}), environ={}, lineage=True)
    assert [c.name for c in plan.node("via_eph.ff").columns] == ["id", "email"]
    assert sources(plan, "via_source.ff") == {"id": [("raw_users", "id")], "email": [("raw_users", "email")]}
