"""Market names: the rule every place that takes one checks, with the field it came in."""

from __future__ import annotations

import re

from app.domain.errors import BadInput
from app.domain.rules import MARKET_PATTERN

_NAME = re.compile(MARKET_PATTERN)

NAME_RULE = (
    "is not a market name: use 1 to 63 lowercase letters, digits and hyphens, starting with a "
    "letter or digit"
)


def is_market_name(name: object) -> bool:
    return isinstance(name, str) and _NAME.match(name) is not None


def check_market(name: str, field: str = "market") -> str:
    """`name` if it is a well-formed market name; else a 422 naming `field`."""
    if not is_market_name(name):
        raise BadInput(f"{field}: {name!r} {NAME_RULE}")
    return name
