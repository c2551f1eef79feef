"""Start the service under uvicorn with N workers whose Prometheus metrics add up."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile

import uvicorn

from app.config import Settings
from app.observability import logs
from app.service.keys import BadKeys, Keyring
from app.storage.signing import BadSigningKey, signer_of


def http_protocol() -> type[asyncio.Protocol] | str:
    """uvicorn's httptools protocol sending each answer in one write; without httptools
    installed, uvicorn's own choice."""
    try:
        from app.cli.one_write import OneWriteProtocol
    except ImportError:  # no httptools: uvicorn's h11 protocol
        return "auto"
    return OneWriteProtocol


def main() -> None:
    settings = Settings()
    level = os.environ.get("HOUSE_PRICE_LOG_LEVEL", "info")
    try:
        Keyring(settings)
        signer_of(settings)
    except (BadKeys, BadSigningKey) as exc:  # one clear line, before any worker starts
        print(f"house-price: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    # Each worker writes its counters here; /metrics in any worker sums them. A fresh folder per
    # start keeps counts of an earlier run out.
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    own_dir = metrics_dir is None
    if metrics_dir is None:
        metrics_dir = tempfile.mkdtemp(prefix="house-price-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "app.main:app",
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            proxy_headers=True,
            http=http_protocol(),
            # The service writes the access lines itself (with duration and model version).
            access_log=False,
            log_config=logs.config(settings.log_format, level),
            log_level=level,
        )
    finally:
        if own_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
