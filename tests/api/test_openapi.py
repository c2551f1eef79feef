"""The OpenAPI document is valid OpenAPI 3.1 and every `$ref` in it points to a schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

pytestmark = pytest.mark.engines("files", "postgres")


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_document_validates_against_the_openapi_3_1_specification(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_ref_resolves(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    found = set(refs(document))
    assert "#/components/schemas/HouseBatch" in found
    assert "#/components/schemas/RetrainRequest" in found
    for ref in found:
        assert isinstance(resolve(document, ref), dict), ref


def test_bodies_read_from_the_raw_request_are_described_in_full(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["HouseBatch"]["properties"]["listings"]["items"] == {
        "$ref": "#/components/schemas/House"
    }
    assert set(schemas["RetrainRequest"]["properties"]) == {"listings", "mode", "force"}
    assert set(schemas["Listing"]["required"]) == {"beds", "baths", "sqft", "price"}
