"""Retention: which old versions, finished jobs and unused uploads to remove, and removing them.

The rules, for both storage engines: keep the newest N versions, the active one, the one it
replaced (the rollback target) and every version marked kept; remove jobs that finished more than
D days ago; remove uploads (only when asked) that no remaining version was fitted on, that are not
in the current training set and that no pending job will read. A version being written is not a
version yet, and a job in progress is not finished, so neither is ever touched; each removal is
whole (a folder renamed away, or one transaction), so a crash leaves every remaining version
loadable.

Each market is pruned on its own (`market`); a retired market is removed whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from app.domain.errors import Conflict, NotFound, ServiceError
from app.domain.rules import DEFAULT_MARKET
from app.storage import Storage
from app.storage.naming import TERMINAL, market_of_job


@dataclass
class Plan:
    versions: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    uploads: list[tuple[str, str]] = field(default_factory=list)
    protected: dict[str, str] = field(default_factory=dict)  # version: why it stays
    market: str = DEFAULT_MARKET
    retired: bool = False  # the market is retired: all of it goes


def plan(
    storage: Storage,
    keep: int,
    jobs_days: float | None = None,
    listings: bool = False,
    now: datetime | None = None,
    market: str = DEFAULT_MARKET,
) -> Plan:
    chosen = storage.market(market)
    if chosen.retired():
        return Plan(versions=sorted(chosen.registry.versions()), market=market, retired=True)
    registry, store = chosen.registry, chosen.store
    names = sorted(registry.versions(), reverse=True)
    why: dict[str, str] = {name: "among the newest" for name in names[:keep]}
    for name in registry.kept():
        why.setdefault(name, "marked kept")
    previous = registry.previous_version()
    if previous is not None:
        why[previous] = "replaced by the active version (the rollback target)"
    active = registry.active_version()
    if active is not None:
        why[active] = "active"
    result = Plan(versions=[n for n in names if n not in why], protected=why, market=market)
    if jobs_days is not None:
        cutoff = ((now or datetime.now(UTC)) - timedelta(days=jobs_days)).isoformat()
        result.jobs = [
            job["job_id"]
            for job in storage.jobs.all()
            if market_of_job(job) == market
            and job["status"] in TERMINAL
            and str(job.get("finished_at", "9999")) < cutoff
        ]
    if listings:
        needed: set[tuple[str, str]] = set()
        needed_sets = {store.current_set()}
        needed_sets.update(
            job.get("set") for job in storage.jobs.pending() if market_of_job(job) == market
        )
        for name in names:
            if name in why:
                training = registry.card(name).get("training", {})
                needed.update((training.get("set"), b) for b in training.get("batches", []))
        result.uploads = [
            (set_id, batch)
            for set_id, batch in store.uploads()
            if set_id not in needed_sets and (set_id, batch) not in needed
        ]
    return result


@dataclass
class Done:
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def attempt(
        self,
        what: str,
        remove: Callable[[], None],
        gone: tuple[type[ServiceError], ...] = (Conflict, NotFound),
    ) -> None:
        """Remove `what`; one of the `gone` errors means it changed meanwhile: skip it."""
        try:
            remove()
        except gone as exc:
            self.skipped.append(f"{what}: {exc.message}")
            return
        self.removed.append(what)


def carry_out(storage: Storage, chosen: Plan) -> Done:
    """Remove what the plan names; what changed meanwhile (activated, gone) is skipped."""
    done = Done()
    if chosen.retired:
        remove_market = partial(storage.remove_market, chosen.market)
        done.attempt(f"retired market {chosen.market}", remove_market)
        return done
    market = storage.market(chosen.market)
    for version in chosen.versions:
        done.attempt(f"version {version}", partial(market.registry.delete, version))
    for job_id in chosen.jobs:
        done.attempt(f"job {job_id}", partial(storage.jobs.delete, job_id))
    for set_id, batch in chosen.uploads:
        remove = partial(market.store.delete_upload, set_id, batch)
        done.attempt(f"upload {set_id}/{batch}", remove, gone=(NotFound,))
    return done
