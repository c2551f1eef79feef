"""Prometheus metrics, summed across the worker processes of a server (see app.multiproc)."""

from __future__ import annotations

import bisect
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from app.observability import multiproc

# Before the first metric is made: its values go to the shared folder when there is one.
multiproc.share()

values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]

CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter(
    "house_price_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)

LATENCY = Histogram(
    "house_price_http_request_duration_seconds",
    "Time from request start to the end of the response, by method and route template.",
    ["method", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

ESTIMATES = Counter(
    "house_price_estimates_total",
    "Price estimates served (one per house, batches included), by model version.",
    ["model_version"],
)

ACTIVATIONS = Counter(
    "house_price_activations_total",
    "Model versions made active through this service.",
)

MODEL_LOADS = Counter(
    "house_price_model_loads_total",
    "Model versions loaded by worker processes after a change of the ACTIVE pointer.",
)

ACTIVE_VERSION = Gauge(
    "house_price_active_model_info",
    "1 for the model version a worker serves, 0 for versions it served before.",
    ["model_version"],
    multiprocess_mode="livemax",
)


class Tally:
    """This process's request and estimate counts, written to the collectors in batches.

    In multiprocess mode every increment is a write to a shared memory-mapped file; per request
    that would cost more than the estimate itself. Counts gather here and are flushed by the
    worker every poll interval (HOUSE_PRICE_POLL_INTERVAL) and before each scrape, so /metrics lags
    by at most that.
    Only the event loop's thread records and flushes.
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency: dict[tuple[str, str], list[float]] = {}  # sum, then one count per bucket
        self.estimates: dict[str, int] = {}

    def request(self, method: str, route: str, status: str, seconds: float) -> None:
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        tally = self.latency.get((method, route))
        if tally is None:
            tally = self.latency[(method, route)] = [0.0] * (len(_BOUNDS) + 1)
        tally[0] += seconds
        tally[1 + bisect.bisect_left(_BOUNDS, seconds)] += 1  # Prometheus buckets are "≤ bound"

    def estimate(self, version: str, count: int = 1) -> None:
        self.estimates[version] = self.estimates.get(version, 0) + count

    def flush(self) -> None:
        requests, latency, estimates = self.requests, self.latency, self.estimates
        self.requests, self.latency, self.estimates = {}, {}, {}
        for labels, count in requests.items():
            REQUESTS.labels(*labels).inc(count)
        for route, (total, *buckets) in latency.items():
            child = LATENCY.labels(*route)
            child._sum.inc(total)
            for value, observed in zip(child._buckets, buckets, strict=True):
                if observed:
                    value.inc(observed)
        for version, count in estimates.items():
            ESTIMATES.labels(version).inc(count)


_BOUNDS = [*LATENCY._upper_bounds]  # the buckets' upper bounds, +Inf last

TALLY = Tally()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render() -> bytes:
    """The exposition text: all workers' samples when in multiprocess mode, else this process's."""
    TALLY.flush()
    if multiprocess_dir() is None:
        from prometheus_client import REGISTRY

        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def served(previous: str | None, current: str) -> None:
    """Record that this worker switched from `previous` to `current`."""
    if previous is not None:
        ACTIVE_VERSION.labels(model_version=previous).set(0)
    ACTIVE_VERSION.labels(model_version=current).set(1)
    MODEL_LOADS.inc()


def process_exited() -> None:
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
