"""The audit trail's entries, as both engines write them: who changed what, when, and how it ended.

An entry is written by the engine in the same step as the change it records (one transaction in
PostgreSQL; under one lock with a written intent on files), so a change never lacks its entry
and an entry never describes a change that did not happen. It names the API key by its name,
never the key itself.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, Protocol, TypedDict, Unpack, get_args

from app.observability.context import KEY_NAME, REQUEST_ID, VIA
from app.storage.naming import actor, market_of_job, now_text

Action = Literal[
    "upload",
    "job.queued",
    "job.started",
    "job.ended",
    "version.saved",
    "promotion",
    "activation",
    "rollback",
    "keep",
    "unkeep",
    "prune.version",
    "prune.upload",
    "prune.job",
    "market.retired",
    "market.removed",
]
ACTIONS: tuple[str, ...] = get_args(Action)

# What an entry holds, in the order the API and `python -m app.db audit` show it.
FIELDS = (
    "id",
    "at",
    "key",
    "request_id",
    "by",
    "action",
    "market",
    "target",
    "version",
    "outcome",
    "detail",
)


def entry(
    action: str,
    market: str,
    target: str,
    *,
    version: str | None = None,
    outcome: str = "ok",
    by: str = "",
    **detail: Any,
) -> dict[str, Any]:
    """A new entry for a change made now, by the caller in this context (request or command)."""
    assert action in ACTIONS, action
    return {
        "uid": uuid.uuid4().hex,
        "at": now_text(),
        "key": KEY_NAME.get(),
        "request_id": REQUEST_ID.get(),
        "by": actor(by or VIA.get()),
        "action": action,
        "market": market,
        "target": target,
        "version": version,
        "outcome": outcome,
        "detail": detail,
    }


def activation_entry(
    market: str, version: str, previous: str | None, promotion: bool, by: str = ""
) -> dict[str, Any]:
    """A pointer's move: a fit's version made active is a promotion; an older version than the
    active one, a rollback; any other, an activation."""
    if promotion:
        action = "promotion"
    else:
        action = "rollback" if previous is not None and version < previous else "activation"
    return entry(action, market, version, version=version, by=by, previous=previous)


def saved_entry(market: str, version: str, card: dict[str, Any]) -> dict[str, Any]:
    """A version stored, with the rows and the training set it was fitted on."""
    training = card["training"]
    return entry(
        "version.saved", market, version, version=version, rows=training["rows"],
        set=training.get("set"),
    )  # fmt: skip


def queued_entry(job: dict[str, Any]) -> dict[str, Any]:
    """A retrain job queued, with the upload it fits and how."""
    return entry(
        "job.queued", market_of_job(job), job["job_id"], batch=job.get("batch"),
        force=job.get("force"), mode=job.get("mode"),
    )  # fmt: skip


def job_entry(job: dict[str, Any], market: str) -> dict[str, Any] | None:
    """The entry a job's new state calls for: started, or ended (None for other updates)."""
    if job["status"] == "running":
        return entry("job.started", market, job["job_id"], attempt=job.get("attempts"))
    if job["status"] in ("succeeded", "failed"):
        detail = {k: job[k] for k in ("promoted", "reason", "active_version") if k in job}
        return entry(
            "job.ended", market, job["job_id"], version=job.get("version"),
            outcome=job["status"], **detail,
        )  # fmt: skip
    return None


class AuditFilter(TypedDict, total=False):
    """What `AuditLog.page` may filter by: an entry's action, version or market (None: any)."""

    action: str | None
    version: str | None
    market: str | None


class AuditLog(Protocol):
    """The trail of every change, newest first; entries are only ever added."""

    def page(
        self, limit: int, before: int | None = None, **where: Unpack[AuditFilter]
    ) -> list[dict[str, Any]]:
        """Up to `limit` entries with ids below `before`, newest first, matching `where`."""

    def all(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (for copying a deployment), with its `uid`."""

    def copy_in(self, entries: list[dict[str, Any]]) -> int:
        """Add entries made elsewhere (a copy), skipping those present; how many were added."""


def public(found: dict[str, Any]) -> dict[str, Any]:
    """An entry as the API shows it: its fields in order, without the copy's `uid`."""
    return {name: found.get(name) for name in FIELDS}
