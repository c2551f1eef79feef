"""The application factory: `create_app(settings)`; `app` is what `uvicorn app.main:app` serves."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.api import areas, audit, docs, health, markets, models, openapi, page, predict, retrain
from app.api.cors import Cors, parse_origins
from app.api.docs import ASSETS_DIR, STATIC_PREFIX
from app.api.edge import Layer, RequestContext
from app.api.errors import handle_service_error, handle_validation_error
from app.api.fastpath import FastPredict
from app.api.middleware import BodyLimit, RequestMetrics
from app.api.query import refuse_unknown_query
from app.config import Settings
from app.domain.errors import ServiceError, Unavailable
from app.observability import metrics
from app.observability.access import AccessLog
from app.service.comps_files import CompsFiles, default_directory
from app.service.keys import Keyring
from app.service.markets import MarketTable
from app.service.retraining import Retraining
from app.service.runner import JobRunner
from app.service.serving import ServedModels
from app.storage import Storage, open_storage
from app.web.assets import PageAssets

log = logging.getLogger(__name__)


DESCRIPTION = """
Estimates the sale price of a home from its bedrooms, bathrooms and living area with an exact
ordinary least-squares model, fitted on recent sales and versioned on disk.

Every answer says which model version made it (`model_version` and the `X-Model-Version`
header) and carries the request's id (`X-Request-ID`: the client's when it is 1 to 128 letters,
digits, `.`, `_`, `:` or `-`, otherwise a new one), which is in every log line written for it.

Endpoints that change the service need one of the named bearer keys (`HOUSE_PRICE_API_KEYS`,
`HOUSE_PRICE_API_KEYS_FILE` or `HOUSE_PRICE_API_KEY`): use **Authorize** above. A key has the
scope `retrain` (send sales and fit), `admin` (activate, keep, retire a market, force past the
promotion gate), or both; a key without the scope a route needs gets 403 naming it.

Every change (uploads, jobs, versions saved, promotions, activations and rollbacks, keeps,
prunes, retired markets) is recorded in the audit trail with the key's name and the request id:
`GET /audit`. `HOUSE_PRICE_LOG_FORMAT=json` writes the logs as one JSON object a line.
"""


async def _follow_pointers(
    served: ServedModels,
    storage: Storage,
    interval: float,
    storage_ready: asyncio.Event,
    access: AccessLog | None,
) -> None:
    """Follow the active pointers so this worker serves a new version within a second.

    The storage says which markets' pointers may have changed (PostgreSQL notifies at once,
    naming the market; files are polled every `interval` seconds, through one journal), and
    only those markets are reloaded.
    """
    default = served.current.version if served.current else None
    while True:
        changed = await asyncio.to_thread(storage.wait_for_change, interval)
        if served.lost:  # ask again at every turn: pointers may have moved meanwhile
            changed = None
        metrics.TALLY.flush()
        if access is not None:
            access.flush()
        try:
            if not storage_ready.is_set():  # started while the database was down
                await asyncio.to_thread(storage.ensure)
                storage_ready.set()
                log.info("the storage is reachable: %s", storage.describe())
                changed = None
            await asyncio.to_thread(served.refresh, changed)
        except Unavailable as exc:
            served.error = f"waiting for the storage: {exc.message}"
            continue
        except Exception:  # a watcher that dies would freeze this worker on old versions
            log.exception("checking the active pointers failed")
            await asyncio.sleep(interval)
            continue
        if served.current is not None and served.current.version != default:
            metrics.served(default, served.current.version)
            default = served.current.version


def create_app(settings: Settings | None = None, *, fast_predict: bool = True) -> Layer:
    """The served ASGI app: the fast path of `POST /predict` (unless `fast_predict` is False),
    then each request's id and access line, CORS when origins are listed, and the FastAPI app."""
    settings = settings or Settings()
    fast: FastPredict | None = None
    # One writer of access lines, flushed by the watcher every poll and at the end.
    access = AccessLog() if settings.access_log else None

    keyring = Keyring(settings)  # BadKeys stops the start, naming what is wrong

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage = open_storage(settings, listen=True)
        storage_ready = asyncio.Event()
        try:
            await asyncio.to_thread(storage.ensure)
            storage_ready.set()
        except Unavailable as exc:
            # Start anyway: /health/ready says why nothing is served, and the watcher below
            # sets the storage up as soon as it answers.
            log.warning("starting without the storage (%s): %s", storage.describe(), exc.message)
        comps_files = CompsFiles(settings.comps_dir or default_directory())
        await asyncio.to_thread(comps_files.prune)
        served = ServedModels(storage, settings.default_market, settings.default_level, comps_files)
        await asyncio.to_thread(served.refresh)  # every market's model, in bulk
        # What start-up made lives as long as the process: the collector need not look at it
        # again (with thousands of markets, each full collection would walk all of them).
        gc.freeze()
        if served.current is not None:
            metrics.served(None, served.current.version)
        runner = JobRunner(settings, storage)
        app.state.settings = settings
        app.state.keyring = keyring
        app.state.storage = storage
        app.state.served = served
        app.state.runner = runner
        app.state.retraining = Retraining(storage, runner, served, settings.retrain_wait_seconds)
        app.state.market_table = MarketTable(storage, served)
        app.state.page = PageAssets(settings.default_level)
        watcher = asyncio.create_task(
            _follow_pointers(served, storage, settings.poll_interval, storage_ready, access)
        )
        # Jobs left pending by a process that died are picked up on the runner's first check.
        runner.start()
        runner.wake()
        if fast is not None:
            fast.start(served, settings)
        try:
            yield
        finally:
            if fast is not None:
                fast.stop()
            runner.stop()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await asyncio.to_thread(storage.close)
            metrics.TALLY.flush()
            if access is not None:
                access.flush()
            metrics.process_exited()

    app = FastAPI(
        title="house-price",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_unknown_query)],
    )
    app.add_exception_handler(ServiceError, handle_service_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.mount(STATIC_PREFIX, StaticFiles(directory=ASSETS_DIR), name="swagger-ui")
    for module in (predict, retrain, models, areas, markets, audit, health, docs, page):
        app.include_router(module.router)
    openapi.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics)
    origins, anyone = parse_origins(settings.cors_origins)
    cors = Cors(app, origins, anyone) if origins or anyone else None
    layers = RequestContext(cors or app, access)
    if not fast_predict:
        return layers
    fast = FastPredict(layers, cors, access)
    return fast
