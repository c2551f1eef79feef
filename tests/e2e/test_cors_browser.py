"""CORS in Chromium: a page on a listed origin calls the API; a page on another origin cannot."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.e2e.server import Server, fitted_dirs, free_port
from tests.support import API_KEY

pytestmark = pytest.mark.browser

CALL = """async ([api, path, options]) => {
  try {
    const answer = await fetch(api + path, options);
    return { status: answer.status, id: answer.headers.get('X-Request-ID'),
             version: answer.headers.get('X-Model-Version') };
  } catch (error) {
    return { error: String(error) };
  }
}"""


class Site:
    """A plain page served from its own origin (127.0.0.1 and a port of its own)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text("<!doctype html><title>another site</title><p>hi")
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Site]]:
    folder = tmp_path_factory.mktemp("sites")
    listed, other = Site(folder / "listed"), Site(folder / "other")
    yield listed, other
    listed.close()
    other.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sites: tuple[Site, Site]) -> Iterator[Server]:
    env = fitted_dirs(tmp_path_factory.mktemp("cors-server"))
    with Server({**env, "HOUSE_PRICE_CORS_ORIGINS": sites[0].url}) as started:
        yield started


def call(browser: Browser, site: Site, server: Server, path: str, **options: Any) -> Any:
    page = browser.new_page()
    try:
        page.goto(site.url + "/")
        return page.evaluate(CALL, [server.url, path, options])
    finally:
        page.close()


HOUSE = '{"beds": 3, "baths": 2, "sqft": 1500}'
JSON = {"Content-Type": "application/json"}


def test_a_page_on_a_listed_origin_estimates_and_reads_the_request_id(
    browser: Browser, sites: tuple[Site, Site], server: Server
) -> None:
    answer = call(browser, sites[0], server, "/predict", method="POST", headers=JSON, body=HOUSE)
    assert answer["status"] == 200 and answer["version"]
    assert answer["id"] and len(answer["id"]) == 32


def test_a_page_on_a_listed_origin_may_send_the_key_in_a_header(
    browser: Browser, sites: tuple[Site, Site], server: Server
) -> None:
    version = call(browser, sites[0], server, "/predict", method="POST", headers=JSON, body=HOUSE)
    answer = call(
        browser,
        sites[0],
        server,
        f"/models/{version['version']}/activate",
        method="POST",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert answer["status"] == 200


def test_a_page_on_another_origin_is_refused_by_the_browser(
    browser: Browser, sites: tuple[Site, Site], server: Server
) -> None:
    answer = call(browser, sites[1], server, "/predict", method="POST", headers=JSON, body=HOUSE)
    assert "Failed to fetch" in answer.get("error", ""), answer


def test_a_call_with_cookies_is_refused_even_from_a_listed_origin(
    browser: Browser, sites: tuple[Site, Site], server: Server
) -> None:
    answer = call(
        browser,
        sites[0],
        server,
        "/predict",
        method="POST",
        headers=JSON,
        body=HOUSE,
        credentials="include",
    )
    assert "Failed to fetch" in answer.get("error", ""), answer
