"""A fakesnow server for the Snowflake tests: run by the Python of the fakesnow environment
(tests/fakesnow-requirements.txt), not FlowForge's. It serves Snowflake's HTTP API on DuckDB.

Two shims. fakesnow cannot parse `ALTER TABLE a SWAP WITH b`, so the server carries it out as
three renames; tests that go through it say so in their names: they check the statement
FlowForge sends and what follows, not Snowflake's own swap. And `Session.close()` asks for
`system$cancel_all_queries`, which fakesnow lacks: it is answered as done.

Usage: python fakesnow_server.py PORT. It stops when the process that started it is gone.
"""

from __future__ import annotations

import os
import re
import sys
import time

import fakesnow
from fakesnow.cursor import FakeSnowflakeCursor

_SWAP = re.compile(r'^\s*ALTER\s+TABLE\s+(?P<a>"[^"]+"|\w+)\s+SWAP\s+WITH\s+(?P<b>"[^"]+"|\w+)\s*;?\s*$', re.IGNORECASE)
_execute = FakeSnowflakeCursor.execute


def _execute_with_swap(self: FakeSnowflakeCursor, command: str, *args: object, **kwargs: object) -> FakeSnowflakeCursor:
    if "system$cancel_all_queries" in command.lower():
        return _execute(self, "select 'cancelled' as status")
    match = _SWAP.match(command)
    if match is None:
        return _execute(self, command, *args, **kwargs)
    a, b = match.group("a"), match.group("b")
    _execute(self, f'ALTER TABLE {a} RENAME TO "FF_FAKESNOW_SWAP"')
    _execute(self, f"ALTER TABLE {b} RENAME TO {a}")
    return _execute(self, f'ALTER TABLE "FF_FAKESNOW_SWAP" RENAME TO {b}')


FakeSnowflakeCursor.execute = _execute_with_swap  # type: ignore[method-assign]


def main() -> None:
    port, parent = int(sys.argv[1]), os.getppid()
    with fakesnow.server(port=port):
        print("ready", flush=True)
        while os.getppid() == parent:  # a test process killed without its exit handlers leaves no server behind
            time.sleep(1)


if __name__ == "__main__":
    main()
