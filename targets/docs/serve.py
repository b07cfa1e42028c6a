"""`ffc docs --serve`: the site on 127.0.0.1 only, read-only, until interrupted."""

from __future__ import annotations

import functools
import http.server
import signal
from collections.abc import Callable
from pathlib import Path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # requests are not worth a line each; errors still reach the client


def site_server(folder: Path, port: int) -> http.server.ThreadingHTTPServer:
    """A server for `folder` on the loopback interface (never all interfaces: the docs show SQL)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve_folder(folder: Path, port: int, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM. Both are handled here, since a process started from a
    background job (or a test runner's worker) inherits an ignored SIGINT and Ctrl-C would
    never reach Python's default handler."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with site_server(folder, port) as server:
            announce(f"http://127.0.0.1:{server.server_address[1]}/index.html")
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
