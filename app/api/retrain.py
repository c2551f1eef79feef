"""POST /retrain and GET /jobs/{job_id}: new sales in, a fit job out, its state from any worker."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from app.api.bodies import check_rows, content_type, load_json, validate, without_bad_rows
from app.api.deps import (
    Market,
    RetrainKey,
    SettingsDep,
    forced_by,
    get_jobs,
    get_retraining,
)
from app.api.openapi import unprocessable
from app.api.schemas import Job, Listing, RetrainRequest
from app.domain import listings
from app.domain.errors import BadInput
from app.service.retraining import Retraining
from app.storage import JobStore
from app.storage.naming import TERMINAL, market_of_job

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
    "errors by row and field, and nothing is stored (with `?invalid=skip`, bad rows are left "
    "out instead, and the job counts and names them). Otherwise the listings are on disk "
    "(fsync'd) before the answer, and a fit job is queued: `202` with the job and a "
    "`Location` header, or with `?wait=true` a `200` with the finished job. Sending the same "
    "upload again does not store it twice. The new version becomes active only if it passes "
    "the promotion gate (see docs/api.md) or `force` is true. For a `text/csv` body, `mode` "
    "and `force` are query parameters; for JSON they are fields of the body. `market` names "
    "the market (town) the sales belong to: a new name creates the market with its first "
    "successful fit; a retired market takes no sales (409).",
    responses={
        200: {"description": "With `?wait=true`: the finished job.", "model": Job},
        401: {"description": "Missing or wrong bearer key."},
        403: {
            "description": "No API key is configured on the server, or `force` with a key "
            "that has no `admin` scope."
        },
        409: {"description": "The market is retired."},
        413: {"description": "Too many rows or too large a body."},
        415: {"description": "Neither JSON nor CSV."},
        422: unprocessable("A bad row; nothing was stored."),
    },
    openapi_extra=_BODY,
)
async def retrain(
    request: Request,
    key: RetrainKey,
    settings: SettingsDep,
    retraining: Annotated[Retraining, Depends(get_retraining)],
    market: Market,
    wait: Annotated[bool, Query(description="Answer when the fit has finished.")] = False,
    mode: Annotated[
        Literal["append", "replace"] | None, Query(description="CSV bodies only.")
    ] = None,
    force: Annotated[bool | None, Query(description="CSV bodies only.")] = None,
    invalid: Annotated[
        Literal["refuse", "skip"],
        Query(
            description="`refuse` (the default): a bad row refuses the upload. `skip`: the "
            "rows that fail a check are left out, the rest stored and fitted; the job says how "
            "many (`skipped.rows`) and why (`skipped.reasons`, the first ten)."
        ),
    ] = "refuse",
) -> Response:
    kind = content_type(request)
    body = await request.body()
    skipped = listings.Skipped() if invalid == "skip" else None
    if kind == "text/csv":
        if force:
            forced_by(key)
        frame = await run_in_threadpool(
            listings.read_table, body, max_rows=settings.max_csv_rows, skipped=skipped
        )
        if skipped is not None and skipped.count:
            body = await run_in_threadpool(listings.without_rows, body, skipped.positions)
        job = await run_in_threadpool(
            retraining.submit_csv, body, len(frame), mode or "append", bool(force), market, skipped
        )
    else:
        if mode is not None or force is not None:
            raise BadInput("with a JSON body, send mode and force as fields of the body")
        document = load_json(body)
        check_rows(document, settings.max_batch_rows)
        if skipped is not None:
            document = without_bad_rows(document, Listing, skipped)
        parsed = validate(document, RetrainRequest)
        if parsed.force:
            forced_by(key)
        frame = listings.from_records(row.model_dump(exclude_none=True) for row in parsed.listings)
        if "sold_at" in frame.columns:
            frame["sold_at"] = frame["sold_at"].map(_iso, na_action="ignore")
        job = await run_in_threadpool(
            retraining.submit_rows, frame, parsed.mode, parsed.force, market, skipped
        )
    if wait:
        job = await retraining.finished(job["job_id"])
    status = 200 if job["status"] in TERMINAL else 202
    return Response(
        orjson.dumps(job),
        status_code=status,
        media_type="application/json",
        headers={"Location": f"/jobs/{job['job_id']}"},
    )


def _iso(value: Any) -> str:
    return str(value.isoformat())


@router.get(
    "/jobs/{job_id}",
    response_model=Job,
    summary="A retrain job's state, from any worker",
    responses={404: {"description": "No such job."}},
)
async def get_job(
    job_id: str,
    jobs: Annotated[JobStore, Depends(get_jobs)],
    retraining: Annotated[Retraining, Depends(get_retraining)],
) -> Any:
    job = await run_in_threadpool(jobs.get, job_id)
    if job["status"] in TERMINAL and job.get("promoted"):
        # A client that sees its version promoted is served it next by this worker, as after
        # `?wait=true` (the other workers follow the pointer within a poll interval).
        await run_in_threadpool(retraining.served.refresh, {market_of_job(job)})
    return job
