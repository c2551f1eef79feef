"""Model versions: the active card, the list of versions, activation (rollback or forward)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from app.api import paging
from app.api.deps import (
    Admin,
    Market,
    Model,
    ServedDep,
    SettingsDep,
    StorageDep,
)
from app.api.openapi import unprocessable
from app.api.predict import json_response
from app.api.schemas import Activation, KeptVersion, ModelCard, VersionList
from app.domain.errors import NotFound
from app.observability import metrics
from app.storage import Storage

router = APIRouter(tags=["models"])


@router.get(
    "/model",
    response_model=ModelCard,
    summary="The active model card",
    description="Version, creation time, coefficients with units, intercept, the range of each "
    "feature in the training data, cross-validated metrics, the rows and fingerprint of the "
    "training data, and the library versions that fitted it.",
    responses={
        404: {"description": "No such market."},
        503: {"description": "No model version can be served."},
    },
)
async def model_card(loaded: Model, served: ServedDep, market: Market) -> Any:
    card = await run_in_threadpool(served.card, market, loaded)
    return json_response(card, loaded.version)


@router.get(
    "/models",
    response_model=VersionList,
    summary="Model versions, newest first, a page at a time; the active one; latest activations",
    description="Versions come newest first (by name, which starts with the creation time), "
    "`limit` at a time. Pass the answer's `next_page_token` as `page_token` for the next page; "
    "it is null on the last one. A version created while a client pages through never appears "
    "twice and never makes it miss an older one.",
    responses={
        422: unprocessable("A limit out of range, or a page token this service did not give."),
        503: {"description": "The database cannot be reached now; retry later."},
    },
)
async def list_versions(
    storage: StorageDep,
    settings: SettingsDep,
    market: Market,
    limit: Annotated[int, Query(ge=1, le=1000, description="Versions per page.")] = 100,
    page_token: Annotated[
        str | None, Query(description="`next_page_token` of the previous page.")
    ] = None,
) -> Any:
    before = paging.decode(page_token) if page_token is not None else None
    registry = storage.market(market).registry
    # One more than asked: whether a next page exists, without a second query.
    found = await run_in_threadpool(registry.page, limit + 1, before)
    active = await run_in_threadpool(registry.active_version)
    if market != settings.default_market and (active is None or storage.market(market).retired()):
        raise NotFound(f"no market {market!r}: GET /markets lists the markets served")
    activations = await run_in_threadpool(registry.activations)
    page = found[:limit]
    more = len(found) > limit
    return {
        "market": market,
        "active_version": active,
        "activations": activations,
        "versions": [{**v, "active": v["version"] == active} for v in page],
        "next_page_token": paging.encode(page[-1]["version"]) if more else None,
    }


@router.post(
    "/models/{version}/activate",
    response_model=Activation,
    summary="Make a stored version active (rollback or forward)",
    description="Acts in the version's own market (version names are unique across markets). "
    "Checks the version's checksum first; every worker serves it within a second.",
    dependencies=[Admin],
    responses={
        401: {"description": "Missing or wrong bearer key."},
        403: {"description": "No API key is configured on the server."},
        404: {"description": "No such version."},
        409: {
            "description": "The version's files are damaged, or its market is retired; it "
            "was not activated."
        },
    },
)
async def activate(
    version: Annotated[str, Path(examples=["v20261126-231752-3f9a1c"])],
    storage: StorageDep,
    served: ServedDep,
) -> Any:
    market = await run_in_threadpool(storage.market_of, version)
    registry = storage.market(market).registry
    previous = await run_in_threadpool(
        registry.activate, version, "POST /models/{version}/activate"
    )
    metrics.ACTIVATIONS.inc()
    # This worker switches now; the others follow the pointer within a poll interval.
    await run_in_threadpool(served.refresh, {market})
    body = {"market": market, "active_version": version, "previous_version": previous}
    return json_response(body, version)


_VERSION = Annotated[str, Path(examples=["v20261126-231752-3f9a1c"])]
_KEEP_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong bearer key."},
    403: {"description": "No API key is configured on the server."},
    404: {"description": "No such version."},
}


def _keeping(kept: bool) -> Callable[..., Awaitable[Any]]:
    """The handler that marks a version kept (`kept=True`) or unmarks it."""

    async def handler(version: _VERSION, storage: StorageDep) -> Any:
        await run_in_threadpool(_set_kept, storage, version, kept)
        return {"version": version, "kept": kept}

    handler.__name__ = "keep" if kept else "unkeep"
    return handler


for _method, _kept, _summary in (
    ("POST", True, "Mark a version kept: `python -m app.db prune` never removes it"),
    ("DELETE", False, "Unmark a kept version: pruning treats it like any other again"),
):
    router.add_api_route(
        "/models/{version}/keep",
        _keeping(_kept),
        methods=[_method],
        response_model=KeptVersion,
        summary=_summary,
        dependencies=[Admin],
        responses=_KEEP_RESPONSES,
    )


def _set_kept(storage: Storage, version: str, kept: bool) -> None:
    storage.market(storage.market_of(version)).registry.set_kept(version, kept)
