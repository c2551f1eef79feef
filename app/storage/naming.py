"""Names and ids that both engines make and check: versions, sets, uploads, jobs."""

from __future__ import annotations

import os
import re
import secrets
import socket
import uuid
from datetime import UTC, datetime
from typing import Any

from app.domain.errors import Conflict, NotFound
from app.domain.rules import DEFAULT_MARKET

VERSION_PATTERN = re.compile(r"^v\d{8}-\d{6}-[0-9a-f]{6}$")

SET_PATTERN = re.compile(r"^s\d{8}-\d{6}-[0-9a-f]{6}$")

BATCH_PATTERN = re.compile(r"^(\d{6})-([0-9a-f]{16})\.csv$")  # an upload: its order, SHA-256

JOB_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")

TERMINAL = frozenset({"succeeded", "failed"})


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_job(**fields: Any) -> dict[str, Any]:
    """A queued job with a fresh id, as both engines store it."""
    return {
        "job_id": uuid.uuid4().hex,
        "status": "queued",
        "created_at": now_text(),
        "attempts": 0,
        **fields,
    }


def market_of_job(job: dict[str, Any]) -> str:
    """The market a job fits (jobs made before markets fit the default one)."""
    return str(job.get("market", DEFAULT_MARKET))


def check_job_id(job_id: str) -> None:
    """404 for a name that cannot be a job's (it also keeps a client's name out of paths)."""
    if not JOB_ID_PATTERN.match(job_id):
        raise NotFound(f"no job {job_id!r}")


def new_version_name(now: datetime) -> str:
    """`v<date>-<time>-<microseconds as 5 hex digits><one random hex digit>`.

    Names sort in the order versions were made (to the microsecond, on one clock), which is what
    paging and pruning go by; the random digit sets apart two made in the same microsecond, and
    a name taken already is drawn again by the engine.
    """
    return f"v{now:%Y%m%d-%H%M%S}-{now.microsecond:05x}{secrets.randbelow(16):x}"


def new_set_name() -> str:
    return f"s{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def check_version_name(version: str) -> None:
    """404 for a name that is not a version's (it also keeps a client's name out of paths)."""
    if not VERSION_PATTERN.match(version):
        raise NotFound(f"no model version {version!r}: versions look like v20261126-231752-3f9a1c")


def batch_name(seq: int, digest: str) -> str:
    """An upload's name within its set: its order and the start of its SHA-256."""
    return f"{seq:06d}-{digest[:16]}.csv"


def summary(card: dict[str, Any], kept: bool) -> dict[str, Any]:
    """What a list of versions shows of one."""
    return {
        "version": card["version"],
        "created_at": card["created_at"],
        "n_train": card["training"]["rows"],
        "metrics": card["metrics"]["cv"],
        "kept": kept,
    }


def check_deletable(version: str, active: str | None, previous: str | None) -> None:
    """Refuse to remove the active version or the one it replaced (the rollback target)."""
    if version == active:
        raise Conflict(f"model version {version} is active: it is never removed")
    if version == previous:
        raise Conflict(
            f"model version {version} is the one the active version replaced (the rollback "
            "target): it is never removed"
        )


def actor(by: str = "") -> str:
    """Who changes something: the caller's role, this host and process."""
    return f"{by or 'service'} on {socket.gethostname()} (pid {os.getpid()})"
