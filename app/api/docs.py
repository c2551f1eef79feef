"""Swagger UI served from an installed package (fastapi-offline), so /docs works offline."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

STATIC_PREFIX = "/static/swagger-ui"
# Swagger UI 5 (which reads OpenAPI 3.1, as FastAPI writes it), shipped inside the wheel.
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{root}{STATIC_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{STATIC_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{root}{STATIC_PREFIX}/favicon.png",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        swagger_ui_parameters={"persistAuthorization": True},
    )


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()
