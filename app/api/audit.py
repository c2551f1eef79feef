"""The audit trail: every change, who made it with which key and request, newest first."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from app.api import paging
from app.api.deps import Admin, MarketQuery, StorageDep
from app.api.openapi import unprocessable
from app.api.schemas import AuditPage
from app.storage.audit import Action

router = APIRouter(tags=["audit"])

_ID = re.compile(r"^[1-9][0-9]{0,17}$")


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="The audit trail: who changed what, when, with which key and request",
    description="Every change, recorded by the storage together with the change itself: "
    "uploads, jobs queued, started and ended, versions saved, promotions, activations and "
    "rollbacks, keeps, pruned versions, uploads and jobs, retired and removed markets. Each "
    "entry names the API key by its name (never the key) and the request's `X-Request-ID`. "
    "Newest first, `limit` at a time; filter by `action`, `version` or `market`. Needs a key "
    "with the `admin` scope.",
    dependencies=[Admin],
    responses={
        401: {"description": "Missing or wrong bearer key."},
        403: {"description": "No API key is configured, or the key lacks the `admin` scope."},
        422: unprocessable("A filter or limit out of range, or a page token not given here."),
        503: {"description": "The database cannot be reached now; retry later."},
    },
)
async def audit_trail(
    storage: StorageDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Entries per page.")] = 100,
    page_token: Annotated[
        str | None, Query(description="`next_page_token` of the previous page.")
    ] = None,
    action: Annotated[Action | None, Query(description="Only entries of this action.")] = None,
    version: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only entries about this model version.",
            examples=["v20261126-231752-3f9a1c"],
        ),
    ] = None,
    market: MarketQuery = None,
) -> Any:
    before = int(paging.decode(page_token, "after", _ID)) if page_token is not None else None
    found = await run_in_threadpool(
        storage.audit.page, limit + 1, before, action=action, version=version, market=market
    )
    page = found[:limit]
    more = len(found) > limit
    return {
        "entries": page,
        "next_page_token": paging.encode(str(page[-1]["id"]), "after") if more else None,
    }
