"""A headless Chromium for the docs site's browser tests: the system's (Debian's `chromium`),
driven by Playwright, which is never asked to download a browser of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.targets.docs.chromium import CHROMIUM_FLAGS, chromium_path


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide a browser for the docs tests: {reason} (see .ci/chromium.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One browser per test module; tests open their own contexts (fresh storage each). Not per
    session: Playwright's sync API keeps an event loop running on the thread while it is open,
    and the Prefect tests that a worker runs later need to start their own."""
    executable = chromium_path()
    if executable is None:
        _unavailable("no chromium on PATH (apt-get install chromium, or set FF_TEST_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (the dev extra)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class PageWatch:
    """A page with every console error, uncaught exception, dialog and off-disk request recorded."""

    def __init__(self, page, shots: Path):
        self.page = page
        self.shots = shots
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", self._dialog)
        page.on("request", lambda request: None if request.url.startswith("file://") else self.requests.append(request.url))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: Path) -> None:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("html[data-ready=true]", timeout=60_000)

    def shot(self, name: str) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        target = self.shots / f"{name}.png"
        self.page.screenshot(path=str(target), full_page=False)
        return target


@pytest.fixture
def browser_page(chromium, tmp_path: Path) -> Iterator[PageWatch]:
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, color_scheme="light")
    watch = PageWatch(context.new_page(), tmp_path / "screenshots")
    yield watch
    context.close()
