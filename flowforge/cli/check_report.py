"""The spec's "Data Quality Summary" block, shared by `ffc test` and `ffc build`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowforge.cli.console import Console

if TYPE_CHECKING:
    from runtime import CheckResult

_RULE = "─"


def check_line(result: CheckResult) -> list[str]:
    """One line per check, and for a problem the reason and the SQL that shows the rows."""
    if result.status == "pass":
        mark = "✅"
    elif result.severity == "warn":
        mark = "⚠️"
    else:
        mark = "❌"
    target = f"{result.table}.{result.column}" if result.column else result.table
    if result.type == "sql":  # a singular test: its name says what it asserts
        target = result.check_id
    lines = [f"{mark} {result.type:<18} {target:<40} ({result.seconds * 1000:.0f}ms)"]
    if result.status != "pass":
        lines.append(f"   ↳ {result.message}" + (" (warning)" if result.severity == "warn" else ""))
        if result.status == "fail":
            lines.append(f"     rows: {result.failing_rows_sql}")
    return lines


def print_check_summary(console: Console, results: Sequence[CheckResult]) -> None:
    title = "Data Quality Summary"
    console.print(title, style="bold")
    console.print(_RULE * len(title))
    for result in results:
        for line in check_line(result):
            console.print(line)
    passed = sum(1 for r in results if r.status == "pass")
    failed = sum(1 for r in results if r.blocking)
    warned = sum(1 for r in results if r.status != "pass" and r.severity == "warn")
    console.print("")
    console.print("Totals", style="bold")
    console.print(_RULE * len("Totals"))
    console.print(f"✓ passed: {passed}")
    console.print(f"✗ failed: {failed}")
    if warned:
        console.print(f"⚠ warned: {warned}")
