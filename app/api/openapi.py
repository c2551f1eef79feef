"""The OpenAPI document, with the schemas of the bodies that routes read themselves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api.schemas import HouseBatch, RetrainRequest

# Routes that take JSON or CSV read the raw request and name these in `openapi_extra`, so FastAPI
# never registers them; without them the document's `$ref`s would point nowhere.
RAW_BODIES: tuple[type[BaseModel], ...] = (HouseBatch, RetrainRequest)


def unprocessable(description: str) -> dict[str, Any]:
    """A documented 422: FastAPI's list of errors, each naming where (`loc`) and what (`msg`)."""
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
        },
    }


def install(app: FastAPI, bodies: Sequence[type[BaseModel]] = RAW_BODIES) -> None:
    """Make `app.openapi()` add `bodies` (and the models they use) to `components/schemas`."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            _, definitions = models_json_schema(
                [(model, "validation") for model in bodies],
                ref_template="#/components/schemas/{model}",
            )
            for name, schema in definitions.get("$defs", {}).items():
                schemas.setdefault(name, schema)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
