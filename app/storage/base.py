"""The storage interface: versions and the active pointer, listings, jobs, the fit lock.

Two implementations share it: files on one machine (`storage.files`) and one PostgreSQL database
for many (`storage.postgres`). What is the same for both lives here: version names, the
artifact's bytes and checksum, loading a version only after its checksum matches, and one
process's view of the active version.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import joblib
import pandas as pd

from ..errors import Conflict, NotFound, Unavailable
from ..listings import SaleDates
from ..model import ARTIFACT_FORMAT, READABLE_FORMATS, FloatArray, PriceModel

log = logging.getLogger(__name__)

Mode = Literal["append", "replace"]
VERSION_PATTERN = re.compile(r"^v\d{8}-\d{6}-[0-9a-f]{6}$")
SET_PATTERN = re.compile(r"^s\d{8}-\d{6}-[0-9a-f]{6}$")
BATCH_PATTERN = re.compile(r"^(\d{6})-([0-9a-f]{16})\.csv$")  # an upload: its order, SHA-256
JOB_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
TERMINAL = frozenset({"succeeded", "failed"})


class CorruptVersion(Conflict):
    """A version whose artifact or card is missing, unreadable or fails its checksum."""


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: PriceModel
    card: dict[str, Any]


@dataclass(frozen=True)
class Accepted:
    """What storing an upload did with it."""

    set_id: str
    batch: str
    rows: int
    duplicate: bool


@dataclass(frozen=True)
class Snapshot:
    """A training set as it stood: the set and the exact uploads (in order) it held."""

    set_id: str
    batches: tuple[str, ...]


# -- what both engines share ----------------------------------------------------------------


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


@dataclass(frozen=True)
class NewVersion:
    """A version ready to be written: its name, artifact bytes, card and checksum."""

    version: str
    created_at: datetime
    artifact: bytes
    card: dict[str, Any]
    sha256: str


def prepare_version(model: PriceModel, card: dict[str, Any]) -> NewVersion:
    now = datetime.now(UTC)
    version = new_version_name(now)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    artifact = buffer.getvalue()
    digest = hashlib.sha256(artifact).hexdigest()
    card = {
        **card,
        "artifact_format": ARTIFACT_FORMAT,
        "version": version,
        "created_at": now.isoformat(timespec="microseconds"),
        "artifact_sha256": digest,
    }
    return NewVersion(version, now, artifact, card, digest)


def verified_model(
    version: str, artifact: bytes, expected_sha256: str, card: dict[str, Any]
) -> LoadedModel:
    """Unpickle an artifact only after its SHA-256 matches the one stored with it."""
    actual = hashlib.sha256(artifact).hexdigest()
    if not secrets.compare_digest(actual, expected_sha256):
        raise CorruptVersion(
            f"model version {version}: checksum mismatch (expected {expected_sha256}, got {actual})"
        )
    if card.get("artifact_format") not in READABLE_FORMATS:
        readable = " and ".join(str(f) for f in READABLE_FORMATS)
        raise CorruptVersion(
            f"model version {version} was written in artifact format "
            f"{card.get('artifact_format', 1)}, this service reads formats {readable}: "
            "refit it with this release"
        )
    model = joblib.load(io.BytesIO(artifact))
    if not isinstance(model, PriceModel):
        raise CorruptVersion(f"model version {version}: artifact is not a PriceModel")
    return LoadedModel(version=version, model=model, card=card)


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


def newest_first(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(cards, key=lambda c: (c.get("created_at", ""), c["version"]), reverse=True)


# -- the interface --------------------------------------------------------------------------


class Registry(Protocol):
    """Immutable model versions and the pointer to the active one."""

    def save(self, model: PriceModel, card: dict[str, Any]) -> str:
        """Store a new immutable version and return its name; it is not made active."""

    def activate(self, version: str, by: str = "") -> str | None:
        """Make `version` active after checking it loads; return the previous one."""

    def active_version(self) -> str | None: ...

    def versions(self) -> list[str]: ...

    def card(self, version: str) -> dict[str, Any]: ...

    def cards(self) -> list[dict[str, Any]]:
        """The cards of all readable versions, newest first."""

    def load(self, version: str) -> LoadedModel:
        """Read a version and verify its checksum before unpickling anything."""

    def activations(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest changes of the active pointer, newest first (who, when, from, to)."""

    def artifact(self, version: str) -> tuple[bytes, str]:
        """A version's artifact bytes and stored SHA-256, unverified (for copying)."""

    def page(self, limit: int, before: str | None = None) -> list[dict[str, Any]]:
        """Up to `limit` version summaries, newest first, from just below `before` on.

        Ordered by version name (which begins with the creation time, to the microsecond): a client
        paging with the last name it saw never meets a version twice, and a version created
        meanwhile never makes it skip an older one.
        """

    def set_kept(self, version: str, kept: bool) -> None:
        """Mark a version kept (never pruned), or unmark it."""

    def kept(self) -> set[str]: ...

    def previous_version(self) -> str | None:
        """The version the active one replaced (the rollback target), if the history says."""

    def delete(self, version: str) -> None:
        """Remove a version whole, unless it is active or the one the active one replaced."""


class ListingStore(Protocol):
    """The listings models are fitted on: sets of uploads, each stored whole or not at all."""

    def current_set(self) -> str | None: ...

    def sets(self) -> list[str]: ...

    def batches(self, set_id: str) -> list[str]: ...

    def add(self, frame: pd.DataFrame, mode: Mode) -> Accepted:
        """Store checked listings durably; the same upload again is recognised, not added."""

    def add_bytes(self, payload: bytes, rows: int, mode: Mode) -> Accepted:
        """Store a checked CSV as it was sent."""

    def add_file(self, path: Path, rows: int, mode: Mode) -> Accepted:
        """Store a checked CSV file without holding it in memory."""

    def snapshot(self) -> Snapshot | None: ...

    def uploads(self) -> list[tuple[str, str]]:
        """Every stored upload as (set, batch)."""

    def delete_upload(self, set_id: str, batch: str) -> None:
        """Remove an upload whole (its set stays, even if empty)."""

    def chunks(
        self, snapshot: Snapshot, chunk_rows: int = 1_000_000, dates: SaleDates | None = None
    ) -> Iterator[FloatArray]:
        """The (m, 4) arrays of beds, baths, sqft, price of a snapshot, in order.

        `dates`, when given, gathers the first and last sale date as the chunks are read.
        """

    def read(self, snapshot: Snapshot) -> pd.DataFrame:
        """The listings of a snapshot as a table (with `sold_at` when stored)."""


class JobStore(Protocol):
    """Retrain jobs: readable from every worker of every replica."""

    def create(self, **fields: Any) -> dict[str, Any]: ...

    def get(self, job_id: str) -> dict[str, Any]: ...

    def pending(self) -> list[dict[str, Any]]:
        """Queued and running jobs, oldest first."""

    def has_pending(self) -> bool: ...

    def next_pending(self) -> dict[str, Any] | None:
        """The oldest queued or running job, claimed for the caller (who holds the fit lock)."""

    def update(self, job: dict[str, Any], **changes: Any) -> dict[str, Any]: ...

    def all(self) -> list[dict[str, Any]]:
        """Every job, oldest first (for copying a deployment)."""

    def delete(self, job_id: str) -> None:
        """Remove a finished job; a queued or running one is never removed."""


class Storage(Protocol):
    """Everything replicas share, behind one object made at start-up."""

    @property
    def registry(self) -> Registry: ...

    @property
    def store(self) -> ListingStore: ...

    @property
    def jobs(self) -> JobStore: ...

    def ensure(self) -> None:
        """Create what is missing (folders, or the schema) so the other calls can work."""

    def fit_lock(self) -> AbstractContextManager[object]:
        """Held for a whole fit: one fit at a time across every process that shares this."""

    def fit_lock_free(self) -> bool: ...

    def wait_for_change(self, timeout: float) -> bool:
        """Block up to `timeout` seconds or until the active pointer may have changed."""

    def close(self) -> None: ...

    def describe(self) -> str:
        """Where the data lives, with no secret in it (for logs and health answers)."""


class ActiveModel:
    """One process's view of the active version: follows the pointer, keeps the last good model."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.current: LoadedModel | None = None
        self.error: str | None = None

    def refresh(self) -> bool:
        """Load the version the pointer names if it is new; return whether the model changed."""
        try:
            version = self.registry.active_version()
        except OSError as exc:
            self._fail(f"cannot read the active pointer: {exc}")
            return False
        except Unavailable as exc:  # the model in memory goes on serving
            self._fail(f"cannot read the active pointer: {exc.detail}")
            return False
        if version is None:
            if self.current is None:
                self._fail("no active model version: fit one with `python -m app.train`")
            return False
        if self.current is not None and version == self.current.version:
            if self.error is not None:
                self.error = None
            return False
        try:
            loaded = self.registry.load(version)
        except Unavailable as exc:
            self._fail(f"cannot load active version {version}: {exc.detail}")
            return False
        except (CorruptVersion, NotFound) as exc:
            # Keep serving the last good model; the pointer is retried on the next check.
            self._fail(f"active version {version} refused: {exc.detail}")
            return False
        self.current = loaded
        self.error = None
        log.info("now serving model version %s", version)
        return True

    def _fail(self, message: str) -> None:
        if message != self.error:
            log.error("%s", message)
        self.error = message
