"""A run killed with SIGKILL half-way: its finished nodes stay recorded (not rebuilt), and what
it built is never mistaken for an older build (no stale skip after reverting an edit)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

SLOW = (
    "import os, time\nfrom flowforge_compiler import model\n"
    "@model(name='slow', deps=['a.ff'])\ndef f(df):\n"
    "    if os.environ.get('SLOW_MODEL'):\n        time.sleep(120)\n    return df\n"
)
A = "select 1 as v"
EDITED = "select 2 as v"


def _kill_after_a_is_built(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FF_", "FLOWFORGE_"))} | {"SLOW_MODEL": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "flowforge.cli", "run", str(project), "-q"], env=env)
    journal = project / ".flowforge" / "cache" / "default-duckdb.json.journal"
    deadline = time.monotonic() + 120
    while not (journal.exists() and '"a.ff"' in journal.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before a.ff was recorded"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _statuses(output: str) -> dict[str, str]:
    out = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and "/" in parts[0] and parts[1] in ("OK", "SKIP", "ERROR"):
            out[parts[2]] = parts[1]
    return out


def test_a_killed_run_keeps_its_finished_nodes_and_never_serves_a_stale_table(make_project, ffc) -> None:
    profiles = "default:\n  engine: duckdb\n  duckdb: {path: w.duckdb}\n"
    project = make_project({"profiles.yml": profiles, "models/a.ff.sql": A, "models/slow.ff.py": SLOW})
    assert ffc("run", project).exit_code == 0

    (project / "models/a.ff.sql").write_text(EDITED)
    _kill_after_a_is_built(project)  # a.ff (edited) committed; the run died in `slow`

    again = ffc("run", project)
    assert again.exit_code == 0, again.output
    assert _statuses(again.stdout) == {"a.ff": "SKIP", "slow": "OK"}  # a.ff finished before the kill

    (project / "models/a.ff.sql").write_text(A)  # back to what the cache file first recorded
    reverted = ffc("run", project)
    assert _statuses(reverted.stdout)["a.ff"] == "OK"
    with duckdb.connect(str(project / "w.duckdb"), read_only=True) as con:
        assert con.execute("select v from a").fetchall() == [(1,)]
        assert con.execute("select v from slow").fetchall() == [(1,)]
