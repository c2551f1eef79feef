"""POST /retrain and GET /jobs/{job_id}: new sales in, a fit job out, its state from any worker."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from app.api.bodies import content_type, parse_rows
from app.api.deps import Authorized, get_active, get_jobs, get_runner, get_settings, get_store
from app.api.openapi import unprocessable
from app.api.schemas import Job, RetrainRequest
from app.config import Settings
from app.domain import listings
from app.domain.errors import BadInput
from app.service.jobs import TERMINAL
from app.service.runner import JobRunner
from app.service.serving import ActiveModel
from app.storage import JobStore, ListingStore

router = APIRouter(tags=["retrain"])


_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/RetrainRequest"}},
            "text/csv": {
                "schema": {"type": "string"},
                "example": "beds,baths,sqft,price,sold_at\n3,2,1500,249000,2026-11-02\n",
            },
        },
    }
}


@router.post(
    "/retrain",
    status_code=202,
    response_model=Job,
    summary="Add sold listings and fit a new model version",
    description="Every row is checked first: if any is bad the answer is 422 listing the first "
    "errors by row and field, and nothing is stored. Otherwise the listings are on disk "
    "(fsync'd) before the answer, and a fit job is queued: `202` with the job and a "
    "`Location` header, or with `?wait=true` a `200` with the finished job. Sending the same "
    "upload again does not store it twice. The new version becomes active only if it passes "
    "the promotion gate (see the README) or `force` is true. For a `text/csv` body, `mode` "
    "and `force` are query parameters; for JSON they are fields of the body.",
    dependencies=[Authorized],
    responses={
        200: {"description": "With `?wait=true`: the finished job.", "model": Job},
        401: {"description": "Missing or wrong bearer key."},
        403: {"description": "No API key is configured on the server."},
        413: {"description": "Too many rows or too large a body."},
        415: {"description": "Neither JSON nor CSV."},
        422: unprocessable("A bad row; nothing was stored."),
    },
    openapi_extra=_BODY,
)
async def retrain(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    store: Annotated[ListingStore, Depends(get_store)],
    jobs: Annotated[JobStore, Depends(get_jobs)],
    runner: Annotated[JobRunner, Depends(get_runner)],
    active: Annotated[ActiveModel, Depends(get_active)],
    wait: Annotated[bool, Query(description="Answer when the fit has finished.")] = False,
    mode: Annotated[
        Literal["append", "replace"] | None, Query(description="CSV bodies only.")
    ] = None,
    force: Annotated[bool | None, Query(description="CSV bodies only.")] = None,
) -> Response:
    kind = content_type(request)
    body = await request.body()
    if kind == "text/csv":
        frame = await run_in_threadpool(listings.read_table, body, max_rows=settings.max_csv_rows)
        chosen_mode, chosen_force = mode or "append", bool(force)
        # Stored as sent: other columns and formatting kept, and no re-serialising.
        accepted = await run_in_threadpool(store.add_bytes, body, len(frame), chosen_mode)
    else:
        if mode is not None or force is not None:
            raise BadInput("with a JSON body, send mode and force as fields of the body")
        parsed = parse_rows(body, RetrainRequest, settings.max_batch_rows)
        frame = listings.from_records(row.model_dump(exclude_none=True) for row in parsed.listings)
        if "sold_at" in frame.columns:
            frame["sold_at"] = frame["sold_at"].map(_iso, na_action="ignore")
        chosen_mode, chosen_force = parsed.mode, parsed.force
        accepted = await run_in_threadpool(store.add, frame, chosen_mode)
    job = await run_in_threadpool(
        jobs.create,
        mode=chosen_mode,
        force=chosen_force,
        rows_received=accepted.rows,
        duplicate=accepted.duplicate,
        set=accepted.set_id,
        batch=accepted.batch,
    )
    runner.wake()
    if wait:
        job = await _wait(jobs, job["job_id"], settings.retrain_wait_seconds)
        # So that this worker's next answer already comes from the version the job activated.
        await run_in_threadpool(active.refresh)
    status = 200 if job["status"] in TERMINAL else 202
    return Response(
        orjson.dumps(job),
        status_code=status,
        media_type="application/json",
        headers={"Location": f"/jobs/{job['job_id']}"},
    )


def _iso(value: Any) -> str:
    return str(value.isoformat())


async def _wait(jobs: JobStore, job_id: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        job = await run_in_threadpool(jobs.get, job_id)
        if job["status"] in TERMINAL or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.05)


@router.get(
    "/jobs/{job_id}",
    response_model=Job,
    summary="A retrain job's state, from any worker",
    responses={404: {"description": "No such job."}},
)
async def get_job(job_id: str, jobs: Annotated[JobStore, Depends(get_jobs)]) -> Any:
    return await run_in_threadpool(jobs.get, job_id)
