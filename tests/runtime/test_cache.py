"""The fingerprint cache: exactly the work a change requires, in every mode, with both stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from runtime import open_executor
from runtime.cache import CacheMode, CachePolicy, FileStore, WarehouseStore
from targets.local import LevelScheduler
from tests.compiler.helpers import compile_dir
from tests.runtime.helpers import rows

PROJECT = {
    "project.yml": "name: t\nversion: '1'\nvars: {factor: 2, unused: 1}\n",
    "sources.yml": "ext:\n  events: {identifier: raw_events}\n",
    "seeds/s.csv": "id,v\n1,10\n2,20\n",
    "models/a.ff.sql": "-- base\nselect id, v from {{ ref('s') }}",
    "models/b.ff.sql": "select id, v * {{ var('factor') }} as v from {{ ref('a') }}",
    "models/c.ff.py": "from flowforge_compiler import model\n@model(name='c', deps=['b.ff'])\ndef f(df):\n    return df\n",
    "models/other.ff.sql": "select 1 as x",
}


def run(root: Path, db: Path, mode: str = "rw", *, rebuild: tuple[str, ...] = (), store: str = "file", vars=None, environ=None):
    """One `ffc run` equivalent; returns {node: 'built' | 'cached'}."""
    plan = compile_dir(root, vars=vars, environ=environ)
    profile = resolve_profile(root, None, environ={"FF_DUCKDB_PATH": str(db)})
    with open_executor(profile) as executor:
        file = FileStore.for_profile(root, "default", "duckdb") if store == "file" else None
        policy = CachePolicy(plan, CacheMode(mode), WarehouseStore(executor), rebuild, file=file)
        summary = LevelScheduler(plan, executor, root, cache=policy).run([n.id for n in plan.nodes])
    assert summary.ok, summary.errors
    return {r.node_id: ("cached" if r.message == "cached" else r.status) for r in summary.results}


ALL_BUILT = {"s": "built", "a.ff": "built", "b.ff": "built", "c": "built", "other.ff": "built"}
ALL_CACHED = {k: "cached" for k in ALL_BUILT}


@pytest.fixture
def project(make_project, tmp_path: Path) -> tuple[Path, Path]:
    return make_project(PROJECT), tmp_path / "w.duckdb"


def test_noop_rerun_skips_every_node(project) -> None:
    root, db = project
    assert run(root, db) == ALL_BUILT
    assert run(root, db) == ALL_CACHED


def test_editing_a_model_rebuilds_it_and_its_descendants_only(project) -> None:
    root, db = project
    run(root, db)
    (root / "models/a.ff.sql").write_text("select id, v + 1 as v from {{ ref('s') }}")
    assert run(root, db) == {**ALL_CACHED, "a.ff": "built", "b.ff": "built", "c": "built"}
    assert rows(db, "select v from c order by id") == [(22,), (42,)]


def test_comment_and_whitespace_edits_rebuild_nothing(project) -> None:
    root, db = project
    run(root, db)
    (root / "models/a.ff.sql").write_text("-- a new comment\nselect   id,\n  v /* why */ from {{ ref('s') }}\n")
    (root / "models/c.ff.py").write_text(PROJECT["models/c.ff.py"].replace("return df", "# keep as is\n    return df"))
    assert run(root, db) == ALL_CACHED


def test_a_changed_var_rebuilds_the_nodes_that_read_it(project) -> None:
    root, db = project
    run(root, db)
    assert run(root, db, vars={"unused": 5}) == ALL_CACHED
    assert run(root, db, vars={"factor": 3}) == {**ALL_CACHED, "b.ff": "built", "c": "built"}


def test_a_changed_ff_variable_rebuilds(project) -> None:
    root, db = project
    run(root, db, environ={"FF_REGION": "eu"})
    assert run(root, db, environ={"FF_REGION": "eu"}) == ALL_CACHED
    assert run(root, db, environ={"FF_REGION": "us"}) == ALL_BUILT


def test_a_dropped_table_is_rebuilt_even_with_a_matching_fingerprint(project) -> None:
    root, db = project
    run(root, db)
    import duckdb

    with duckdb.connect(str(db)) as con:
        con.execute("drop table b")
    assert run(root, db) == {**ALL_CACHED, "b.ff": "built", "c": "built"}  # c: its parent is newer


def test_modes(project) -> None:
    root, db = project
    assert run(root, db, "ro") == ALL_BUILT  # nothing recorded
    assert run(root, db, "ro") == ALL_BUILT
    assert run(root, db, "wo") == ALL_BUILT  # recorded, but never skips
    assert run(root, db, "wo") == ALL_BUILT
    assert run(root, db, "ro") == ALL_CACHED
    assert run(root, db, "off") == ALL_BUILT
    assert run(root, db, "rw") == ALL_CACHED


def test_rebuild_glob_forces_nodes_and_their_descendants(project) -> None:
    root, db = project
    run(root, db)
    assert run(root, db, rebuild=("b.*",)) == {**ALL_CACHED, "b.ff": "built", "c": "built"}
    assert run(root, db, rebuild=("oth*",)) == {**ALL_CACHED, "other.ff": "built"}


def test_a_parent_rebuilt_in_an_earlier_unrecorded_way_makes_children_stale(project) -> None:
    """A parent built after its child (a run that failed half-way, say) rebuilds the child."""
    root, db = project
    run(root, db)
    plan = compile_dir(root)
    profile = resolve_profile(root, None, environ={"FF_DUCKDB_PATH": str(db)})
    with open_executor(profile) as executor:
        executor.build(plan, plan.node("a.ff"), root)  # a fresh build of a.ff only, outside any run
    assert run(root, db) == {**ALL_CACHED, "b.ff": "built", "c": "built"}


def test_nodes_reading_external_sources_always_build(make_project, tmp_path: Path) -> None:
    root = make_project({"models/e.ff.sql": "select * from {{ source('ext', 'events') }}", "sources.yml": PROJECT["sources.yml"]})
    db = tmp_path / "w.duckdb"
    import duckdb

    with duckdb.connect(str(db)) as con:
        con.execute("create table raw_events as select 1 as id")
    assert run(root, db) == {"e.ff": "built"}
    assert run(root, db) == {"e.ff": "built"}


def test_warehouse_store_reads_ff_meta(project) -> None:
    root, db = project
    assert run(root, db, store="warehouse") == ALL_BUILT
    assert run(root, db, store="warehouse") == ALL_CACHED
    assert not (root / ".flowforge" / "cache").exists()
    (root / "models/other.ff.sql").write_text("select 2 as x")
    assert run(root, db, store="warehouse") == {**ALL_CACHED, "other.ff": "built"}


def test_ff_meta_rows_follow_the_spec_schema(project) -> None:
    root, db = project
    run(root, db)
    columns = rows(db, "select column_name, data_type from information_schema.columns where table_name = '_ff_meta' order by ordinal_position")
    assert columns == [("node_name", "VARCHAR"), ("relation", "VARCHAR"), ("fingerprint", "VARCHAR"), ("engine", "VARCHAR"), ("built_at", "TIMESTAMP")]
    plan = compile_dir(root)
    meta = rows(db, "select node_name, relation, fingerprint, engine from _ff_meta order by node_name")
    assert meta == sorted((n.id, n.relation, n.fingerprint, "duckdb") for n in plan.nodes)
    run(root, db)
    assert rows(db, "select count(*) from _ff_meta") == [(5,)]  # cached nodes add no row


def test_corrupt_cache_file_means_an_empty_cache_and_a_warning(project, caplog) -> None:
    root, db = project
    run(root, db)
    cache_file = root / ".flowforge" / "cache" / "default-duckdb.json"
    assert json.loads(cache_file.read_text())["nodes"]["a.ff"]["fingerprint"]
    cache_file.write_text("{not json")
    assert run(root, db) == ALL_BUILT
    assert "unreadable" in caplog.text
    assert json.loads(cache_file.read_text())["version"] == 1  # rewritten whole


# -- no stale skip: each reproduction of the hardening sweep ---------------------------------


def _edit(root: Path, sql: str) -> None:
    (root / "models/a.ff.sql").write_text(sql)


ORIGINAL_A = PROJECT["models/a.ff.sql"]
EDITED_A = "select id, v + 100 as v from {{ ref('s') }}"


@pytest.mark.parametrize("mode", ["off", "ro"])
def test_reverting_an_edit_built_without_recording_rebuilds(project, mode: str) -> None:
    root, db = project
    run(root, db)
    _edit(root, EDITED_A)
    assert run(root, db, mode)["a.ff"] == "built"  # the table now holds the edit; the file was not told
    _edit(root, ORIGINAL_A)
    assert run(root, db)["a.ff"] == "built"
    assert rows(db, "select v from a order by id") == [(10,), (20,)]


def test_alternating_profiles_on_one_duckdb_file_never_skips_the_other_profiles_build(make_project) -> None:
    profiles = "dev:\n  engine: duckdb\n  duckdb: {path: shared.duckdb}\nprod:\n  engine: duckdb\n  duckdb: {path: shared.duckdb}\n"
    root = make_project({**PROJECT, "profiles.yml": profiles})

    def run_env(env: str) -> dict[str, str]:
        plan = compile_project(load_project(root), resolve_profile(root, env, environ={}), environ={})
        with open_executor(resolve_profile(root, env, environ={})) as executor:
            policy = CachePolicy(plan, CacheMode.RW, WarehouseStore(executor), file=FileStore.for_profile(root, env, "duckdb"))
            summary = LevelScheduler(plan, executor, root, cache=policy).run([n.id for n in plan.nodes])
        return {r.node_id: ("cached" if r.message == "cached" else r.status) for r in summary.results}

    assert run_env("dev") == ALL_BUILT
    assert run_env("prod") == ALL_BUILT  # prod's build replaced dev's tables
    assert run_env("dev") == ALL_BUILT  # dev's cache file still says "built": the warehouse says otherwise
    assert run_env("dev") == ALL_CACHED


def test_the_location_of_the_data_is_part_of_every_fingerprint(make_project, tmp_path: Path) -> None:
    root = make_project(PROJECT)
    one = compile_dir(root, environ={"FF_DUCKDB_PATH": str(tmp_path / "one.duckdb")})
    other = compile_dir(root, environ={"FF_DUCKDB_PATH": str(tmp_path / "other.duckdb")})
    assert all(a.fingerprint != b.fingerprint for a, b in zip(one.nodes, other.nodes, strict=True))


@pytest.mark.parametrize("init_files", [False, True], ids=["namespace", "package"])
def test_editing_a_module_deep_in_a_helper_package_rebuilds_its_model(make_project, tmp_path: Path, init_files: bool) -> None:
    files = {
        "seeds/s.csv": "id,v\n1,10\n",
        "lib/inner/util.py": "def scale(v):\n    return v * 2\n",
        "models/m.ff.py": "from flowforge_compiler import model\nfrom lib.inner.util import scale\n"
        "@model(name='m', deps=['s'])\ndef f(df):\n    return df.assign(v=scale(df.v))\n",
    }
    if init_files:
        files |= {"lib/__init__.py": "from .inner import util as util\n", "lib/inner/__init__.py": ""}
    root = make_project(files)
    db = tmp_path / "w.duckdb"
    assert run(root, db) == {"s": "built", "m": "built"}
    assert run(root, db) == {"s": "cached", "m": "cached"}
    (root / "lib/inner/util.py").write_text("def scale(v):\n    return v * 3\n")
    assert run(root, db) == {"s": "cached", "m": "built"}
    assert rows(db, "select v from m") == [(30,)]
    assert "lib/inner/util.py" in compile_dir(root).node("m").python.modules


def test_a_source_that_names_a_seed_through_a_schema_is_not_external(make_project, tmp_path: Path) -> None:
    sources = "version: 2\nsources:\n  - name: raw\n    schema: main\n    tables: [{name: s}]\n"
    root = make_project({"seeds/s.csv": "id\n1\n", "sources.yml": sources, "models/m.ff.sql": "select * from {{ source('raw', 's') }}"})
    db = tmp_path / "w.duckdb"
    assert run(root, db) == {"s": "built", "m.ff": "built"}
    assert run(root, db) == {"s": "cached", "m.ff": "cached"}
