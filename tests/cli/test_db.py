"""`python -m app.db audit`: the trail printed newest first, one line or one JSON object each."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.config import Settings
from app.observability.context import acting
from app.service.runner import settings_env
from app.storage import Storage
from tests.support import ROOT

pytestmark = pytest.mark.engines("files", "postgres")


def audit(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.db", "audit", *args],
        cwd=ROOT,
        env={**settings_env(settings), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_audit_prints_each_entry_with_its_key_and_request(
    storage: Storage, settings: Settings, fitted: str
) -> None:
    with acting(key_name="alice", request_id="req-7"):
        storage.registry.set_kept(fitted, True)
    printed = audit(settings)
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert [line.split()[2] for line in lines] == ["keep", "activation", "version.saved"]
    assert "key=alice request=req-7" in lines[0] and fitted in lines[0]


def test_audit_filters_and_writes_json_lines(
    storage: Storage, settings: Settings, fitted: str
) -> None:
    printed = audit(settings, "--action", "activation", "--json")
    assert printed.returncode == 0, printed.stderr
    found = [json.loads(line) for line in printed.stdout.splitlines()]
    assert [(e["action"], e["version"]) for e in found] == [("activation", fitted)]


def test_audit_refuses_an_unknown_action_by_name(settings: Settings) -> None:
    printed = audit(settings, "--action", "delete")
    assert printed.returncode == 2 and "--action" in printed.stderr
