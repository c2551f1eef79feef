"""Swagger UI renders in a real headless Chromium from this server alone (no internet)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.chromium import CHROMIUM_FLAGS, chromium
from tests.e2e.server import Server
from tests.support import API_KEY

pytestmark = pytest.mark.browser


def render(url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=15000",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_swagger_ui_renders_every_endpoint_and_the_authorize_button(
    model_dir: Path, fitted: str, tmp_path: Path
) -> None:
    env = {
        "HOUSE_PRICE_MODEL_DIR": str(model_dir),
        "HOUSE_PRICE_DATA_DIR": str(tmp_path / "data"),
        "HOUSE_PRICE_API_KEY": API_KEY,
    }
    with Server(env) as server:
        page = render(f"{server.url}/docs", tmp_path, "--dump-dom")
        shot = render(
            f"{server.url}/docs",
            tmp_path,
            f"--screenshot={tmp_path / 'docs.png'}",
            "--window-size=1280,2000",
        )
    dom = page.stdout
    assert page.returncode == 0, page.stderr[-2000:]
    assert "swagger-ui" in dom and "opblock" in dom, dom[-2000:]
    for path in ("/predict", "/predict/batch", "/model", "/models", "/health/ready", "/metrics"):
        assert f'data-path="{path}"' in dom, path
    assert "/models/{version}/activate" in dom
    assert "authorize" in dom.lower()
    assert shot.returncode == 0
    assert (tmp_path / "docs.png").stat().st_size > 10_000
