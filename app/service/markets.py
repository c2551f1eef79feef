"""What `/markets` shows of each market: its sales, its accuracy, and what needs attention.

The list is of the markets this process serves (the watcher keeps them within a second of the
storage), so filtering thousands of names as someone types reads nothing from the storage. The
facts of a market's line come from its active version's card, which never changes: they are read
once per version and kept. Only what can change without a new active version (the newest fit)
is read again, for the lines of the page asked for.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any, Literal

from app.domain.errors import NotFound, ServiceError
from app.service.serving import ServedModels
from app.storage import Storage

ACCURACY = ("median_ape", "within_10", "within_20", "coverage_90", "cod", "prd", "prb")
Sort = Literal[
    "market",
    "n_train",
    "first_sale",
    "last_sale",
    "fitted_at",
    "median_ape",
    "within_10",
    "within_20",
    "coverage_90",
    "cod",
    "prd",
]
# Poor accuracy: half of the estimates are off by more than this share of the sale price.
POOR_MEDIAN_APE = 0.20
# Old sales: the newest sale a market was fitted on is older than this.
OLD_SALES_DAYS = 180
CONCERNS = {
    "poor_accuracy": f"half of the estimates are off by more than {POOR_MEDIAN_APE:.0%} of the "
    "sale price (cross-validated)",
    "old_sales": f"the newest sale it was fitted on is more than {OLD_SALES_DAYS} days old",
    "no_sale_dates": "its sales carry no dates, so their age is unknown",
}


def facts(card: dict[str, Any]) -> dict[str, Any]:
    """What a line shows of a version's card."""
    metrics = card.get("metrics", {})
    cv, newest = metrics.get("cv", {}), metrics.get("out_of_time")
    dates = card.get("training", {}).get("sold_at") or {}
    return {
        "n_train": card["training"]["rows"],
        "first_sale": dates.get("first"),
        "last_sale": dates.get("last"),
        "fitted_at": card["created_at"],
        "accuracy": {key: cv.get(key) for key in ACCURACY},
        "out_of_time": None if newest is None else {key: newest.get(key) for key in ACCURACY},
    }


def concerns(line: dict[str, Any], today: date) -> list[str]:
    """What needs attention in a market, as the keys of `CONCERNS`."""
    found = []
    median = line["accuracy"]["median_ape"]
    if median is not None and median > POOR_MEDIAN_APE:
        found.append("poor_accuracy")
    if line["last_sale"] is None:
        found.append("no_sale_dates")
    elif (today - date.fromisoformat(line["last_sale"])).days > OLD_SALES_DAYS:
        found.append("old_sales")
    return found


def ordered(lines: list[dict[str, Any]], sort: str, descending: bool) -> list[dict[str, Any]]:
    """Lines by a column (ties by name), the markets without that figure last."""

    def value(line: dict[str, Any]) -> Any:
        return line["accuracy"][sort] if sort in ACCURACY else line[sort]

    by_name = sorted(lines, key=lambda line: line["market"])
    present = [line for line in by_name if value(line) is not None]
    missing = [line for line in by_name if value(line) is None]
    # A stable sort, reversed or not, keeps equal figures in name order.
    return sorted(present, key=value, reverse=descending) + missing


class MarketTable:
    """The lines of `/markets`: filtered by name, sorted by any column, a page at a time."""

    def __init__(self, storage: Storage, served: ServedModels) -> None:
        self.storage = storage
        self.served = served
        self._facts: dict[str, dict[str, Any]] = {}  # by version
        self._lock = threading.Lock()

    def page(
        self,
        contains: str = "",
        sort: str = "market",
        descending: bool = False,
        limit: int = 100,
        offset: int = 0,
        after: str | None = None,
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """The lines of one page, how many markets match in all, and whether more follow.

        By name, the page starts after the market `after` (a page token that holds however
        markets come and go); by any other column, at `offset` in that order.
        """
        versions = self._served(contains.lower())
        if sort == "market":
            names = sorted(versions, reverse=descending)
            total = len(names)
            if after is not None:
                names = [n for n in names if (n < after if descending else n > after)]
            chosen = [self._line(n, versions[n]) for n in names[:limit]]
            lines = [line for line in chosen if line is not None]
            more = len(names) > limit
        else:
            every = [self._line(n, v) for n, v in versions.items()]
            matched = ordered([x for x in every if x is not None], sort, descending)
            total = len(matched)
            lines = matched[offset : offset + limit]
            more = offset + limit < total
        return [self._finished(line) for line in lines], total, more

    def detail(self, name: str) -> dict[str, Any]:
        """One market's line, read from the storage, and its active card."""
        version = self.storage.pointers([name]).get(name)
        if version is None:
            raise NotFound(f"no market {name!r}: GET /markets lists the markets served")
        card = self.storage.market(name).registry.card(version)
        line = {"market": name, "active_version": version, **facts(card)}
        return {**self._finished(line), "card": card}

    def _served(self, contains: str) -> dict[str, str]:
        """Every market this process serves (or was told to and could not) whose name matches."""
        versions = {
            name: loaded.version
            for name, loaded in list(self.served.models.items())
            if contains in name
        }
        refused = [n for n in list(self.served.refused) if n not in versions and contains in n]
        if refused:
            versions.update(self.storage.pointers(refused))
        return versions

    def _line(self, name: str, version: str) -> dict[str, Any] | None:
        try:
            found = self._facts_of(name, version)
        except ServiceError:  # pruned or retired meanwhile, or damaged: not listed
            return None
        return {"market": name, "active_version": version, **found}

    def _facts_of(self, name: str, version: str) -> dict[str, Any]:
        """A version's facts: read from its card once, then kept (a card never changes)."""
        found = self._facts.get(version)
        if found is None:
            found = facts(self.storage.market(name).registry.card(version))
            with self._lock:
                if len(self._facts) > 2 * len(self.served.models) + 1000:
                    live = {m.version for m in self.served.models.values()}
                    self._facts = {v: f for v, f in self._facts.items() if v in live}
                self._facts[version] = found
        return found

    def _finished(self, line: dict[str, Any]) -> dict[str, Any]:
        """A line with what may change without a new active version: the newest fit, readiness."""
        name = line["market"]
        loaded = self.served.models.get(name)
        return {
            **line,
            "last_fit": self._last_fit(name, line),
            "ready": loaded is not None and loaded.version == line["active_version"],
            "concerns": concerns(line, datetime.now(UTC).date()),
        }

    def _last_fit(self, name: str, line: dict[str, Any]) -> str:
        """When the market's newest version was made (version names sort in that order)."""
        try:
            newest = max(self.storage.market(name).registry.versions(), default=None)
            if newest is None or newest == line["active_version"]:
                return str(line["fitted_at"])
            return str(self._facts_of(name, newest)["fitted_at"])
        except ServiceError:  # removed meanwhile: the active version's time
            return str(line["fitted_at"])
