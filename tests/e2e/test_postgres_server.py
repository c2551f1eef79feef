"""The service on PostgreSQL alone: real servers whose folders are empty and not shared.

`python -m app.train` fits into the database; a server with no model or data directory of its
own serves it, takes a retrain, answers its job, lists versions and rolls back. The URL's
password appears in no log line and no answer.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.e2e.server import Server, train
from tests.support import API_KEY

PASSWORD = "pw-7c1e9f-never-shown"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def with_password(url: str) -> str:
    # The test server trusts local connections, so any password works; it must still be hidden.
    parts = conninfo_to_dict(url)
    return make_conninfo(url, password=PASSWORD, user=parts.get("user") or "postgres")


def test_train_serve_retrain_and_roll_back_with_nothing_but_the_database(
    database_server: str, own_database: tuple[str, str], tmp_path: Path
) -> None:
    database_url, name = own_database
    url = with_password(database_url)
    env = {
        "HOUSE_PRICE_DATABASE_URL": url,
        "HOUSE_PRICE_API_KEY": API_KEY,
        # Folders that do not exist, and could not be made: nothing may be written there.
        "HOUSE_PRICE_MODEL_DIR": "/proc/house-price-none/models",
        "HOUSE_PRICE_DATA_DIR": "/proc/house-price-none/data",
    }
    printed = train(env)
    first = printed.split()[2]
    log = tmp_path / "server.log"
    answers: list[str] = [printed]
    with Server(env, workers=2, log=log) as server:
        house = {"beds": 3, "baths": 2, "sqft": 1500}
        predicted = httpx.post(f"{server.url}/predict", json=house)
        assert predicted.headers["x-model-version"] == first
        rows = "beds,baths,sqft,price\n" + "".join(
            f"{2 + i % 3},2,{900 + 13 * i},{120_000 + 900 * i}\n" for i in range(60)
        )
        retrain = httpx.post(
            f"{server.url}/retrain?wait=true&force=true",
            content=rows,
            headers={**AUTH, "Content-Type": "text/csv"},
            timeout=120,
        )
        job = retrain.json()
        assert retrain.status_code == 200 and job["status"] == "succeeded", job
        second = job["version"]
        assert httpx.get(f"{server.url}/jobs/{job['job_id']}").json()["version"] == second
        listed = httpx.get(f"{server.url}/models").json()
        assert listed["active_version"] == second
        assert [v["version"] for v in listed["versions"]] == [second, first]
        rollback = httpx.post(f"{server.url}/models/{first}/activate", headers=AUTH)
        assert rollback.json() == {
            "market": "default",
            "active_version": first,
            "previous_version": second,
        }
        ready = httpx.get(f"{server.url}/health/ready").json()
        for path in ("/model", "/models", "/metrics", "/health/ready", f"/jobs/{job['job_id']}"):
            answers.append(httpx.get(f"{server.url}{path}").text)
        answers.append(retrain.text)
        with psycopg.connect(database_server) as conn:
            # Counted in this test's own database: no other test's connections are in it.
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'house-price' AND datname = %s",
                (name,),
            ).fetchone()
        # Two workers: each one pool (at most 4) and one listening connection; the fit's
        # process has ended and taken its connections with it.
        assert row is not None and 2 <= row[0] <= 2 * (4 + 1)
    assert ready["model_version"] == first
    assert not Path("/proc/house-price-none").exists()
    logged = log.read_text()
    assert "now serving model version" in logged or "POST /retrain" in logged
    for text in (logged, *answers):
        assert PASSWORD not in text
