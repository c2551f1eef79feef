"""The image, built and run by a real Docker engine: two replicas on the same named volumes.

What the engine-less checks cannot show: the image builds, its containers become healthy by
the image's own HEALTHCHECK, run as the unprivileged user, answer /predict, agree on a version
that a retrain through one of them made, and keep it after `docker restart`. Containers use the
host's network (the engine here has no bridge), each replica on a port of its own.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.container.engine import docker
from tests.e2e.server import free_port
from tests.support import API_KEY

pytestmark = pytest.mark.engine

HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}
TIMINGS: dict[str, float] = {}


@dataclass
class Replica:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> str:
        return docker("inspect", "--format", "{{.State.Health.Status}}", self.name)

    def wait_healthy(self, timeout: float = 90) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.health() == "healthy":
                return time.monotonic() - start
            time.sleep(0.5)
        logs = docker("logs", "--tail", "50", self.name)
        raise TimeoutError(f"{self.name} not healthy within {timeout} s:\n{logs}")

    def wait_for(self, version: str, within: float) -> float:
        """Seconds until a few answers in a row come from `version`; fails after `within`."""
        start = time.monotonic()
        streak = 0
        while streak < 4:
            streak = streak + 1 if self.version() == version else 0
            assert time.monotonic() - start < within, f"{self.name} still serves another version"
        return time.monotonic() - start

    def version(self) -> str:
        response = httpx.post(f"{self.url}/predict", json=HOUSE, timeout=5)
        assert response.status_code == 200, response.text
        return response.headers["X-Model-Version"]


@pytest.fixture
def replicas(image: str) -> Iterator[list[Replica]]:
    tag = uuid.uuid4().hex[:8]
    volumes = {"models": f"hp-test-models-{tag}", "data": f"hp-test-data-{tag}"}
    started: list[Replica] = []
    try:
        for i in range(2):
            replica = Replica(f"hp-test-{tag}-{i}", free_port())
            docker(
                "run", "--detach", "--name", replica.name, "--network", "host",
                "--env", f"HOUSE_PRICE_PORT={replica.port}",
                "--env", f"HOUSE_PRICE_API_KEY={API_KEY}",
                "--env", "HOUSE_PRICE_ACCESS_LOG=false",
                # The image's own check, asked every second rather than every ten.
                "--health-interval", "1s", "--health-start-period", "30s",
                "--volume", f"{volumes['models']}:/var/lib/house-price/models",
                "--volume", f"{volumes['data']}:/var/lib/house-price/data",
                image,
            )  # fmt: skip
            started.append(replica)
        yield started
    finally:
        for replica in started:
            subprocess.run(["docker", "rm", "--force", replica.name], capture_output=True)
        subprocess.run(["docker", "volume", "rm", *volumes.values()], capture_output=True)
        print(
            f"engine test timings (s): {json.dumps({k: round(v, 2) for k, v in TIMINGS.items()})}"
        )


def test_two_replicas_on_shared_volumes_agree_and_survive_a_restart(
    replicas: list[Replica],
) -> None:
    first, second = replicas
    TIMINGS["healthy"] = max(r.wait_healthy() for r in replicas)
    for replica in replicas:
        assert docker("exec", replica.name, "id", "-u") == "10001"
    built = first.version()
    assert second.version() == built  # the version fitted at build time, copied to the volume

    start = time.monotonic()
    retrain = httpx.post(
        f"{first.url}/retrain?wait=true",
        json={"listings": [{**HOUSE, "price": 250_000 + i} for i in range(12)], "force": True},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=120,
    )
    TIMINGS["retrain"] = time.monotonic() - start
    assert retrain.status_code == 200, retrain.text
    job = retrain.json()
    assert job["status"] == "succeeded" and job["promoted"] is True
    new = job["version"]
    assert new != built
    # Every worker of both replicas within a second (each re-reads the pointer every 0.2 s).
    TIMINGS["replicas_converged"] = max(r.wait_for(new, within=1.0) for r in replicas)

    start = time.monotonic()
    docker("restart", first.name, second.name, timeout=120)
    for replica in replicas:
        replica.wait_healthy()
    TIMINGS["restart_to_healthy"] = time.monotonic() - start
    assert first.version() == second.version() == new


def test_the_image_serves_the_page_and_every_asset_it_names(replicas: list[Replica]) -> None:
    replica = replicas[0]
    replica.wait_healthy()
    page = httpx.get(f"{replica.url}/", timeout=5)
    assert page.status_code == 200 and 'label for="sqft"' in page.text
    assets = re.findall(r'(?:src|href)="(static/page/[^"]+)"', page.text)
    assert len(assets) >= 3, page.text[:500]
    for asset in assets:
        response = httpx.get(f"{replica.url}/{asset}", timeout=5)
        assert response.status_code == 200, asset
        assert "immutable" in response.headers["cache-control"]


def test_the_image_writes_batch_answers_with_the_compiled_writer(image: str) -> None:
    found = docker(
        "run", "--rm", "--network", "none", "--entrypoint", "python", image,
        "-c", "from app.api import rows; print(rows.COMPILED)",
    )  # fmt: skip
    assert found.strip() == "True"
