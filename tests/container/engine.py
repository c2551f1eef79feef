"""The Docker engine as the container tests drive it: the CLI with the classic builder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IMAGE = "house-price:engine-test"


def docker(*args: str, timeout: float = 60, cwd: Path | None = None) -> str:
    """Runs `docker ARGS`; its output, or a failure that quotes the engine's error."""
    run = docker_run(*args, timeout=timeout, cwd=cwd)
    assert run.returncode == 0, f"docker {' '.join(args)}: {run.stderr[-3000:]}"
    return run.stdout.strip()


def docker_run(
    *args: str, timeout: float = 60, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # The classic builder: BuildKit's Dockerfile frontend is an image, and may not be pullable.
    full_env = {**os.environ, "DOCKER_BUILDKIT": "0", **(env or {})}
    return subprocess.run(
        ["docker", *args],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd, check=False,
    )  # fmt: skip


def build(root: Path) -> None:
    """The image from the checkout, on the host's network (the build fetches packages)."""
    docker("build", "--network", "host", "--tag", IMAGE, str(root), timeout=1800)
