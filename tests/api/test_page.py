"""GET / and its static files: served by the app, cached by the browser, versioned."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.web.assets import PREFIX

pytestmark = pytest.mark.engines("files", "postgres")


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(static/[^"]+)"', html)


def test_the_page_is_served_at_the_root_as_html(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<label for="sqft">Square feet</label>' in response.text


def test_the_page_names_its_assets_by_versioned_relative_urls(client: TestClient) -> None:
    urls = asset_urls(client.get("/").text)
    assert {u.rsplit("/", 1)[1] for u in urls} >= {"page.css", "main.js", "icon.svg"}
    tags = {u.split("/")[2] for u in urls}
    assert len(tags) == 1 and all(u.startswith(f"{PREFIX}/") for u in urls), urls


def test_every_asset_and_every_module_it_imports_is_served(client: TestClient) -> None:
    html = client.get("/").text
    todo = [f"/{u}" for u in asset_urls(html)]
    seen: set[str] = set()
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, url
        if url.endswith(".js"):
            assert response.headers["content-type"].startswith("text/javascript")
            base = url.rsplit("/", 1)[0]
            todo += [f"{base}/{name}" for name in re.findall(r'from "\./([^"]+)"', response.text)]
    assert len([u for u in seen if u.endswith(".js")]) >= 5, seen


def test_assets_are_kept_for_a_year_and_the_page_is_checked_each_time(client: TestClient) -> None:
    page = client.get("/")
    assert page.headers["cache-control"] == "no-cache"
    asset = client.get(f"/{asset_urls(page.text)[0]}")
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["etag"]


def test_an_unchanged_page_answers_304_without_a_body(client: TestClient) -> None:
    etag = client.get("/").headers["etag"]
    again = client.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert client.get("/", headers={"If-None-Match": '"other"'}).status_code == 200


def test_an_asset_of_another_release_is_not_found(client: TestClient) -> None:
    response = client.get(f"/{PREFIX}/0.0.0-000000000000/main.js")
    assert response.status_code == 404
    assert "no page asset" in response.json()["detail"]


def test_an_unknown_asset_is_not_found(client: TestClient) -> None:
    url = asset_urls(client.get("/").text)[0]
    assert client.get(f"/{url.rsplit('/', 1)[0]}/nothing.js").status_code == 404


def test_the_page_allows_only_this_origin(client: TestClient) -> None:
    policy = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


def test_the_page_is_not_part_of_the_api_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert not [p for p in paths if p.startswith("/static")]
