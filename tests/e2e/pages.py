"""What the browser tests share: Chromium, a tab that may talk only to the server, the API."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.e2e.server import Server

# Where screenshots go besides the test's temporary folder (for docs/, say).
SCREENSHOT_DIR = os.environ.get("HOUSE_PRICE_SCREENSHOT_DIR")
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 740}


class Visit:
    """A fresh browser tab (its own session storage) that may only talk to the server."""

    def __init__(self, browser: Browser, server: Server) -> None:
        self.browser = browser
        self.server = server
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.contexts: list[Any] = []

    def open(self, path: str = "/", viewport: ViewportSize = DESKTOP) -> Page:
        context = self.browser.new_context(viewport=viewport, accept_downloads=True)
        self.contexts.append(context)
        context.route("**/*", self._only_the_server)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)
        page.goto(self.server.url + path)
        # The page is ready once it has listed the versions (or said why it cannot).
        expect(page.locator("#versions-status")).not_to_be_empty()
        return page

    def _console(self, message: Any) -> None:
        # An answer of 4xx is the page's to show (the tests check it does), not a script error.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _only_the_server(self, route: Any) -> None:
        if route.request.url.startswith(self.server.url + "/"):
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            route.abort()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


# The page's focusable controls in document order (one per group of radio buttons), each named by
# its id, its label or its text; and the one that has the focus.
FOCUSABLE = """() => {
  const seen = new Set();
  const controls = 'a[href], button, input, select, textarea, summary, [tabindex]';
  return [...document.querySelectorAll(controls)]
    .filter((el) => el.tabIndex >= 0 && !el.disabled && el.getClientRects().length > 0)
    .filter((el) => {
      if (el.type !== 'radio') return true;
      if (seen.has(el.name)) return false;
      seen.add(el.name);
      return true;
    })
    .map((el) => el.id || el.getAttribute('aria-label') || el.textContent.trim());
}"""
ACTIVE = """() => {
  const el = document.activeElement;
  if (el === document.body) return null;
  return el.id || el.getAttribute('aria-label') || el.textContent.trim();
}"""


def keep_screenshot(shot: Path) -> None:
    """Copy a screenshot to HOUSE_PRICE_SCREENSHOT_DIR when it names a folder."""
    if SCREENSHOT_DIR:
        shutil.copy(shot, Path(SCREENSHOT_DIR) / shot.name)


def api(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, server.url + path, timeout=60, **kwargs)


def money(value: float) -> str:
    return f"{'−' if round(value) < 0 else ''}${abs(value):,.0f}"


def serious(page: Page) -> list[dict[str, Any]]:
    results = Axe().run(page)
    return [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def assert_accessible(page: Page) -> None:
    """axe finds no serious or critical violation on the page as it is now."""
    found = serious(page)
    assert not found, [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in found]
