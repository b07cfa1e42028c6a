"""The DuckDB executor: materializations, atomic replace, Python models through Arrow, seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowforge_compiler.errors import ModelBuildError, ProfileError, RequiredColumnsError
from runtime import open_executor, run_node
from tests.compiler.helpers import compile_dir
from tests.runtime.helpers import build_all, duckdb_profile, rows

pytestmark = pytest.mark.duckdb

PY = "from flowforge_compiler import model\n"


def test_table_view_and_ephemeral(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "models/base.ff.sql": "{{ config(materialized='ephemeral') }}select 1 as id union all select 2",
            "models/t.ff.sql": "select id * 10 as v from {{ ref('base') }}",
            "models/v.ff.sql": "{{ config(materialized='view') }}select v + 1 as w from {{ ref('t') }}",
        }
    )
    db = tmp_path / "w.duckdb"
    _, results = build_all(root, db)
    assert {r.node_id: (r.status, r.rows) for r in results} == {
        "base.ff": ("built", None),
        "t.ff": ("built", 2),
        "v.ff": ("built", None),
    }
    assert rows(db, "select w from v order by w") == [(11,), (21,)]
    kinds = dict(rows(db, "select table_name, table_type from information_schema.tables"))
    assert kinds == {"t": "BASE TABLE", "v": "VIEW", "_ff_meta": "BASE TABLE"}  # nothing for the ephemeral, no temp left


def test_failed_build_leaves_previous_table_and_rows(make_project, tmp_path: Path) -> None:
    root = make_project({"models/t.ff.sql": "select 1 as id union all select 2"})
    db = tmp_path / "w.duckdb"
    build_all(root, db)
    (root / "models/t.ff.sql").write_text("select 1 as id union all select cast('x' as integer)")
    with pytest.raises(ModelBuildError) as info:
        build_all(root, db)
    assert info.value.node == "t.ff"
    assert "Conversion Error" in info.value.engine_message
    assert info.value.render().startswith("models/t.ff.sql: Model 't.ff' failed on duckdb")
    assert rows(db, "select id from t order by id") == [(1,), (2,)]
    assert rows(db, "select count(*) from information_schema.tables where table_name like '%ff_tmp%'") == [(0,)]


def test_failed_python_model_leaves_previous_table(make_project, tmp_path: Path) -> None:
    model = PY + "import pandas as pd\n@model(name='p')\ndef f():\n    return pd.DataFrame({'a': [1, 2, 3]})\n"
    root = make_project({"models/p.ff.py": model})
    db = tmp_path / "w.duckdb"
    build_all(root, db)
    (root / "models/p.ff.py").write_text(PY + "@model(name='p')\ndef f():\n    x = {}\n    return x['missing']\n")
    with pytest.raises(ModelBuildError) as info:
        build_all(root, db)
    assert "KeyError: 'missing'" in info.value.message
    assert str(info.value.location) == "models/p.ff.py:5"
    assert rows(db, "select count(*) from p") == [(3,)]


def test_python_call_conventions_and_arrow_types(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "models/a.ff.sql": "select 1 as id, 'x' as s, date '2024-01-02' as d",
            "models/b.ff.sql": "select 1 as id, 2.5 as amount",
            "models/zero.ff.py": PY + "import pandas as pd\n@model(name='zero')\ndef f():\n    return pd.DataFrame({'n': [7]})\n",
            "models/one.ff.py": PY + "@model(name='one', deps=['a.ff'])\ndef f(df):\n    return df.assign(n=len(df))\n",
            "models/two.ff.py": PY
            + "@model(name='two', deps=['a.ff', 'b'])\ndef f(frames):\n"
            "    assert sorted(frames) == ['a', 'b']\n"
            "    return frames['a'].merge(frames['b'], on='id')\n",
            "models/arrow.ff.py": PY + "import pyarrow as pa\n@model(name='arrow')\ndef f():\n    return pa.table({'k': [1, 2]})\n",
        }
    )
    db = tmp_path / "w.duckdb"
    build_all(root, db)
    assert rows(db, "select n from zero") == [(7,)]
    assert rows(db, "select id, s, n from one") == [(1, "x", 1)]
    assert rows(db, "select id, s, amount from two") == [(1, "x", 2.5)]
    assert rows(db, "select typeof(d), typeof(s), typeof(id) from one") == [("DATE", "VARCHAR", "INTEGER")]
    assert rows(db, "select sum(k) from arrow") == [(3,)]


def test_required_columns_are_checked_before_the_function_runs(make_project, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    root = make_project(
        {
            "models/users.ff.sql": "select 1 as id",
            "models/m.ff.py": PY
            + f"@model(name='m', deps=['users.ff'], requires={{'users': {{'id', 'email'}}}})\ndef f(df):\n"
            f"    open({str(marker)!r}, 'w').close()\n    return df\n",
        }
    )
    with pytest.raises(RequiredColumnsError) as info:
        build_all(root, tmp_path / "w.duckdb")
    assert info.value.missing_columns == ["email"]
    assert "Model 'm': input relation 'users' is missing required column(s) email (it has: id)" in info.value.message
    assert not marker.exists()


def test_python_model_returning_the_wrong_type(make_project, tmp_path: Path) -> None:
    root = make_project({"models/m.ff.py": PY + "@model(name='m')\ndef f():\n    return [1, 2]\n"})
    with pytest.raises(ModelBuildError, match="returned list; return a pandas DataFrame"):
        build_all(root, tmp_path / "w.duckdb")


def test_python_model_reads_an_ephemeral_dependency(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "models/e.ff.sql": "{{ config(materialized='ephemeral') }}select 5 as v",
            "models/p.ff.py": PY + "@model(name='p', deps=['e.ff'])\ndef f(df):\n    return df.assign(w=df.v * 2)\n",
        }
    )
    db = tmp_path / "w.duckdb"
    build_all(root, db)
    assert rows(db, "select v, w from p") == [(5, 10)]


def test_seeds_csv_parquet_sql_with_column_types(make_project, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = make_project(
        {
            "seeds/codes.csv": "zip,amount,day\n00123,1.50,2024-02-03\n99999,2,2024-02-04\n",
            "seeds/schema.yml": "seeds:\n  codes: {column_types: {zip: VARCHAR, amount: 'DECIMAL(10,2)', day: DATE}}\n",
            "seeds/q.sql": "select 42 as answer",
        }
    )
    pq.write_table(pa.table({"x": [1, 2, 3]}), root / "seeds" / "p.parquet")
    db = tmp_path / "w.duckdb"
    _, results = build_all(root, db)
    assert {r.node_id: r.rows for r in results} == {"codes": 2, "p": 3, "q": 1}
    assert rows(db, "select zip, typeof(amount), typeof(day) from codes order by zip")[0] == ("00123", "DECIMAL(10,2)", "DATE")
    assert rows(db, "select sum(x) from p") == [(6,)]
    assert rows(db, "select answer from q") == [(42,)]


def test_seed_schema_typing_an_unknown_column(make_project, tmp_path: Path) -> None:
    root = make_project({"seeds/s.csv": "a\n1\n", "seeds/schema.yml": "seeds:\n  s: {column_types: {b: INT}}\n"})
    with pytest.raises(Exception, match="types columns the seed does not have: b"):
        build_all(root, tmp_path / "w.duckdb")


def test_incremental_append_and_merge(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "seeds/src.csv": "id,v\n1,a\n2,b\n",
            "models/app.ff.sql": "{{ config(materialized='incremental', incremental_strategy='append') }}"
            "select id, v from {{ ref('src') }}{% if is_incremental() %} where id > (select max(id) from {{ this }}){% endif %}",
            "models/mrg.ff.sql": "{{ config(materialized='incremental', unique_key='id') }}select id, v from {{ ref('src') }}",
        }
    )
    db = tmp_path / "w.duckdb"
    build_all(root, db)
    (root / "seeds/src.csv").write_text("id,v\n1,A\n2,b\n3,c\n")
    build_all(root, db)
    assert rows(db, "select id, v from app order by id") == [(1, "a"), (2, "b"), (3, "c")]
    assert rows(db, "select id, v from mrg order by id") == [(1, "A"), (2, "b"), (3, "c")]
    build_all(root, db, full_refresh=True)
    assert rows(db, "select count(*) from app") == [(3,)]


def test_incremental_schema_change_asks_for_full_refresh(make_project, tmp_path: Path) -> None:
    root = make_project({"models/i.ff.sql": "{{ config(materialized='incremental') }}select 1 as a"})
    db = tmp_path / "w.duckdb"
    build_all(root, db)
    (root / "models/i.ff.sql").write_text("{{ config(materialized='incremental') }}select 1 as a, 2 as b")
    with pytest.raises(ModelBuildError, match="--full-refresh"):
        build_all(root, db)
    assert rows(db, "select * from i") == [(1,)]


def test_run_node_from_a_plan_file_resolves_the_profile_in_the_worker(make_project, tmp_path: Path, monkeypatch) -> None:
    root = make_project({"models/t.ff.sql": "select 1 as id"})
    plan = compile_dir(root)
    plan_path = plan.write(tmp_path / "bundle" / "plan.json")
    db = tmp_path / "worker.duckdb"
    monkeypatch.setenv("FF_DUCKDB_PATH", str(db))
    result = run_node(plan_path, "t.ff")
    assert (result.status, result.rows) == ("built", 1)
    assert rows(db, "select id from t") == [(1,)]


def test_parallel_threads_on_one_file(make_project, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    files = {f"models/m{i}.ff.sql": f"select range as v, {i} as i from range(1000)" for i in range(16)}
    root = make_project(files)
    plan = compile_dir(root)
    db = tmp_path / "w.duckdb"
    with open_executor(duckdb_profile(root, db)) as executor, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: run_node(plan, n.id, executor=executor, root=root), plan.nodes))
    assert all(r.rows == 1000 for r in results)
    assert rows(db, "select count(*) from information_schema.tables where table_name <> '_ff_meta'") == [(16,)]
    assert rows(db, "select count(*) from _ff_meta") == [(16,)]


def test_python_model_imports_a_helper_module_beside_it(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "models/sub/shared_helpers_for_test.py": "def double(df):\n    return df.assign(v=df.v * 2)\n",
            "models/sub/m.ff.py": PY + "from shared_helpers_for_test import double\n"
            "import pandas as pd\n@model(name='m')\ndef f():\n    return double(pd.DataFrame({'v': [1, 2]}))\n",
        }
    )
    db = tmp_path / "w.duckdb"
    build_all(root, db)
    assert rows(db, "select sum(v) from m") == [(6,)]


def _run_while_locked(make_project, ffc, db: Path, *, hold_seconds: float, lock_timeout: str):
    """`ffc run` while another process holds `db` for `hold_seconds`; (result, holder's PID)."""
    from tests.runtime.helpers import lock_held

    project = make_project({"models/a.ff.sql": "select 1 as x"})
    with lock_held(db, hold_seconds) as pid:
        return ffc("run", project, "--lock-timeout", lock_timeout, env={"FF_DUCKDB_PATH": str(db)}), pid


def test_a_locked_file_is_waited_for_then_named_with_the_holding_process(make_project, ffc, tmp_path: Path) -> None:
    result, pid = _run_while_locked(make_project, ffc, tmp_path / "locked.duckdb", hold_seconds=30, lock_timeout="1")
    assert result.exit_code == 1, result.output
    assert "is locked by another process" in result.stderr and f"(PID {pid})" in result.stderr
    assert "waited 1s" in result.stderr and "--lock-timeout" in result.stderr


def test_a_lock_released_in_time_lets_the_run_go_on(make_project, ffc, tmp_path: Path) -> None:
    result, _ = _run_while_locked(make_project, ffc, tmp_path / "busy.duckdb", hold_seconds=2, lock_timeout="30")
    assert result.exit_code == 0, result.output


def test_a_new_database_file_appears_whole_so_a_killed_run_never_leaves_a_broken_one(make_project, tmp_path: Path, monkeypatch) -> None:
    """A process killed while DuckDB creates a file leaves it empty, and DuckDB refuses an empty
    file ever after (seen with kill -9 in test_stream_cli). So DuckDB may only ever create a
    file under another name: whenever it is asked to open the warehouse's path, that path is
    already a whole database."""
    import duckdb

    db = tmp_path / "new" / "w.duckdb"
    opened: list[tuple[str, bool]] = []
    real = duckdb.connect

    def connect(path: str = ":memory:", *args, **kwargs):
        if path == str(db):
            opened.append((path, db.is_file() and db.stat().st_size > 0))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", connect)
    root = make_project({"models/a.ff.sql": "select 1 as x"})
    with open_executor(duckdb_profile(root, db)):
        pass
    assert opened == [(str(db), True)]
    assert sorted(p.name for p in db.parent.iterdir()) == ["w.duckdb"]  # no draft left beside it


def test_an_empty_database_file_is_named_with_what_to_do(make_project, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    db.write_bytes(b"")  # what a run killed before this fix left
    root = make_project({"models/a.ff.sql": "select 1 as x"})
    with pytest.raises(ProfileError) as info:
        open_executor(duckdb_profile(root, db))
    assert "it is empty" in info.value.render() and "delete it" in info.value.render()


def test_a_draft_left_by_a_killed_creator_is_cleared_and_a_live_ones_kept(make_project, tmp_path: Path) -> None:
    import os
    import time

    abandoned, live = tmp_path / ".w[1].duckdb.123.456.creating", tmp_path / ".w[1].duckdb.789.1.creating"
    for draft in (abandoned, live):
        draft.write_bytes(b"")
    an_hour_ago = time.time() - 3600
    os.utime(abandoned, (an_hour_ago, an_hour_ago))
    db = tmp_path / "w[1].duckdb"  # a name glob would read as a pattern
    root = make_project({"models/a.ff.sql": "select 1 as x"})
    build_all(root, db)
    assert (abandoned.exists(), live.exists()) == (False, True)
    assert rows(db, "select x from a") == [(1,)]


def test_where_no_draft_can_be_made_duckdb_creates_the_file_itself(make_project, tmp_path: Path, monkeypatch) -> None:
    import duckdb

    real = duckdb.connect

    def connect(path: str = ":memory:", *args, **kwargs):
        if path.endswith(".creating"):
            raise duckdb.IOException("IO Error: Cannot open file: Permission denied")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", connect)
    db = tmp_path / "w.duckdb"
    root = make_project({"models/a.ff.sql": "select 1 as x"})
    build_all(root, db)
    assert rows(db, "select x from a") == [(1,)]


def test_every_materialization_of_the_plan_has_one_registered_class() -> None:
    from flowforge_compiler.materializations import MaterializationConfig
    from runtime.materializations import MATERIALIZATIONS

    builtin = {name: config for name, config in MaterializationConfig.registry.items() if config.__module__.startswith("flowforge_compiler")}
    assert set(builtin) == {"table", "view", "incremental", "ephemeral", "seed", "stream"}
    assert set(builtin.values()) <= set(MATERIALIZATIONS)
