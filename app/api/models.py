"""Model versions: the active card, the list of versions, activation (rollback or forward)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool

from .. import metrics
from ..schemas import Activation, ModelCard, VersionList
from ..storage import ActiveModel, Registry
from .deps import Authorized, Model, get_active, get_registry
from .predict import json_response

router = APIRouter(tags=["models"])


@router.get(
    "/model",
    response_model=ModelCard,
    summary="The active model card",
    description="Version, creation time, coefficients with units, intercept, the range of each "
    "feature in the training data, cross-validated metrics, the rows and fingerprint of the "
    "training data, and the library versions that fitted it.",
    responses={503: {"description": "No model version can be served."}},
)
async def model_card(loaded: Model) -> Any:
    return json_response(loaded.card, loaded.version)


@router.get(
    "/models",
    response_model=VersionList,
    summary="All model versions, newest first, and the latest activations",
    responses={503: {"description": "The database cannot be reached now; retry later."}},
)
async def list_versions(registry: Annotated[Registry, Depends(get_registry)]) -> Any:
    cards = await run_in_threadpool(registry.cards)
    active = await run_in_threadpool(registry.active_version)
    activations = await run_in_threadpool(registry.activations)
    return {
        "active_version": active,
        "activations": activations,
        "versions": [
            {
                "version": c["version"],
                "created_at": c["created_at"],
                "active": c["version"] == active,
                "n_train": c["training"]["rows"],
                "metrics": c["metrics"]["cv"],
            }
            for c in cards
        ],
    }


@router.post(
    "/models/{version}/activate",
    response_model=Activation,
    summary="Make a stored version active (rollback or forward)",
    description="Checks the version's checksum first; every worker serves it within a second.",
    dependencies=[Authorized],
    responses={
        401: {"description": "Missing or wrong bearer key."},
        403: {"description": "No API key is configured on the server."},
        404: {"description": "No such version."},
        409: {"description": "The version's files are damaged; it was not activated."},
    },
)
async def activate(
    version: Annotated[str, Path(examples=["v20261126-231752-3f9a1c"])],
    registry: Annotated[Registry, Depends(get_registry)],
    active: Annotated[ActiveModel, Depends(get_active)],
) -> Any:
    previous = await run_in_threadpool(
        registry.activate, version, "POST /models/{version}/activate"
    )
    metrics.ACTIVATIONS.inc()
    # This worker switches now; the others follow the pointer within a poll interval.
    await run_in_threadpool(active.refresh)
    return json_response({"active_version": version, "previous_version": previous}, version)
