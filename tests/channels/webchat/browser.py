"""Launch Debian's Chromium through Playwright for browser tests — never a downloaded browser build.

Reusable from any test package::

    from tests.channels.webchat.browser import chromium_browser, browser_context  # noqa: F401 (fixtures)

or call :func:`launch_chromium` with your own ``sync_playwright()`` instance. Without a ``chromium`` binary
the browser tests are skipped locally and fail under CI (``./memnun test`` installs it with apt-get).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
#: A phone-sized viewport (the narrowest common Android width).
PHONE_VIEWPORT = {"width": 360, "height": 740}
DESKTOP_VIEWPORT = {"width": 1100, "height": 800}


def chromium_executable() -> str | None:
    """The system Chromium (Debian's ``chromium`` package), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch_chromium(playwright: Any, **kwargs: Any) -> Any:
    """``playwright.chromium.launch`` on the system binary with the flags our machines need."""
    executable = chromium_executable()
    if executable is None:
        raise FileNotFoundError("chromium is not installed (apt-get install -y chromium)")
    args = list(CHROMIUM_ARGS) + list(kwargs.pop("args", []))
    return playwright.chromium.launch(executable_path=executable, headless=True, args=args, **kwargs)


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    """One headless Chromium per test module.

    Not per session: Playwright's sync API allows one running instance per thread, so a session-wide
    instance made every later module that starts its own (the console's browser tests) fail.
    """
    if chromium_executable() is None:
        message = "chromium is not installed (apt-get install -y chromium chromium-driver)"
        if IN_CI:
            pytest.fail(message + " - CI requires the browser tests", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_context(chromium_browser: Any) -> Iterator[Any]:
    """A fresh, isolated browser profile (own localStorage and cookies) per test, Turkish locale."""
    context = chromium_browser.new_context(
        viewport=DESKTOP_VIEWPORT, locale="tr-TR", timezone_id="Europe/Istanbul", reduced_motion="reduce"
    )
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()
