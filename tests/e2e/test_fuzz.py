"""Schemathesis against a real server, from the service's own OpenAPI document, with the key.

Every operation, JSON and CSV bodies included, with examples, boundary values, random and
schema-violating data: no answer is a 5xx, every answer matches its documented schema, and
every schema-violating request is refused with a 4xx.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.server import Server, fitted_dirs
from tests.support import API_KEY

CHECKS = "not_a_server_error,response_schema_conformance,negative_data_rejection"
SEED = 20261127
EXAMPLES = 40


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    env = {**fitted_dirs(tmp_path), "HOUSE_PRICE_ACCESS_LOG": "false"}
    with Server(env, log=tmp_path / "server.log") as server:
        paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
        operations = sum(len(methods) for methods in paths.values())
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                CHECKS,
                "--mode",
                "all",
                "--seed",
                str(SEED),
                "--max-examples",
                str(EXAMPLES),
                "--header",
                f"Authorization: Bearer {API_KEY}",
                "--request-timeout",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    summary = run.stdout[run.stdout.find("SUMMARY") :]
    print(summary)  # operations, cases, failures: shown with `pytest -s`
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert f"Selected: {operations}/{operations}" in summary  # every operation, none skipped
    assert f"Tested: {operations}" in summary
    assert "No issues found" in summary
