"""Seeds load exactly what the file says: only an empty field is NULL; sub-folders are seeds too."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.helpers import build_all, rows

COUNTRIES = 'code,name\nNA,Namibia\nn/a,unknown\nnull,a word\nNaN,a word too\nNone,and this\n,\n"",""\n'


def test_na_null_nan_none_stay_text_and_only_the_empty_field_is_null(make_project, tmp_path: Path) -> None:
    root = make_project({"seeds/countries.csv": COUNTRIES})
    db = tmp_path / "w.duckdb"
    build_all(root, db)
    assert rows(db, "select code from countries") == [("NA",), ("n/a",), ("null",), ("NaN",), ("None",), (None,), ("",)]
    assert rows(db, "select typeof(code) from countries limit 1") == [("VARCHAR",)]


def test_null_values_listed_in_schema_yml_are_null(make_project, tmp_path: Path) -> None:
    root = make_project(
        {"seeds/countries.csv": COUNTRIES, "seeds/schema.yml": "seeds:\n  countries: {null_values: ['n/a', 'None']}\n"}
    )
    db = tmp_path / "w.duckdb"
    build_all(root, db)
    assert rows(db, "select count(*) from countries where code is null") == [(3,)]
    assert rows(db, "select code from countries where code = 'NA'") == [("NA",)]


def test_seeds_in_sub_folders_load_under_their_file_stem(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "seeds/crm/users.csv": "id\n1\n",
            "seeds/shop/2024/orders.csv": "id,user_id\n10,1\n",
            "models/m.ff.sql": "select o.id from {{ ref('orders') }} o join {{ ref('users') }} u on u.id = o.user_id",
        }
    )
    db = tmp_path / "w.duckdb"
    plan, _ = build_all(root, db)
    assert {n.id: n.path for n in plan.nodes if n.kind == "seed"} == {"users": "seeds/crm/users.csv", "orders": "seeds/shop/2024/orders.csv"}
    assert rows(db, "select * from m") == [(10,)]
