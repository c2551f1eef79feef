"""A database outage under load: estimates go on, what needs the database says 503 and when to
retry, and everything works again when it is back, with no restart and no leaked connection."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from tests.e2e.server import Server, train
from tests.support import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "text/csv"}
HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}
AMES = {**HOUSE, "market": "ames"}


def connections(server: str, name: str) -> int:
    with psycopg.connect(server, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()
    return int(row[0]) if row else 0


def set_outage(server: str, name: str, down: bool) -> None:
    """Refuse new connections to the database and end every open one, or allow them again."""
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("false" if down else "true")
            )
        )
        if down:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


def worker_pids(server: Server) -> set[int]:
    assert server.process is not None
    found: set[int] = set()
    for task in Path(f"/proc/{server.process.pid}/task").iterdir():
        found.update(int(p) for p in (task / "children").read_text().split())
    return found


class Load(threading.Thread):
    """A steady stream of estimates to every replica; counts answers and failures."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(daemon=True)
        self.urls, self.ok, self.failed = urls, 0, []  # type: ignore[var-annotated]
        self.stop = threading.Event()

    def run(self) -> None:
        # One client, a new connection for each request (so that every worker of a replica
        # gets some): a call of its own each time made a client and its TLS context per
        # request, some 25 ms of the test's CPU, and the stream measured that, not the service.
        with httpx.Client(timeout=5, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            while not self.stop.is_set():
                self._round(client)

    def _round(self, client: httpx.Client) -> None:
        for url in self.urls:
            try:
                response = client.post(f"{url}/predict", json=HOUSE)
                batch = client.post(f"{url}/predict/batch", json={"listings": [HOUSE]})
                other = client.post(f"{url}/predict", json=AMES)
                if response.status_code == batch.status_code == other.status_code == 200:
                    self.ok += 1
                    continue
                self.failed.append(
                    f"{response.status_code} {batch.status_code} {other.status_code}"
                )
            except httpx.HTTPError as exc:
                self.failed.append(repr(exc))


def test_estimates_go_on_through_an_outage_and_the_rest_comes_back(
    database_server: str, own_database: tuple[str, str], tmp_path: Path
) -> None:
    url, name = own_database
    env = {
        "HOUSE_PRICE_DATABASE_URL": url,
        "HOUSE_PRICE_API_KEY": API_KEY,
        "HOUSE_PRICE_DB_CONNECT_TIMEOUT": "1",
        "HOUSE_PRICE_ACCESS_LOG": "false",
    }
    train(env)
    train(env, "--market", "ames")  # a second market, served through the outage
    replicas = [Server(env, workers=2, log=tmp_path / f"r{i}.log") for i in range(2)]
    for replica in replicas:
        replica.start()
    try:
        pids = [worker_pids(r) for r in replicas]
        deadline = time.monotonic() + 15
        while (before := connections(database_server, name)) < 2 * 2 * (4 + 1):
            assert time.monotonic() < deadline, before  # pools fill in the background
            time.sleep(0.2)
        ames_before = httpx.post(f"{replicas[0].url}/predict", json=AMES).content
        load = Load([r.url for r in replicas])
        load.start()
        time.sleep(1)

        set_outage(database_server, name, down=True)
        down_since = time.monotonic()
        time.sleep(1)
        start = time.monotonic()
        refused = httpx.post(
            f"{replicas[0].url}/retrain", content=b"beds,baths,sqft,price\n3,2,1500,250000\n",
            headers=AUTH, timeout=30,
        )  # fmt: skip
        refused_after = time.monotonic() - start
        models = httpx.get(f"{replicas[1].url}/models", timeout=30)
        live = httpx.get(f"{replicas[0].url}/health/live")
        ready = httpx.get(f"{replicas[1].url}/health/ready")
        late = Server(env, log=tmp_path / "late.log")
        replicas.append(late)  # stopped with the others
        late.start(ready=False)  # starts while the database is down
        time.sleep(max(0.0, 5.5 - (time.monotonic() - down_since)))
        late_ready = httpx.get(f"{late.url}/health/ready")
        set_outage(database_server, name, down=False)

        assert refused.status_code == 503 and "Retry-After" in refused.headers
        assert "database" in refused.json()["detail"]
        assert refused_after < 5, refused_after
        assert models.status_code == 503 and "Retry-After" in models.headers
        assert live.status_code == 200
        assert ready.status_code == 200 and "database" in (ready.json()["reason"] or "")
        assert late_ready.status_code == 503 and "database" in late_ready.json()["reason"]
        deadline = time.monotonic() + 15
        while httpx.get(f"{late.url}/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the late replica never became ready"
            time.sleep(0.2)
        late.stop()
        replicas.remove(late)

        deadline = time.monotonic() + 30
        while True:  # the pools reconnect by themselves
            retrain = httpx.post(
                f"{replicas[0].url}/retrain?wait=true&force=true",
                content=b"beds,baths,sqft,price\n" + b"3,2,1500,250000\n" * 12,
                headers=AUTH,
                timeout=120,
            )
            if retrain.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert retrain.status_code == 200 and retrain.json()["status"] == "succeeded"
        new = retrain.json()["version"]
        ames = {httpx.post(f"{r.url}/predict", json=AMES).content for r in replicas}
        assert ames == {ames_before}  # the other market: the same answer everywhere, untouched
        deadline = time.monotonic() + 5
        while any(
            httpx.post(f"{r.url}/predict", json=HOUSE).headers["x-model-version"] != new
            for r in replicas
        ):
            assert time.monotonic() < deadline, "a replica never served the new version"
            time.sleep(0.1)
        load.stop.set()
        load.join(30)
        assert load.failed == [] and load.ok > 200
        assert [worker_pids(r) for r in replicas] == pids  # no worker restarted
        deadline = time.monotonic() + 15
        while (after := connections(database_server, name)) != before:
            assert time.monotonic() < deadline, (before, after)  # pools refill by themselves
            time.sleep(0.2)
        assert before == 2 * 2 * (4 + 1)  # two replicas of two workers: a pool and a listener
    finally:
        for replica in replicas:
            replica.stop()
