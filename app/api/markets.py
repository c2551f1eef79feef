"""Markets: the towns served, each with its sales and accuracy; retiring one."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool

from app.api import paging
from app.api.deps import (
    Admin,
    ServedDep,
    SettingsDep,
    StorageDep,
    get_market_table,
)
from app.api.openapi import unprocessable
from app.api.predict import json_response
from app.api.schemas import MarketDetail, MarketList, Retirement
from app.domain.errors import Conflict
from app.domain.rules import MARKET_MAX_LENGTH, MARKET_PATTERN
from app.service.markets import MarketTable, Sort

router = APIRouter(tags=["markets"])

_NAME = Annotated[
    str,
    Path(pattern=MARKET_PATTERN, max_length=MARKET_MAX_LENGTH, examples=["sacramento"]),
]
_MARKET_TOKEN = re.compile(MARKET_PATTERN)
_OFFSET = re.compile(r"^\d{1,9}$")
Order = Literal["asc", "desc"]


@router.get(
    "/markets",
    response_model=MarketList,
    summary="The markets served, filtered by name, sorted by any column, a page at a time",
    description="Each market's active version, the sales it was fitted on and their first and "
    "last date, when it was fitted, and its cross-validated accuracy: median absolute error "
    "(a share of the price), the shares of estimates within 10 % and 20 % of the sale price, "
    "and the coverage of the 90 % range; whether this worker serves it now, and what needs "
    "attention. `contains` keeps the markets whose name holds it; `sort` and `order` choose "
    "the order (markets without the figure last, ties by name). Pass `next_page_token` as "
    "`page_token` for the next page, with the same `contains`, `sort` and `order`.",
    responses={
        422: unprocessable("A limit out of range, or a page token this service did not give."),
    },
)
async def list_markets(
    table: Annotated[MarketTable, Depends(get_market_table)],
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Markets per page.")] = 100,
    page_token: Annotated[
        str | None, Query(description="`next_page_token` of the previous page.")
    ] = None,
    contains: Annotated[
        str,
        Query(
            max_length=MARKET_MAX_LENGTH,
            pattern=r"^[A-Za-z0-9-]*$",
            description="Only the markets whose name contains this (any case).",
            examples=["elk"],
        ),
    ] = "",
    sort: Annotated[
        Sort, Query(description="The column to order by; ties are ordered by name.")
    ] = "market",
    order: Annotated[Order, Query(description="`asc` or `desc`.")] = "asc",
) -> Any:
    after, offset = None, 0
    if page_token is not None and sort == "market":
        after = paging.decode(page_token, "after", _MARKET_TOKEN)
    elif page_token is not None:
        offset = int(paging.decode(page_token, "offset", _OFFSET))
    descending = order == "desc"
    lines, total, more = await run_in_threadpool(
        table.page, contains, sort, descending, limit, offset, after
    )
    token = None
    if more and sort == "market":
        token = paging.encode(lines[-1]["market"], "after") if lines else None
    elif more:
        token = paging.encode(str(offset + limit), "offset")
    return {
        "default_market": settings.default_market,
        "total": total,
        "markets": lines,
        "next_page_token": token,
    }


@router.get(
    "/markets/{name}",
    response_model=MarketDetail,
    summary="One market: its sales, accuracy and active model card",
    responses={404: {"description": "No such market (or it is retired)."}},
)
async def get_market(name: _NAME, table: Annotated[MarketTable, Depends(get_market_table)]) -> Any:
    found = await run_in_threadpool(table.detail, name)
    return json_response(found, found["active_version"])


@router.delete(
    "/markets/{name}",
    response_model=Retirement,
    summary="Retire a market: every replica stops serving it within a second",
    description="Its versions, listings and history stay stored until `python -m app.db prune "
    "--market NAME --keep 0 --yes` removes them (which frees the name). A retired market "
    "takes no sales and serves no estimate (404). The default market cannot be retired.",
    dependencies=[Admin],
    responses={
        401: {"description": "Missing or wrong bearer key."},
        403: {"description": "No API key is configured on the server."},
        404: {"description": "No such market (or it is retired already)."},
        409: {"description": "The default market cannot be retired."},
    },
)
async def retire_market(
    name: _NAME,
    storage: StorageDep,
    settings: SettingsDep,
    served: ServedDep,
) -> Any:
    if name == settings.default_market:
        raise Conflict(
            f"market {name!r} is the default market (HOUSE_PRICE_DEFAULT_MARKET): it answers "
            "requests that name no market and cannot be retired"
        )
    await run_in_threadpool(storage.retire, name, "DELETE /markets/{name}")
    await run_in_threadpool(served.refresh, {name})
    return {"market": name, "retired": True}
