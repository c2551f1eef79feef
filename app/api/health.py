"""Operator endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from app.api.deps import ServedDep, StorageDep
from app.api.schemas import REFUSED_LISTED, Readiness
from app.observability import metrics

router = APIRouter(tags=["operations"])


@router.get("/health/live", summary="Liveness: 200 while the process runs")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get(
    "/health/ready",
    response_model=Readiness,
    summary="Readiness: 200 when a model is served, 503 with the reason otherwise",
    description="When the ACTIVE pointer names a version that fails its checks, the last good "
    "version keeps serving and `reason` says why the pointer was not followed.",
    responses={503: {"model": Readiness, "description": "No model can be served."}},
)
async def ready(
    served: ServedDep,
    storage: StorageDep,
) -> Any:
    current = served.current
    body = {
        "status": "ready" if current else "unavailable",
        "model_version": current.version if current else None,
        "markets": len(served.models),
        "reason": served.error,
        "storage": storage.describe(),
        "refused": dict(sorted(served.refused.items())[:REFUSED_LISTED]),
    }
    if current is None:
        return _json(body, 503)
    response = _json(body, 200)
    response.headers["X-Model-Version"] = current.version
    return response


def _json(body: dict[str, Any], status: int) -> Response:
    return JSONResponse(body, status_code=status)


@router.get(
    "/metrics",
    summary="Prometheus metrics, summed over all workers",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def prometheus() -> Response:
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
