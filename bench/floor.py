"""How close a first `ffc run` comes to the floor: a bare script that runs the same plan's
statements on one DuckDB connection, one commit per node.

Both run in a fresh process on a fresh DuckDB file, for the 500-model project of run_scale.py.
The bare script reads plan.json (compiled beforehand, so it pays no compile), loads the seed
with DuckDB's own CSV reader, and per node runs `begin; create table|view ... as <sql>; commit`:
no temporary table, row count, catalog look-up, swap or `_ff_meta` row. The ratio is what
FlowForge's start-up, compile and safety cost on top. Target: within 1.3x.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "project", args.models, python_share=0.0)
        plan = Path(tmp) / "plan.json"
        subprocess.run([sys.executable, "-m", "flowforge_compiler.cli", "compile", str(root), "--out", str(tmp), "-q"], check=True)
        ffc, bare, meta = [], [], []
        for i in range(args.repeat):
            env = {"FF_DUCKDB_PATH": str(Path(tmp) / f"ffc{i}.duckdb"), "PATH": ""}
            ffc.append(_seconds([sys.executable, "-m", "flowforge_compiler.cli", "run", str(root), "-q"], env))
            bare.append(_seconds([sys.executable, "-c", BARE, str(plan), str(Path(tmp) / f"bare{i}.duckdb"), str(root)]))
            meta.append(_seconds([sys.executable, "-c", BARE, str(plan), str(Path(tmp) / f"meta{i}.duckdb"), str(root), "meta"]))
        f, b, m = statistics.median(ffc), statistics.median(bare), statistics.median(meta)
        print(f"{args.models} SQL models + 1 seed, first run on a fresh DuckDB file, median of {args.repeat}:")
        print(f"  ffc run (start-up, compile, atomic builds, _ff_meta): {f:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in ffc)})")
        print(f"  bare script (plan.json statements, one commit a node): {b:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in bare)})")
        print(f"  bare script + the _ff_meta row each build commits with: {m:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in meta)})")
        print(f"  ratio: {f / b:.2f}x the bare script (target: within 1.3x); {f / m:.2f}x the script with metadata;")
        print(f"  the metadata row alone makes the floor {m / b:.2f}x")


if __name__ == "__main__":
    main()
