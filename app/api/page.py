"""GET / (the page for people) and its versioned static files, with browser caching."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request, Response

from app.domain.errors import NotFound
from app.web.assets import PREFIX, Asset, PageAssets

router = APIRouter(include_in_schema=False)

# Everything the page loads comes from this service: no other origin, no inline script.
_SECURITY = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# The HTML is checked with the server on every load (it names the current asset tag); the
# assets, whose URLs change with every release, are kept for a year without asking.
_HTML_CACHE = "no-cache"
_ASSET_CACHE = "public, max-age=31536000, immutable"


def get_assets(request: Request) -> PageAssets:
    return cast(PageAssets, request.app.state.page)


Assets = Annotated[PageAssets, Depends(get_assets)]


def _send(asset: Asset, request: Request, cache: str) -> Response:
    headers = {**_SECURITY, "ETag": asset.etag, "Cache-Control": cache}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/")
async def page(request: Request, assets: Assets) -> Response:
    return _send(assets.html, request, _HTML_CACHE)


@router.get(f"/{PREFIX}/{{tag}}/{{name:path}}")
async def static_file(tag: str, name: str, request: Request, assets: Assets) -> Response:
    asset = assets.files.get(name)
    if tag != assets.tag or asset is None:
        raise NotFound(f"no page asset {tag}/{name} in this release (the page is at /)")
    return _send(asset, request, _ASSET_CACHE)
