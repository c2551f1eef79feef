"""The image, built once for every engine test of the session."""

from __future__ import annotations

import time

import pytest

from tests.container.engine import IMAGE, build
from tests.support import ROOT

BUILD_SECONDS: list[float] = []


@pytest.fixture(scope="session")
def image() -> str:
    start = time.monotonic()
    build(ROOT)
    BUILD_SECONDS.append(time.monotonic() - start)
    print(f"image built in {BUILD_SECONDS[0]:.1f} s")
    return IMAGE
