"""Markets: the towns served, each with its sales and accuracy; retiring one."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool

from app.api import paging
from app.api.deps import Authorized, get_served, get_settings, get_storage
from app.api.openapi import unprocessable
from app.api.predict import json_response
from app.api.schemas import MarketDetail, MarketList, Retirement
from app.config import Settings
from app.domain.errors import Conflict
from app.domain.rules import MARKET_MAX_LENGTH, MARKET_PATTERN
from app.service import markets
from app.service.serving import ServedModels
from app.storage import Storage

router = APIRouter(tags=["markets"])

_NAME = Annotated[
    str,
    Path(pattern=MARKET_PATTERN, max_length=MARKET_MAX_LENGTH, examples=["sacramento"]),
]
_MARKET_TOKEN = re.compile(MARKET_PATTERN)


@router.get(
    "/markets",
    response_model=MarketList,
    summary="The markets served, by name, a page at a time, with their sales and accuracy",
    description="Each market's active version, the sales it was fitted on and their first and "
    "last date, when the market was last fitted, and its cross-validated accuracy: median "
    "absolute error (a share of the price), the shares of estimates within 10 % and 20 % of "
    "the sale price, and the coverage of the 90 % range. Pass `next_page_token` as "
    "`page_token` for the next page.",
    responses={
        422: unprocessable("A limit out of range, or a page token this service did not give."),
        503: {"description": "The database cannot be reached now; retry later."},
    },
)
async def list_markets(
    storage: Annotated[Storage, Depends(get_storage)],
    settings: Annotated[Settings, Depends(get_settings)],
    limit: Annotated[int, Query(ge=1, le=1000, description="Markets per page.")] = 100,
    page_token: Annotated[
        str | None, Query(description="`next_page_token` of the previous page.")
    ] = None,
) -> Any:
    after = None if page_token is None else paging.decode(page_token, "after", _MARKET_TOKEN)
    lines, more = await run_in_threadpool(markets.page, storage, limit, after)
    return {
        "default_market": settings.default_market,
        "markets": lines,
        "next_page_token": paging.encode(lines[-1]["market"], "after") if more else None,
    }


@router.get(
    "/markets/{name}",
    response_model=MarketDetail,
    summary="One market: its sales, accuracy and active model card",
    responses={404: {"description": "No such market (or it is retired)."}},
)
async def get_market(name: _NAME, storage: Annotated[Storage, Depends(get_storage)]) -> Any:
    found = await run_in_threadpool(markets.detail, storage, name)
    return json_response(found, found["active_version"])


@router.delete(
    "/markets/{name}",
    response_model=Retirement,
    summary="Retire a market: every replica stops serving it within a second",
    description="Its versions, listings and history stay stored until `python -m app.db prune "
    "--market NAME --keep 0 --yes` removes them (which frees the name). A retired market "
    "takes no sales and serves no estimate (404). The default market cannot be retired.",
    dependencies=[Authorized],
    responses={
        401: {"description": "Missing or wrong bearer key."},
        403: {"description": "No API key is configured on the server."},
        404: {"description": "No such market (or it is retired already)."},
        409: {"description": "The default market cannot be retired."},
    },
)
async def retire_market(
    name: _NAME,
    storage: Annotated[Storage, Depends(get_storage)],
    settings: Annotated[Settings, Depends(get_settings)],
    served: Annotated[ServedModels, Depends(get_served)],
) -> Any:
    if name == settings.default_market:
        raise Conflict(
            f"market {name!r} is the default market (HOUSE_PRICE_DEFAULT_MARKET): it answers "
            "requests that name no market and cannot be retired"
        )
    await run_in_threadpool(storage.retire, name, "DELETE /markets/{name}")
    await run_in_threadpool(served.refresh, {name})
    return {"market": name, "retired": True}
