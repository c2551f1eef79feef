"""What operators run on: JSON logs through load and an outage, a key rotated under load, keys
that stop a start with one line. Real servers, a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.e2e.server import Server, fitted_dirs, train
from tests.e2e.test_outage import set_outage
from tests.support import ROOT

pytestmark = pytest.mark.slow

HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}
OLD = "old-key-0123456789abcdef"
NEW = "new-key-fedcba9876543210"


def test_every_line_of_a_json_log_through_load_and_an_outage_parses(
    database_server: str, own_database: tuple[str, str], tmp_path: Path
) -> None:
    url, name = own_database
    secret = "pw-never-in-a-log-5c1e"
    with_password = make_conninfo(url, password=secret)
    assert conninfo_to_dict(with_password)["password"] == secret  # trusted: it is not asked for
    env = {
        "HOUSE_PRICE_DATABASE_URL": with_password,
        "HOUSE_PRICE_API_KEY": OLD,
        "HOUSE_PRICE_DB_CONNECT_TIMEOUT": "1",
        "HOUSE_PRICE_LOG_FORMAT": "json",
    }
    train(env)
    log = tmp_path / "server.log"
    sent: list[str] = []
    with Server(env, workers=2, log=log) as server:
        for i in range(40):
            request_id = f"load-{i}"
            sent.append(request_id)
            answer = httpx.post(
                f"{server.url}/predict", json=HOUSE, headers={"X-Request-ID": request_id}
            )
            assert answer.headers["x-request-id"] == request_id
        fitted = httpx.post(
            f"{server.url}/retrain?wait=true&force=true",
            content=b"beds,baths,sqft,price\n" + b"3,2,1500,250000\n4,2,2100,330000\n" * 20,
            headers={"Authorization": f"Bearer {OLD}", "Content-Type": "text/csv",
                     "X-Request-ID": "a-retrain"},
            timeout=60,
        )  # fmt: skip
        assert fitted.status_code == 200 and fitted.json()["status"] == "succeeded"
        set_outage(database_server, name, down=True)
        time.sleep(2.5)
        during = httpx.get(f"{server.url}/models", headers={"X-Request-ID": "in-the-outage"})
        assert during.status_code == 503
        httpx.post(f"{server.url}/predict", json=HOUSE, headers={"X-Request-ID": "still-up"})
        set_outage(database_server, name, down=False)
        deadline = time.monotonic() + 30
        while httpx.get(f"{server.url}/models").status_code != 200:
            assert time.monotonic() < deadline, "the database never came back"
            time.sleep(0.2)
        deadline = time.monotonic() + 10  # each worker says so when it next asks
        while log.read_text().count("the storage answers again") < 2:
            assert time.monotonic() < deadline, "a worker never said the storage was back"
            time.sleep(0.2)
    text = log.read_text()
    assert secret not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= line.keys(), line
    access = [line for line in lines if line["logger"] == "house_price.access"]
    by_id = {line["request_id"]: line for line in access}
    for request_id in [*sent, "in-the-outage", "still-up"]:
        line = by_id[request_id]
        assert {"method", "path", "status", "duration_ms", "model_version"} <= line.keys()
    assert by_id["load-0"]["status"] == 200 and by_id["load-0"]["model_version"]
    assert by_id["in-the-outage"]["status"] == 503
    # The fitting process writes JSON lines too, each with the id of the request it fits for.
    fit = [line for line in lines if "active version is now" in line["message"]]
    assert fit and all(line["request_id"] == "a-retrain" for line in fit), fit
    # One line per worker when the database went, one when it came back; no pool warnings.
    lost = [line for line in lines if line["message"].startswith("lost the storage")]
    back = [line for line in lines if line["message"].startswith("the storage answers again")]
    assert len(lost) == len(back) == 2, (lost, back)
    assert all(" s without it" in line["message"] for line in back)
    assert not [line for line in lines if line["logger"].startswith("psycopg")]


def write_keys(path: Path, *entries: str) -> None:
    staged = path.with_suffix(".new")
    staged.write_text("".join(f"{entry}\n" for entry in entries))
    os.replace(staged, path)


class Clients(threading.Thread):
    """Retrains and activations, back to back, with whatever key `key` holds now."""

    def __init__(self, url: str, version: str) -> None:
        super().__init__(daemon=True)
        self.url, self.version, self.key = url, version, OLD
        self.answers: list[int] = []
        self.failed: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        sales = b"beds,baths,sqft,price\n" + b"3,2,1500,250000\n" * 3
        with httpx.Client(timeout=30) as http:
            while not self.stop.is_set():
                key = self.key
                auth = {"Authorization": f"Bearer {key}"}
                for answer in (
                    http.post(
                        f"{self.url}/retrain",
                        content=sales,
                        headers={**auth, "Content-Type": "text/csv"},
                    ),
                    http.post(f"{self.url}/models/{self.version}/activate", headers=auth),
                ):
                    self.answers.append(answer.status_code)
                    if answer.status_code >= 400:
                        self.failed.append(f"{answer.status_code} with {key[:3]}: {answer.text}")


def test_a_key_rotated_under_a_stream_of_retrains_and_activations_fails_no_request(
    tmp_path: Path,
) -> None:
    env = fitted_dirs(tmp_path)
    keys = tmp_path / "keys"
    write_keys(keys, f"deploy:{OLD}")
    env = {**env, "HOUSE_PRICE_API_KEYS_FILE": str(keys), "HOUSE_PRICE_API_KEY": ""}
    with Server(env, workers=2) as server:
        version = httpx.get(f"{server.url}/model").json()["version"]
        clients = [Clients(server.url, version) for _ in range(2)]
        for client in clients:
            client.start()
        time.sleep(1)
        write_keys(keys, f"deploy:{OLD}", f"deploy-next:{NEW}")  # 1. add the new key
        time.sleep(1)
        for client in clients:  # 2. move the clients
            client.key = NEW
        time.sleep(1)
        write_keys(keys, f"deploy-next:{NEW}")  # 3. remove the old one
        time.sleep(1)
        for client in clients:
            client.stop.set()
            client.join(60)
        old = httpx.post(
            f"{server.url}/models/{version}/activate", headers={"Authorization": f"Bearer {OLD}"}
        )
    answered = sum(len(c.answers) for c in clients)
    assert [f for c in clients for f in c.failed] == [] and answered > 20, answered
    assert old.status_code == 401


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("HOUSE_PRICE_API_KEY", "tiny-key-1234", "is 13 characters long; a key needs at least 16"),
        ("HOUSE_PRICE_API_KEYS", f"ci:{OLD},ci:{NEW}", "the key name 'ci' is given twice"),
    ],
)
def test_bad_keys_stop_the_start_with_one_line_that_shows_no_key(
    tmp_path: Path, variable: str, value: str, said: str
) -> None:
    env = {**os.environ, **fitted_dirs(tmp_path), variable: value}
    started = subprocess.run(
        [sys.executable, "-m", "app.serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = started.stderr.strip().splitlines()
    assert started.returncode == 2 and len(lines) == 1, started.stderr
    assert said in lines[0] and variable in lines[0]
    assert "tiny-key-1234" not in lines[0] and OLD not in lines[0]


def test_the_access_log_in_text_names_request_status_and_version(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with Server(fitted_dirs(tmp_path), log=log) as server:
        answer = httpx.post(f"{server.url}/predict", json=HOUSE, headers={"X-Request-ID": "r-1"})
    line = next(x for x in log.read_text().splitlines() if "[request r-1]" in x)
    assert '"POST /predict HTTP/1.1" 200' in line and " ms" in line
    assert f"model {answer.headers['x-model-version']}" in line


def test_every_line_of_plain_uvicorn_with_the_shipped_log_config_parses_as_json(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    command = [
        *(sys.executable, "-m", "uvicorn", "app.main:app", "--port", "{port}"),
        *("--workers", "{workers}", "--log-config", "app/observability/uvicorn-json.json"),
    ]
    env = {**fitted_dirs(tmp_path), "HOUSE_PRICE_LOG_FORMAT": "json"}
    with Server(env, workers=2, log=log, command=command) as server:
        for i in range(4):
            httpx.post(f"{server.url}/predict", json=HOUSE, headers={"X-Request-ID": f"r-{i}"})
        assert httpx.get(f"{server.url}/no-such-page").status_code == 404
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # any line that is not JSON fails here
    messages = [line["message"] for line in parsed]
    assert any(m.startswith("Uvicorn running on") for m in messages)
    assert any(m.startswith("Started parent process") for m in messages)
    assert any(m.startswith("Stopping parent process") for m in messages)
    access = [line for line in parsed if line["logger"] == "house_price.access"]
    assert {line["request_id"] for line in access} >= {f"r-{i}" for i in range(4)}
