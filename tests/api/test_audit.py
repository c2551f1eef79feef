"""GET /audit over HTTP on both engines: a scripted sequence with two named keys leaves exactly
its entries, each with its key's name and request id, and never a key."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.api.factory import create_app
from app.config import Settings
from app.service.runner import settings_env
from app.storage import Storage
from tests.support import API_KEY, ROOT, synthetic_listings

pytestmark = pytest.mark.engines("files", "postgres")

CI = "ci-0123456789abcdef"  # retrain only
ALICE = "alice-0123456789abcdef"  # retrain and admin
CSV = {"Content-Type": "text/csv"}


def as_key(key: str, request_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Request-ID": request_id}


@pytest.fixture
def keyed(settings: Settings, fitted: str) -> Iterator[TestClient]:
    named = settings.model_copy(update={"api_keys": SecretStr(f"ci:{CI}:retrain,alice:{ALICE}")})
    with TestClient(create_app(named)) as client:
        yield client


def sales(seed: int) -> bytes:
    return synthetic_listings(400, seed=seed).to_csv(index=False).encode()


def trail(client: TestClient, **query: Any) -> list[dict[str, Any]]:
    answer = client.get("/audit", params={"limit": 1000, **query}, headers=as_key(ALICE, "r"))
    assert answer.status_code == 200, answer.text
    return list(reversed(answer.json()["entries"]))  # oldest first


def test_a_sequence_with_two_keys_leaves_exactly_its_entries(
    keyed: TestClient, storage: Storage, settings: Settings, fitted: str
) -> None:
    before = len(trail(keyed))
    first = keyed.post(
        "/retrain?wait=true&mode=replace", content=sales(1), headers={**CSV, **as_key(CI, "r-1")}
    ).json()
    assert first["status"] == "succeeded" and first["promoted"], first
    second = first["version"]
    assert keyed.post(f"/models/{fitted}/activate", headers=as_key(ALICE, "r-2")).status_code == 200
    assert keyed.post(f"/models/{second}/keep", headers=as_key(ALICE, "r-3")).status_code == 200
    assert keyed.post(f"/models/{second}/keep", headers=as_key(ALICE, "r-4")).status_code == 200
    refused = keyed.post(f"/models/{second}/activate", headers=as_key(CI, "r-5"))
    assert refused.status_code == 403
    third = keyed.post(
        "/retrain?wait=true&mode=replace", content=sales(2), headers={**CSV, **as_key(CI, "r-6")}
    ).json()
    assert third["status"] == "succeeded" and third["promoted"], third
    assert keyed.delete(f"/models/{second}/keep", headers=as_key(ALICE, "r-7")).status_code == 200
    prune = ["prune", "--keep", "0", "--jobs-days", "0", "--listings", "--yes"]
    pruned = subprocess.run(
        [sys.executable, "-m", "app.db", *prune],
        cwd=ROOT,
        env={**settings_env(settings), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pruned.returncode == 0, pruned.stderr

    entries = trail(keyed)[before:]
    seen = [(e["action"], e["key"], e["request_id"], e["target"]) for e in entries]
    upload_1 = f"{first['set']}/{first['batch']}"
    upload_2 = f"{third['set']}/{third['batch']}"
    fitted_by = [
        ("upload", "ci", "r-1", upload_1),
        ("job.queued", "ci", "r-1", first["job_id"]),
        ("job.started", "ci", "r-1", first["job_id"]),
        ("version.saved", "ci", "r-1", second),
        ("promotion", "ci", "r-1", second),
        ("job.ended", "ci", "r-1", first["job_id"]),
    ]
    refit = [
        ("upload", "ci", "r-6", upload_2),
        ("job.queued", "ci", "r-6", third["job_id"]),
        ("job.started", "ci", "r-6", third["job_id"]),
        ("version.saved", "ci", "r-6", third["version"]),
        ("promotion", "ci", "r-6", third["version"]),
        ("job.ended", "ci", "r-6", third["job_id"]),
    ]
    changes = [
        *fitted_by,
        ("rollback", "alice", "r-2", fitted),
        ("keep", "alice", "r-3", second),
        *refit,
        ("unkeep", "alice", "r-7", second),
    ]
    assert seen[: len(changes)] == changes
    assert sorted(seen[len(changes) :]) == sorted(
        [
            ("prune.version", None, None, second),
            ("prune.job", None, None, first["job_id"]),
            ("prune.job", None, None, third["job_id"]),
            ("prune.upload", None, None, upload_1),
        ]
    )
    assert all("python -m app.db prune" in e["by"] for e in entries[len(changes) :])
    assert entries[len(fitted_by)]["detail"]["previous"] == second
    assert entries[len(fitted_by) - 1]["outcome"] == "succeeded"
    text = json.dumps(entries)
    assert CI not in text and ALICE not in text and API_KEY not in text


def test_the_trail_is_filtered_by_action_and_version(keyed: TestClient, fitted: str) -> None:
    keyed.post(f"/models/{fitted}/keep", headers=as_key(ALICE, "k-1"))
    keyed.delete(f"/models/{fitted}/keep", headers=as_key(ALICE, "k-2"))
    kept = trail(keyed, action="keep")
    assert [(e["action"], e["request_id"]) for e in kept] == [("keep", "k-1")]
    about = trail(keyed, version=fitted)
    assert {e["action"] for e in about} == {"version.saved", "activation", "keep", "unkeep"}
    assert all(e["version"] == fitted for e in about)


def test_the_trail_is_paged_newest_first_and_each_entry_seen_once(
    keyed: TestClient, fitted: str
) -> None:
    for n in range(5):
        keyed.post(f"/models/{fitted}/keep", headers=as_key(ALICE, f"p-{n}"))
        keyed.delete(f"/models/{fitted}/keep", headers=as_key(ALICE, f"u-{n}"))
    seen: list[int] = []
    token = None
    while True:
        query: dict[str, Any] = {"limit": 3, **({"page_token": token} if token else {})}
        page = keyed.get("/audit", params=query, headers=as_key(ALICE, "r")).json()
        seen += [e["id"] for e in page["entries"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 12


def test_the_trail_needs_the_admin_scope(keyed: TestClient) -> None:
    answer = keyed.get("/audit", headers=as_key(CI, "r"))
    assert answer.status_code == 403 and "'admin'" in answer.json()["detail"]
    assert keyed.get("/audit").status_code == 401


def test_a_bad_filter_or_token_is_a_422_naming_it(keyed: TestClient) -> None:
    bad_action = keyed.get("/audit?action=delete", headers=as_key(ALICE, "r"))
    assert bad_action.status_code == 422 and "action" in bad_action.text
    bad_token = keyed.get("/audit?page_token=xyz", headers=as_key(ALICE, "r"))
    assert bad_token.status_code == 422 and "page_token" in bad_token.text
