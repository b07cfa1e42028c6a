"""The one console all user-facing output goes through, plus logging set-up for -q/-v/-vv."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from rich.console import Console as RichConsole
from rich.markup import escape

from flowforge_compiler.errors import FlowForgeError


class Console:
    """Results to stdout, errors and logs to stderr; plain text when not on a terminal."""

    def __init__(self, *, quiet: bool = False):
        self.quiet = quiet
        # emoji=False: ":x:" in a model name or message prints as typed, never as an emoji
        self.out = RichConsole(highlight=False, soft_wrap=True, emoji=False)
        self.err = RichConsole(stderr=True, highlight=False, soft_wrap=True, emoji=False)

    @property
    def is_terminal(self) -> bool:
        return self.out.is_terminal

    def print(self, text: str = "", *, style: str | None = None) -> None:
        """Normal output; suppressed by -q. Text is never read as markup."""
        if not self.quiet:
            self.out.print(text, style=style, markup=False)

    def result(self, text: str) -> None:
        """What a command was asked to produce (ls, dag, schema): printed even with -q."""
        self.out.print(text, style=None, markup=False)

    def error(self, error: BaseException) -> None:
        if isinstance(error, FlowForgeError):
            self.err.print(f"[bold red]Error:[/] {escape(error.render())}")
        else:
            self.err.print(f"[bold red]Unexpected error:[/] {escape(f'{type(error).__name__}: {error}')}")
            if os.environ.get("FLOWFORGE_TRACE") == "1":
                self.err.print(escape("".join(traceback.format_exception(error))))
            else:
                self.err.print("  set FLOWFORGE_TRACE=1 to see the traceback; please report it")


def configure_logging(verbosity: int) -> None:
    """-q -> errors only, default -> warnings, -v -> info, -vv -> debug with the SQL channel.

    FLOWFORGE_SQL_DEBUG=1 turns on the SQL channel (`flowforge.sql`) at any verbosity.
    """
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    sql_debug = verbosity >= 2 or os.environ.get("FLOWFORGE_SQL_DEBUG", "").lower() in {"1", "true", "yes"}
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its parse warnings are ours to word
    # -q hides warnings at the handler, not the logger: they are still made, so a compile can
    # keep them with its cached plan (and show them again on a hit without -q)
    for name, shown in (("flowforge", level), ("flowforge.sql", logging.DEBUG if sql_debug else level)):
        logger = logging.getLogger(name)
        logger.handlers = [_stderr_handler(verbosity, shown)]
        logger.setLevel(min(shown, logging.WARNING))
        logger.propagate = False


def _stderr_handler(verbosity: int, level: int) -> logging.Handler:
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler = RichHandler(
            console=RichConsole(stderr=True, emoji=False), show_path=False, show_time=verbosity >= 2, markup=False
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    return handler


def render_rows(data: Any, output: str) -> str:
    """An Arrow table as text: an aligned table, CSV or JSON lines of records."""
    import json

    rows = data.to_pylist()
    names = list(data.column_names)
    if output == "json":
        return "\n".join(json.dumps(row, default=str, ensure_ascii=False) for row in rows)
    if output == "csv":
        import io

        import pyarrow.csv as pacsv

        buffer = io.BytesIO()
        pacsv.write_csv(data, buffer)
        return buffer.getvalue().decode("utf-8").rstrip("\n")
    return aligned([names, *([("NULL" if v is None else str(v)) for v in row.values()] for row in rows)])


def aligned(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as text columns; the last column is not padded."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip() for r in rows)
