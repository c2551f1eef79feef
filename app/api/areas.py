"""GET /model/areas: the areas a market's model knows, matched as someone types one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.deps import Market, Model
from app.api.openapi import unprocessable
from app.api.predict import json_response
from app.domain.located_model import LocatedModel

router = APIRouter(tags=["models"])


class AreaList(BaseModel):
    market: str
    model_version: str
    areas: list[str] = Field(
        description="The areas that match, those that start with `contains` first, each group "
        "in order of name."
    )
    total: int = Field(description="How many areas match in all.")


def matching(areas: tuple[str, ...], contains: str, limit: int) -> tuple[list[str], int]:
    """The first `limit` areas holding `contains` (any case), those starting with it first."""
    typed = contains.casefold()
    starts = [a for a in areas if a.casefold().startswith(typed)]
    inside = [a for a in areas if typed in a.casefold() and not a.casefold().startswith(typed)]
    found = sorted(starts) + sorted(inside)
    return found[:limit], len(found)


@router.get(
    "/model/areas",
    response_model=AreaList,
    summary="The areas of the active model, matched by what is typed",
    description="The areas (zip codes, neighbourhoods, tracts) the market's model has sales "
    "in: an estimate in another area is made at the market's level, with a warning. A plain "
    "model (fitted without areas) has none.",
    responses={
        404: {"description": "No such market."},
        422: unprocessable("A limit out of range, or `contains` too long."),
        503: {"description": "No model version can be served."},
    },
)
async def areas(
    loaded: Model,
    market: Market,
    contains: Annotated[
        str, Query(max_length=64, description="Only the areas holding this (any case).")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=1000, description="Areas at most.")] = 20,
) -> Any:
    known = loaded.model.areas if isinstance(loaded.model, LocatedModel) else ()
    found, total = matching(known, contains, limit)
    body = {"market": market, "model_version": loaded.version, "areas": found, "total": total}
    return json_response(body, loaded.version)
