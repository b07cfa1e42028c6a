"""Which Chromium the docs' browser tests and bench/docs_scale.py drive, and how it is started."""

from __future__ import annotations

import os
import shutil

# Without the networking flags Chromium reaches for Google's hosts at start-up, and a closed
# network refuses it many times over. Playwright adds a fresh --user-data-dir of its own.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """`FF_TEST_CHROMIUM`, else the system's Chromium (Debian's `chromium`) on PATH."""
    explicit = os.environ.get("FF_TEST_CHROMIUM")
    if explicit:
        return explicit
    return next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)
