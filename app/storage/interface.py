"""The storage interface: markets, each with versions, an active pointer, listings and a fit lock.

A market (a town) has its own versions, active pointer, listing sets and fit lock; jobs are
shared (each names its market) and version names are unique across markets. Two implementations
share it: files on one machine (`storage.files`) and one PostgreSQL database
for many (`storage.postgres`). What is the same for both lives here: version names, the
artifact's bytes and checksum, loading a version only after its checksum matches, and one
process's view of the active version.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd

from app.domain.arrays import FloatArray
from app.domain.kinds import Model
from app.domain.sale_dates import SaleDates
from app.storage.artifact import LoadedModel
from app.storage.audit import AuditLog

Mode = Literal["append", "replace"]


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


class Registry(Protocol):
    """Immutable model versions and the pointer to the active one."""

    def save(self, model: Model, card: dict[str, Any]) -> str:
        """Store a new immutable version and return its name; it is not made active."""

    def activate(self, version: str, by: str = "", promotion: bool = False) -> str | None:
        """Make `version` active after checking it loads; return the previous one.

        `promotion`: a fit's new version, made active because the promotion gate (or a forced
        retrain) said so. The audit trail records which kind of move it was.
        """

    def active_version(self) -> str | None: ...

    def versions(self) -> list[str]: ...

    def card(self, version: str) -> dict[str, Any]: ...

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

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Queued and running jobs, oldest first (with `limit`, about the oldest `limit`)."""

    def has_pending(self) -> bool: ...

    def next_pending(self, skip: Collection[str] = ()) -> dict[str, Any] | None:
        """The oldest queued or running job of a market not in `skip` (markets whose fit lock
        another process holds)."""

    def update(self, job: dict[str, Any], **changes: Any) -> dict[str, Any]: ...

    def all(self) -> list[dict[str, Any]]:
        """Every job, oldest first (for copying a deployment)."""

    def delete(self, job_id: str) -> None:
        """Remove a finished job; a queued or running one is never removed."""


class MarketStorage(Protocol):
    """One market's versions, active pointer, listings and fit lock."""

    @property
    def name(self) -> str: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def store(self) -> ListingStore: ...

    def fit_lock(self, wait: bool = True) -> AbstractContextManager[None]:
        """Held for a whole fit: one fit of this market at a time across every process.

        Without `wait`, `Busy` at once when another process holds it.
        """

    def fit_lock_free(self) -> bool: ...

    def retired(self) -> bool: ...


class Storage(Protocol):
    """Everything replicas share, behind one object made at start-up.

    `registry` and `store` are the default market's (`market("default")`), which is where a
    deployment made before markets keeps its data.
    """

    @property
    def registry(self) -> Registry: ...

    @property
    def store(self) -> ListingStore: ...

    @property
    def jobs(self) -> JobStore: ...

    @property
    def audit(self) -> AuditLog:
        """Every change, who made it and for which request: written with the change itself."""

    def market(self, name: str) -> MarketStorage:
        """A market's storage, whether or not anything is stored in it yet."""

    def pointers(self, names: Collection[str] | None = None) -> dict[str, str]:
        """The active version of every live (fitted, not retired) market, or of those of `names`.

        One read for all of them, however many markets there are.
        """

    def load_many(self, versions: dict[str, str]) -> dict[str, LoadedModel | str]:
        """Load `{market: version}` in bulk, each checksum-verified; a failure is its reason.

        What a worker holds of thousands of markets: the models, with cards that may hold no
        more than their artifact format (`Registry.load` and `card` give the whole card).
        """

    def market_of(self, version: str) -> str:
        """The market a version belongs to (version names are unique across markets); 404."""

    def retire(self, name: str, by: str = "") -> None:
        """Stop serving a market: its pointer is withdrawn and it can be fitted no more."""

    def retired_markets(self) -> list[str]: ...

    def remove_market(self, name: str) -> None:
        """Delete a retired market's versions, listings and history, freeing its name."""

    def ensure(self) -> None:
        """Create what is missing (folders, or the schema) so the other calls can work."""

    def wait_for_change(self, timeout: float) -> set[str] | None:
        """Block up to `timeout` seconds or until an active pointer may have changed.

        The markets whose pointers may have moved, or None when any may have (look at all).
        """

    def close(self) -> None: ...

    def describe(self) -> str:
        """Where the data lives, with no secret in it (for logs and health answers)."""
