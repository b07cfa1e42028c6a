"""Inputs built to blow up a backtracking pattern, each compiled through the whole front end.

For each family, the model is grown (n = 40, 10,000, 1,000,000) and the script prints how long
loading and compiling the one-model project takes and how it ended (compiled, or the error's
first line). Linear work keeps the largest within about 100x the smallest; a backtracking
pattern would not finish the first. Target: every row under 1 s at n = 1,000,000 but the nested
ones, which sqlglot's recursive parser refuses by name before that.

    python bench/pathological_inputs.py
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flowforge_compiler.compile import compile_project
from flowforge_compiler.errors import FlowForgeError
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project

FAMILIES: dict[str, Callable[[int], str]] = {
    "a comment, then n blanks, then a query": lambda n: "-- note\n" + " " * n + "select 1 as x",
    "a comment, then n blanks, then a statement": lambda n: "-- note\n" + " " * n + "drop table t",
    "n blank-and-comment lines before a query": lambda n: "-- a\n \t\n" * (n // 8) + "select 1 as x",
    "an unterminated block comment after n blanks": lambda n: " " * n + "/* open",
    "n nested parentheses": lambda n: "select " + "(" * n + "1" + ")" * n + " as x",
}


def compile_once(sql: str) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "project.yml").write_text("name: t\nversion: '1'\n", encoding="utf-8")
        (root / "models").mkdir()
        (root / "models" / "m.ff.sql").write_text(sql, encoding="utf-8")
        started = time.perf_counter()
        try:
            compile_project(load_project(root), resolve_profile(root, None, environ={}), environ={})
            outcome = "compiled"
        except FlowForgeError as exc:
            outcome = exc.render().splitlines()[0][:70]
        except RecursionError:
            outcome = "RecursionError: not a clear error"
        return time.perf_counter() - started, outcome


def main() -> None:
    compile_once("select 1 as x")  # imports and caches out of the figures
    print(f"{'family':<48} {'n':>9} {'seconds':>8}  outcome")
    for family, make in FAMILIES.items():
        for n in (40, 10_000, 1_000_000):
            if family.startswith("n nested") and n > 10_000:
                continue
            seconds, outcome = compile_once(make(n))
            print(f"{family:<48} {n:>9,} {seconds:>8.3f}  {outcome}")


if __name__ == "__main__":
    main()
