"""The Dockerfile's own steps, replayed outside Docker (no engine runs here).

The steps are read from the Dockerfile, not copied: every RUN carries a `# smoke: run` or
`# smoke: skip (why)` comment, and a RUN without one fails this test. The container's own
directories (its WORKDIRs, COPY destinations and the paths in its ENV) are mapped into a
temporary folder; `python` is a fresh virtual environment's. Then the CMD is started exactly as
written and the HEALTHCHECK command must pass against it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.container.dockerfile import Stage, env_pairs, exec_form, healthcheck_options, parse
from tests.e2e.server import free_port
from tests.support import ROOT

pytestmark = pytest.mark.container

DOCKERFILE = ROOT / "Dockerfile"


def container_roots(stages: list[Stage]) -> list[str]:
    """Absolute folders the image itself creates or names (not the base image's)."""
    roots: set[str] = set()
    for stage in stages:
        for ins in stage.instructions:
            paths: list[str] = []
            if ins.keyword == "WORKDIR":
                paths = [ins.args]
            elif ins.keyword == "COPY":
                paths = [p for p in ins.args.split() if p.startswith("/")]
            elif ins.keyword == "ENV":
                paths = [v for v in env_pairs(ins.args).values() if v.startswith("/")]
            for path in paths:
                parts = Path(path).parts
                # /var/lib/x and /opt/x are the image's own; /app, /src, /wheels too.
                depth = 4 if parts[1] in ("var", "usr", "opt") else 2
                roots.add(str(Path(*parts[:depth])))
    return sorted(roots, key=len, reverse=True)


class Sandbox:
    def __init__(self, tmp: Path, roots: list[str]) -> None:
        self.top = tmp / "fs"
        self.roots = roots
        venv = tmp / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        self.env = {
            "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(tmp),
            **{k: v for k, v in os.environ.items() if k.startswith(("PIP_", "SSL_", "LANG"))},
        }
        self.cwd = self.top

    def map(self, text: str) -> str:
        for root in self.roots:
            text = re.sub(rf"(?<![\w./-]){re.escape(root)}(?=/|\b|$)", str(self.top) + root, text)
        return text

    def copy(self, args: str) -> None:
        parts = [p for p in args.split() if not p.startswith("--")]
        if args.startswith("--from"):
            return  # the build stage wrote into the same sandbox
        *sources, dest = parts
        target = Path(self.map(dest)) if dest.startswith("/") else self.cwd / dest
        for source in sources:
            src = ROOT / source
            if dest.endswith("/") or len(sources) > 1:
                target.mkdir(parents=True, exist_ok=True)
                to = target / Path(source).name
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                to = target
            if src.is_dir():
                shutil.copytree(
                    src, to, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(src, to)

    def run(self, command: str) -> None:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", self.map(command)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, (
            f"RUN {command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


def test_every_run_step_is_marked() -> None:
    for stage in parse(DOCKERFILE):
        for ins in stage.instructions:
            if ins.keyword == "RUN":
                assert ins.marker and re.match(r"(run|skip \(.+\))$", ins.marker), ins.args


def test_the_dockerfile_steps_build_a_service_that_passes_its_healthcheck(tmp_path: Path) -> None:
    stages = parse(DOCKERFILE)
    assert len(stages) >= 2, "a multi-stage build"
    assert all(s.base.startswith("python:3.11-slim") for s in stages)
    box = Sandbox(tmp_path, container_roots(stages))
    cmd: list[str] = []
    healthcheck: list[str] = []
    options: dict[str, str] = {}
    for stage in stages:
        for ins in stage.instructions:
            if ins.keyword == "WORKDIR":
                box.cwd = Path(box.map(ins.args))
                box.cwd.mkdir(parents=True, exist_ok=True)
            elif ins.keyword == "ENV":
                box.env.update({k: box.map(v) for k, v in env_pairs(ins.args).items()})
            elif ins.keyword == "COPY":
                box.copy(ins.args)
            elif ins.keyword == "RUN" and ins.marker == "run":
                box.run(ins.args)
            elif ins.keyword == "CMD":
                cmd = exec_form(ins.args)
            elif ins.keyword == "HEALTHCHECK":
                healthcheck, options = exec_form(ins.args), healthcheck_options(ins.args)
    assert cmd and healthcheck

    # The image was fitted at build time: a version is active before the server starts.
    model_dir = Path(box.env["HOUSE_PRICE_MODEL_DIR"])
    assert (model_dir / "ACTIVE").read_text().strip()

    port = free_port()
    env = {**box.env, "HOUSE_PRICE_PORT": str(port), "HOUSE_PRICE_HOST": "127.0.0.1"}
    server = subprocess.Popen(cmd, cwd=box.cwd, env=env, start_new_session=True)
    try:
        start_period = float(options.get("start-period", "10s").rstrip("s"))
        deadline = time.monotonic() + start_period + 20
        passed = False
        while time.monotonic() < deadline and not passed:
            check = subprocess.run(
                healthcheck, env=env, cwd=box.cwd, capture_output=True, timeout=10
            )
            passed = check.returncode == 0
            time.sleep(0.2)
        assert passed, "the HEALTHCHECK command never passed"
        compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
        compose_check = compose["x-api"]["healthcheck"]["test"]
        assert compose_check[0] == "CMD"
        assert subprocess.run(compose_check[1:], env=env, timeout=10).returncode == 0
        answer = httpx.post(
            f"http://127.0.0.1:{port}/predict", json={"beds": 3, "baths": 2, "sqft": 1500}
        )
        assert answer.status_code == 200 and answer.json()["price"] > 0
    finally:
        os.killpg(server.pid, 15)
        server.wait(20)
    # The healthcheck fails when nothing answers, as Docker needs it to.
    assert subprocess.run(healthcheck, env=env, capture_output=True, timeout=10).returncode != 0
