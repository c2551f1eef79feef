"""The input rules, defined once: features, their limits, the level's bounds."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


FEATURES: tuple[str, str, str] = ("beds", "baths", "sqft")

TARGET = "price"

UNITS = {"beds": "$ per bedroom", "baths": "$ per bathroom", "sqft": "$ per sq ft"}

DEFAULT_LEVEL = 0.90
