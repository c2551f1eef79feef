"""Swagger UI and the OpenAPI document: served locally, every endpoint described."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.engines("files", "postgres")


def test_docs_page_loads_its_assets_from_this_server(client: TestClient) -> None:
    page = client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, page
    for asset in assets:
        assert asset.startswith("/static/"), asset
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000


def test_swagger_ui_version_reads_openapi_3_1(client: TestClient) -> None:
    bundle = client.get("/static/swagger-ui/swagger-ui-bundle.js").text
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert re.search(r'VERSION:"5\.\d+\.\d+"', bundle), "Swagger UI 5 is needed for OpenAPI 3.1"


def test_every_operation_has_a_summary_and_the_mutating_ones_need_the_bearer_key(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path}"
    activate = spec["paths"]["/models/{version}/activate"]["post"]
    assert activate["security"] == [{"HTTPBearer": []}]


def test_request_bodies_carry_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    house = spec["components"]["schemas"]["House"]
    assert house["examples"] == [{"beds": 3, "baths": 2, "sqft": 1500}]
    batch = spec["paths"]["/predict/batch"]["post"]["requestBody"]["content"]
    assert set(batch) == {"application/json", "text/csv"}
    assert "beds,baths,sqft" in batch["text/csv"]["example"]
