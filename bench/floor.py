"""How close a first `ffc run` comes to the floor: a bare script that runs the same plan's
statements on one DuckDB connection, one commit per node.

Both run in a fresh process on a fresh DuckDB file, for the 500-model project of run_scale.py.
The bare script reads plan.json (compiled beforehand, so it pays no compile), loads the seed
with DuckDB's own CSV reader, and per node runs `begin; create table|view ... as <sql>; commit`:
no temporary table, row count, catalog look-up, swap or `_ff_meta` row. `ffc run` finds the
same plan in its plan cache (compiled beforehand with the same settings, as plan.json was), so
the ratio is what FlowForge's start-up and safety cost on top. Target: within 1.3x.

Two more figures say where the floor lies: the same script committing the `_ff_meta` row each
build commits with, and the import time of the libraries `ffc run` needs beyond DuckDB (pydantic
for the plan, sqlglot for the statements, pyarrow for the seed, Typer for the command line).

    python bench/floor.py [--models 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate  # noqa: E402

BARE = r"""
import json, sys, duckdb
plan = json.load(open(sys.argv[1]))
con = duckdb.connect(sys.argv[2])
root = sys.argv[3]
meta = len(sys.argv) > 4  # also the metadata row each build commits with (FlowForge's `publish`)
if meta:
    con.execute("create table _ff_meta (node_name text, relation text, fingerprint text, engine text, built_at timestamp)")
for node in plan["nodes"]:
    con.execute("begin")
    name = '"' + node["relation"].replace('"', '""') + '"'
    if node["kind"] == "seed":
        path = (root + "/" + node["seed"]["path"]).replace("'", "''")
        con.execute(f"create table {name} as select * from read_csv('{path}')")
    elif node["materialization"] == "view":
        con.execute(f"create view {name} as\n{node['sql']}")
    else:
        con.execute(f"create table {name} as\n{node['sql']}")
    if meta:
        con.execute("insert into _ff_meta values (?, ?, ?, 'duckdb', current_timestamp)", [node["id"], node["relation"], node["fingerprint"]])
    con.execute("commit")
con.close()
"""


def _seconds(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    return time.perf_counter() - started


LIBRARIES = "import duckdb, pyarrow.csv, pydantic, sqlglot.dialects.duckdb, typer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "project", args.models, python_share=0.0)
        plan = Path(tmp) / "plan.json"
        warehouse = Path(tmp) / "ffc.duckdb"  # one path for every run (part of the plan's key), a new file each time
        env = {"FF_DUCKDB_PATH": str(warehouse), "PATH": ""}
        subprocess.run([sys.executable, "-m", "flowforge.cli", "compile", str(root), "--out", str(tmp), "-q"], check=True, env=env)
        ffc, bare, meta, imports, duckdb_only = [], [], [], [], []
        for i in range(args.repeat):
            for stale in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
                stale.unlink(missing_ok=True)
            ffc.append(_seconds([sys.executable, "-m", "flowforge.cli", "run", str(root), "-q"], env))
            bare.append(_seconds([sys.executable, "-c", BARE, str(plan), str(Path(tmp) / f"bare{i}.duckdb"), str(root)]))
            meta.append(_seconds([sys.executable, "-c", BARE, str(plan), str(Path(tmp) / f"meta{i}.duckdb"), str(root), "meta"]))
            imports.append(_seconds([sys.executable, "-c", LIBRARIES]))
            duckdb_only.append(_seconds([sys.executable, "-c", "import duckdb"]))
        f, b, m = statistics.median(ffc), statistics.median(bare), statistics.median(meta)
        libraries = statistics.median(imports) - statistics.median(duckdb_only)
        print(f"{args.models} SQL models + 1 seed, first run on a fresh DuckDB file, median of {args.repeat}:")
        print(f"  ffc run (start-up, compile, atomic builds, _ff_meta): {f:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in ffc)})")
        print(f"  bare script (plan.json statements, one commit a node): {b:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in bare)})")
        print(f"  bare script + the _ff_meta row each build commits with: {m:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in meta)})")
        print(f"  ratio: {f / b:.2f}x the bare script (target: within 1.3x); {f / m:.2f}x the script with metadata;")
        print(f"  the metadata row alone makes the floor {m / b:.2f}x")
        print(f"  importing the libraries ffc run needs beyond DuckDB: {libraries:.2f} s ({1 + libraries / b:.2f}x the bare script by itself)")


if __name__ == "__main__":
    main()
