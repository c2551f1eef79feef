"""/metrics adds up across workers however the service is started."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server, fitted_dirs

BIN = Path(sys.executable).parent
GUNICORN = [
    str(BIN / "gunicorn"),
    "app.main:app",
    "--workers",
    "{workers}",
    "--worker-class",
    "uvicorn.workers.UvicornWorker",
    "--bind",
    "127.0.0.1:{port}",
]
LAUNCHES = {
    "python -m app.serve": None,
    "uvicorn --workers": [
        str(BIN / "uvicorn"),
        "app.main:app",
        "--workers",
        "{workers}",
        "--port",
        "{port}",
    ],
    "gunicorn": GUNICORN,
    "gunicorn --preload": [*GUNICORN, "--preload"],
}
ESTIMATES = re.compile(r"^house_price_estimates_total\{[^}]*\} (\S+)$", re.MULTILINE)
PREDICTIONS = 50


def counted(url: str) -> float:
    text = httpx.get(f"{url}/metrics", headers={"Connection": "close"}, timeout=5).text
    return sum(float(v) for v in ESTIMATES.findall(text))


@pytest.mark.parametrize("launch", LAUNCHES)
def test_every_scrape_counts_the_predictions_of_all_workers(launch: str, tmp_path: Path) -> None:
    server = Server(fitted_dirs(tmp_path), workers=2, command=LAUNCHES[launch])
    server.env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each launch finds its own folder
    with server:
        for _ in range(PREDICTIONS):
            response = httpx.post(
                f"{server.url}/predict",
                json={"beds": 3, "baths": 2, "sqft": 1500},
                headers={"Connection": "close"},  # a new connection each: both workers answer
            )
            assert response.status_code == 200
        # Counts are written in batches every poll interval; each scrape flushes its own worker.
        scrapes = []
        for _ in range(20):
            scrapes.append(counted(server.url))
            if len(scrapes) >= 8 and set(scrapes[-8:]) == {PREDICTIONS}:
                break
    assert scrapes[-8:] == [PREDICTIONS] * 8, scrapes
