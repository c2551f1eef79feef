"""Prometheus metrics; summed across worker processes when PROMETHEUS_MULTIPROC_DIR is set."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

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


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render() -> bytes:
    """The exposition text: all workers' samples when in multiprocess mode, else this process's."""
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
