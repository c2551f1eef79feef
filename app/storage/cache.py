"""Each market's storage object, made once a name and kept for the names asked most lately."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from app.domain.errors import NotFound
from app.domain.markets import is_market_name
from app.domain.rules import DEFAULT_MARKET

M = TypeVar("M")

LIMIT = 1000  # a cache, not a record of every name ever asked


class MarketCache(Generic[M]):
    """`get(name)` makes a market's object on first asking (a bad name is NotFound); past
    `LIMIT` names, all but the default market's are dropped and made again when asked."""

    def __init__(self, make: Callable[[str], M]) -> None:
        self._make = make
        self._found: dict[str, M] = {}

    def get(self, name: str) -> M:
        found = self._found.get(name)
        if found is None:
            if not is_market_name(name):
                raise NotFound(f"no market {name!r}")
            if len(self._found) > LIMIT:
                default = self._found.get(DEFAULT_MARKET)
                self._found = {} if default is None else {DEFAULT_MARKET: default}
            found = self._found[name] = self._make(name)
        return found

    def drop(self, name: str) -> None:
        self._found.pop(name, None)
