"""What `/markets` shows of each market: its active version, its sales and its accuracy."""

from __future__ import annotations

from typing import Any

from app.domain.errors import NotFound
from app.storage import Storage

ACCURACY = ("median_ape", "within_10", "within_20", "coverage_90")


def summary(storage: Storage, name: str, version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A market's line in `/markets`, and its active card."""
    registry = storage.market(name).registry
    card = registry.card(version)
    newest = registry.page(1)
    cv = card.get("metrics", {}).get("cv", {})
    dates = card.get("training", {}).get("sold_at") or {}
    line = {
        "market": name,
        "active_version": version,
        "n_train": card["training"]["rows"],
        "first_sale": dates.get("first"),
        "last_sale": dates.get("last"),
        "last_fit": newest[0]["created_at"] if newest else card["created_at"],
        "accuracy": {key: cv.get(key) for key in ACCURACY},
    }
    return line, card


def page(storage: Storage, limit: int, after: str | None) -> tuple[list[dict[str, Any]], bool]:
    """Up to `limit` markets in name order from just after `after`; and whether more follow."""
    pointers = storage.pointers()
    names = sorted(n for n in pointers if after is None or n > after)
    lines = []
    for name in names[:limit]:
        try:
            lines.append(summary(storage, name, pointers[name])[0])
        except NotFound:  # retired or pruned meanwhile
            continue
    return lines, len(names) > limit


def detail(storage: Storage, name: str) -> dict[str, Any]:
    version = storage.pointers([name]).get(name)
    if version is None:
        raise NotFound(f"no market {name!r}: GET /markets lists the markets served")
    line, card = summary(storage, name, version)
    return {**line, "card": card}
