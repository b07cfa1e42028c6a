"""Run progress: a live view of running nodes on a terminal, one plain line per node otherwise."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from flowforge.cli.console import Console
from flowforge_compiler.errors import FlowForgeError, ModelBuildError
from flowforge_compiler.materializations import MaterializationConfig
from flowforge_compiler.plan import PlanNode

if TYPE_CHECKING:
    from runtime import CheckResult, NodeResult
    from targets.local import RunSummary


def describe(result: NodeResult) -> str:
    if result.status == "built":
        what = result.materialization or "node"
        if result.relation is None:
            return f"{what} (inlined into its readers)"
        rows = f" ({result.rows} rows)" if result.rows is not None else ""
        config = MaterializationConfig.registry.get(what)
        return f"{config.verb if config else 'built'} {what} {result.relation}{rows}"
    if result.status == "failed":
        return "FAILED"
    if result.message == "cached":
        return "cached (fingerprint unchanged, relation exists)"
    return f"SKIPPED ({result.message})"


class RunProgress:
    """A RunReporter for the CLI; thread-safe, since nodes finish on worker threads."""

    _MARKS = {"built": ("OK", "green"), "failed": ("ERROR", "red"), "skipped": ("SKIP", "yellow")}

    def __init__(self, console: Console, total: int):
        self.console = console
        self.total = total
        self.done = 0
        self.running: dict[str, float] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __enter__(self) -> RunProgress:
        if self.console.is_terminal and not self.console.quiet:
            self._live = Live(self._view(), console=self.console.out, transient=True, refresh_per_second=8)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def _view(self) -> Table:
        table = Table.grid(padding=(0, 1))
        for node_id in list(self.running):
            table.add_row(Spinner("dots"), escape(node_id))
        table.add_row("", f"[dim]{self.done}/{self.total} done[/]")
        return table

    def node_started(self, node: PlanNode) -> None:
        with self._lock:
            self.running[node.id] = 0.0
            if self._live is not None:
                self._live.update(self._view(), refresh=True)

    def node_finished(self, node: PlanNode, result: NodeResult, error: BaseException | None) -> None:
        with self._lock:
            self.running.pop(node.id, None)
            self.done += 1
            mark, colour = self._MARKS[result.status]
            timing = f" in {result.seconds:.2f}s" if result.status != "skipped" else ""
            line = f"{self.done:>{len(str(self.total))}}/{self.total} {mark:<5} {node.id} - {describe(result)}{timing}"
            if self._live is not None:
                self._live.update(self._view(), refresh=True)
            if not self.console.quiet:
                self.console.out.print(Text(line, style=colour if self.console.is_terminal else ""))


    def checks_finished(self, node: PlanNode | None, results: list[CheckResult]) -> None:
        with self._lock:
            if self.console.quiet:
                return
            for result in results:
                ok = result.status == "pass"
                mark = "PASS" if ok else ("WARN" if result.severity == "warn" else "FAIL")
                colour = "green" if ok else ("yellow" if result.severity == "warn" else "red")
                line = f"{'':>{len(str(self.total))}}  {mark:<5} check {result.check_id}" + ("" if ok else f" - {result.message}")
                self.console.out.print(Text(line, style=colour if self.console.is_terminal else ""))


def print_summary(console: Console, summary: RunSummary, *, slowest: int = 5) -> None:
    """Totals with timings; then each failure with its model, file and the engine's message."""
    built, failed, skipped = summary.count("built"), summary.count("failed"), summary.count("skipped")
    console.print("")
    console.print(
        f"Finished {len(summary.results)} nodes in {summary.seconds:.2f}s: "
        f"{built} built, {failed} failed, {skipped} skipped" + (f" ({summary.cached} cached)" if summary.cached else ""),
        style="bold",
    )
    timed = sorted((r for r in summary.results if r.status != "skipped"), key=lambda r: -r.seconds)
    if len(timed) > 1:
        console.print("Slowest: " + ", ".join(f"{r.node_id} {r.seconds:.2f}s" for r in timed[:slowest]))
    for node_id, error in summary.errors.items():
        if not isinstance(error, ModelBuildError) and isinstance(error, FlowForgeError):
            console.err.print(f"[bold red]Error in {escape(node_id)}:[/] {escape(error.render())}")
        else:
            console.error(error)


def failures_exit_code(errors: Sequence[BaseException]) -> int:
    """1 when every failure is a FlowForge error (a model failed); 99 when FlowForge itself broke."""
    if not errors:
        return 0
    return 1 if all(isinstance(e, FlowForgeError) for e in errors) else 99
