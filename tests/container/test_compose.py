"""docker-compose.yml as users run it, by Docker Compose v2 on a real engine, with no override.

Each test copies the compose file (and what it mounts) into a folder of its own, as a fresh
clone has it with no `.env`, and runs it under a project name of its own, so that no volume of a
real deployment is touched. The image is built first (`docker build --network host`, the engine
here has no default bridge) and named by HOUSE_PRICE_IMAGE; compose then starts it with
`up --no-build`. The ports are the file's own: 8000 for the default profile, 8080 for the proxy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.container.engine import docker, docker_run
from tests.support import ROOT

pytestmark = pytest.mark.engine

HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}
API = "http://127.0.0.1:8000"
PROXY = "http://127.0.0.1:8080"
KEY = "compose-test-key-7d2e91b4"
SCALE_UP = ("--profile", "scale", "up", "--detach", "--no-build", "--wait")
TIMINGS: dict[str, float] = {}

# Run inside a replica: polls its own server until four answers in a row come from a version
# other than the first it saw, then prints that version and the wall-clock time of the first
# (containers share the host's clock).
POLLER = """
import json, sys, time, urllib.request
def version():
    request = urllib.request.Request(
        "http://127.0.0.1:8000/predict", data=b'{"beds": 3, "baths": 2, "sqft": 1500}',
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return answer.headers["X-Model-Version"]
old = version()
print("ready", flush=True)
first, streak, deadline = 0.0, 0, time.time() + 120
while time.time() < deadline:
    seen, now = version(), time.time()
    time.sleep(0.01)  # leaves the replica's cores to the fit
    if seen == old:
        streak = 0
        continue
    first = first if streak else now
    streak += 1
    if streak == 4:
        print(json.dumps({"version": seen, "at": first}), flush=True)
        sys.exit(0)
sys.exit(1)
"""


@dataclass
class Project:
    """One compose project in a folder of its own."""

    folder: Path
    name: str = field(default_factory=lambda: f"hp-compose-{uuid.uuid4().hex[:8]}")
    image: str = ""

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        # Only what the test gives: no HOUSE_PRICE_* or POSTGRES_* from the calling shell.
        env = {"HOUSE_PRICE_IMAGE": self.image}
        return docker_run(
            "compose", "--project-name", self.name, *args, timeout=timeout, cwd=self.folder,
            env=env,
        )  # fmt: skip

    def __call__(self, *args: str, timeout: float = 300) -> str:
        run = self.run(*args, timeout=timeout)
        assert run.returncode == 0, f"docker compose {' '.join(args)}:\n{run.stderr[-3000:]}"
        return run.stdout

    def containers(self, service: str) -> list[str]:
        return self("--profile", "scale", "ps", "--quiet", service).split()

    def leftovers(self) -> list[str]:
        label = f"label=com.docker.compose.project={self.name}"
        running = docker("ps", "--all", "--quiet", "--filter", label).split()
        volumes = docker("volume", "ls", "--quiet", "--filter", label).split()
        return running + volumes


@pytest.fixture
def project(tmp_path: Path, image: str) -> Iterator[Project]:
    folder = tmp_path / "clone"
    folder.mkdir()
    for name in ("docker-compose.yml", ".env.example"):
        shutil.copy(ROOT / name, folder / name)
    shutil.copytree(ROOT / "deploy", folder / "deploy")
    project = Project(folder, image=image)
    try:
        yield project
    finally:
        project.run("--profile", "scale", "down", "--volumes", "--timeout", "5")
        timings = {k: round(v, 2) for k, v in TIMINGS.items()}
        print(f"compose test timings (s): {json.dumps(timings)}")


def version(url: str) -> str:
    answer = httpx.post(f"{url}/predict", json=HOUSE, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.headers["X-Model-Version"]


def poll(container: str) -> subprocess.Popen[str]:
    """POLLER, started in `container`."""
    return subprocess.Popen(
        ["docker", "exec", container, "python", "-c", POLLER],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def retrain(url: str, price: int) -> httpx.Response:
    return httpx.post(
        f"{url}/retrain?wait=true",
        json={"listings": [{**HOUSE, "price": price + i} for i in range(12)], "force": True},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=180,
    )


def test_the_file_is_accepted_with_no_env_and_with_the_example_env(project: Project) -> None:
    project("config", "--quiet")
    project("--profile", "scale", "config", "--quiet")
    shutil.copy(project.folder / ".env.example", project.folder / ".env")
    project("config", "--quiet")
    project("--profile", "scale", "config", "--quiet")


def test_the_scale_profile_without_a_password_refuses_to_start_and_says_what_to_set(
    project: Project,
) -> None:
    refused = project.run(*SCALE_UP, "--scale", "replica=3", "proxy")
    assert refused.returncode != 0
    assert "needs-postgres-password" in refused.stderr
    log = project("--profile", "scale", "logs", "needs-postgres-password")
    assert "set POSTGRES_PASSWORD in .env" in log
    assert project.containers("replica") == [] and project.containers("postgres") == []


def test_a_fresh_clone_serves_an_estimate_and_keeps_its_version_over_down_and_up(
    project: Project,
) -> None:
    start = time.monotonic()
    project("up", "--detach", "--no-build", "--wait")
    TIMINGS["default_up_to_healthy"] = time.monotonic() - start
    served = version(API)
    project("down")
    project("up", "--detach", "--no-build", "--wait")
    assert version(API) == served  # the named volumes kept the active version


def test_three_replicas_behind_the_proxy_agree_spread_converge_and_ride_out_a_database_restart(
    project: Project,
) -> None:
    (project.folder / ".env").write_text(
        f"POSTGRES_PASSWORD=pw-{uuid.uuid4().hex}\nHOUSE_PRICE_API_KEY={KEY}\n"
    )
    start = time.monotonic()
    project(*SCALE_UP, "--scale", "replica=3", "proxy")
    TIMINGS["scale_up_to_healthy"] = time.monotonic() - start
    replicas = project.containers("replica")
    assert len(replicas) == 3

    # One version after the simultaneous start: one replica fitted, the others found it.
    models = httpx.get(f"{PROXY}/models", timeout=10).json()
    assert len(models["versions"]) == 1, models
    assert version(PROXY) == models["versions"][0]["version"]

    # Requests through the proxy reach more than one replica (each logs its own access lines).
    for _ in range(30):
        version(PROXY)
    answered = [docker("logs", r).count('"POST /predict HTTP/1.1" 200') for r in replicas]
    assert sum(n > 0 for n in answered) >= 2, answered

    # A retrain through the proxy is served by every replica within a second.
    pollers = [poll(replica) for replica in replicas]
    for poller in pollers:
        assert poller.stdout is not None and poller.stdout.readline().strip() == "ready"
    job = retrain(PROXY, 300_000)
    acknowledged = time.time()
    assert job.status_code == 200 and job.json()["promoted"] is True, job.text
    seen = [json.loads(poller.communicate(timeout=60)[0]) for poller in pollers]
    assert {s["version"] for s in seen} == {job.json()["version"]}
    TIMINGS["retrain_via_proxy"] = job.elapsed.total_seconds()
    TIMINGS["replicas_converged"] = max(0.0, max(s["at"] for s in seen) - acknowledged)
    assert TIMINGS["replicas_converged"] <= 1.0

    # Estimates go on from memory while the database restarts; none fails.
    outcomes: list[int | str] = []
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    outcomes.append(client.post(f"{PROXY}/predict", json=HOUSE).status_code)
                except httpx.HTTPError as exc:
                    outcomes.append(repr(exc))

    sender = threading.Thread(target=stream)
    sender.start()
    try:
        time.sleep(1)
        start = time.monotonic()
        project("--profile", "scale", "restart", "postgres")
        TIMINGS["postgres_restart"] = time.monotonic() - start
        time.sleep(2)
    finally:
        stop.set()
        sender.join()
    TIMINGS["estimates_during_restart"] = len(outcomes)
    assert len(outcomes) > 50 and set(outcomes) == {200}, [o for o in outcomes if o != 200][:5]

    # The pools reconnect: a retrain succeeds (a 503 meanwhile is the documented "try again").
    deadline = time.monotonic() + 60
    while (after := retrain(PROXY, 310_000)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(1)
    assert after.status_code == 200 and after.json()["status"] == "succeeded", after.text

    project("--profile", "scale", "down", "--volumes", "--timeout", "5")
    assert project.leftovers() == []
