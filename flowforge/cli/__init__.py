"""The `ffc` command (alias `flowforge`): load, compile, and hand the plan to a target."""

from __future__ import annotations

import sys

import typer

from flowforge.cli import docs_commands, project_commands, run_commands, stream_commands, test_commands  # noqa: F401 - register commands
from flowforge.cli.app import app
from flowforge.cli.console import Console
from flowforge_compiler.errors import EXIT_PROJECT_ERROR, EXIT_UNEXPECTED, FlowForgeError

try:  # Typer >= 0.25 bundles its own click
    from typer._click.exceptions import ClickException as UsageError
except ImportError:  # pragma: no cover - older Typer on top of click
    from click.exceptions import ClickException as UsageError  # type: ignore[assignment]

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps every outcome to the spec's exit codes (1 project, 2 checks, 99 unexpected)."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args if not a.startswith("-")), None)
    try:
        if command == "compile" or (command is None and "--version" not in args):  # `ffc compile`, or the command list
            from flowforge.cli.compile_command import register_compile_command

            register_compile_command()
        code = app(args=args, standalone_mode=False)
    except typer.Abort:
        sys.exit(130)
    except UsageError as exc:
        exc.show()
        sys.exit(EXIT_PROJECT_ERROR)
    except FlowForgeError as exc:
        Console().error(exc)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: report, never a raw traceback
        Console().error(exc)
        sys.exit(EXIT_UNEXPECTED)
    sys.exit(code if isinstance(code, int) else 0)
