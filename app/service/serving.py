"""One process's models: the active version of every live market, each swapped when it moves."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Collection
from typing import Any

from app.domain.errors import NotFound, NotReady, ServiceError, Unavailable
from app.domain.located_model import LocatedModel
from app.domain.markets import is_market_name
from app.domain.rules import DEFAULT_LEVEL
from app.service.comps_files import CompsFiles
from app.storage.artifact import LoadedModel
from app.storage.interface import Storage

log = logging.getLogger(__name__)

FULL_MODELS = 64  # whole models of other markets kept for ranges at other levels

LOAD_BATCH = 64  # markets loaded at a time: whole models are compacted before the next batch


def _needs_comps(loaded: LoadedModel) -> bool:
    model = loaded.model
    return isinstance(model, LocatedModel) and model.needs_comps


def _batches(wanted: dict[str, str]) -> list[dict[str, str]]:
    items = list(wanted.items())
    return [dict(items[i : i + LOAD_BATCH]) for i in range(0, len(items), LOAD_BATCH)]


class ServedModels:
    """The models this process serves, one per market, loaded in bulk and reloaded per market.

    A market whose pointer names a version that cannot be loaded keeps serving its last good
    model; a retired market is dropped. `error` says why the default market serves nothing, or
    what keeps the storage from being read.

    The default market's model is held whole. Every other market's is held compact: its ranges
    at the default level only, and no card (a few hundred bytes instead of some 170 kB), so that
    thousands of markets fit in a worker. A range at another level is answered by the whole
    model, read on demand and kept among the `FULL_MODELS` most recently used.
    """

    def __init__(
        self,
        storage: Storage,
        default: str,
        level: float = DEFAULT_LEVEL,
        comps: CompsFiles | None = None,
    ) -> None:
        self.storage = storage
        self.comps = comps or CompsFiles(None)
        self.default = default
        self.level = level
        self.models: dict[str, LoadedModel] = {}
        self.refused: dict[str, str] = {}  # market: why its active version was not loaded
        self.error: str | None = None
        self._lost_at: float | None = None  # when the storage stopped answering
        self._whole: OrderedDict[str, LoadedModel] = OrderedDict()  # by version
        self._whole_lock = threading.Lock()

    @property
    def current(self) -> LoadedModel | None:
        """The default market's model."""
        return self.models.get(self.default)

    def ready(self, market: str | None, level: float) -> LoadedModel | None:
        """The model that answers `market` at `level`, if it is in memory (no storage read)."""
        held = self.models.get(self.default if market is None else market)
        if held is None or _needs_comps(held):
            return None
        if held.model.answers(level):
            return held
        return self._whole.get(held.version)

    def get(self, market: str | None, level: float | None = None) -> LoadedModel:
        """The model of `market` (the default one when None) that answers at `level` (any,
        when None); 404 or 503 with the reason."""
        name = self.default if market is None else market
        found = self.models.get(name)
        if found is not None:
            if _needs_comps(found):
                self._attach_comps(name, found)
            if level is None or found.model.answers(level):
                return found
            whole = self._whole_model(name, found.version)
            if _needs_comps(whole):
                self._attach_comps(name, whole)
            return whole
        if name == self.default:
            raise NotReady(self.error or "no model loaded yet")
        if name in self.refused:
            raise NotReady(f"market {name!r}: {self.refused[name]}")
        raise NotFound(f"no market {name!r}: GET /markets lists the markets served")

    def refresh(self, markets: Collection[str] | None = None) -> set[str]:
        """Follow the pointers of `markets` (None: of every market); return the markets changed."""
        try:
            pointers = self.storage.pointers(markets)
        except OSError as exc:
            self._fail(f"cannot read the active pointers: {exc}")
            return set()
        except Unavailable as exc:  # the models in memory go on serving
            self._lost(f"cannot read the active pointers: {exc.message}")
            return set()
        self._back()
        looked = self.models.keys() if markets is None else set(markets) & self.models.keys()
        changed = {m for m in looked if m not in pointers and m != self.default}
        for market in changed:  # retired
            del self.models[market]
            log.info("market %s is no longer served", market)
        wanted = {
            market: version
            for market, version in pointers.items()
            if is_market_name(market)
            and ((held := self.models.get(market)) is None or held.version != version)
        }
        for market in [m for m in self.refused if m in pointers and m not in wanted]:
            del self.refused[market]  # the pointer went back to the version served
        for part in _batches(wanted):
            try:
                loaded = self.storage.load_many(part)
                if self.default in loaded and not isinstance(loaded[self.default], str):
                    loaded[self.default] = self._whole_default(part[self.default])
            except Unavailable as exc:
                self._lost(f"cannot load the active versions: {exc.message}")
                return changed
            for market, found in loaded.items():
                if isinstance(found, str):  # keep serving the last good model; retried next time
                    self._refuse(market, f"active version {part[market]} refused: {found}")
                    continue
                self.models[market] = self._held(market, found)
                self.refused.pop(market, None)
                changed.add(market)
                if len(wanted) <= 10:
                    log.info("market %s: now serving model version %s", market, found.version)
        if len(wanted) > 10:
            log.info("now serving %d markets' models", len(self.models))
        if self.default in self.refused:
            self.error = self.refused[self.default]
        elif self.current is None:
            self.error = "no active model version: fit one with `python -m app.train`"
        else:
            self.error = None
        return changed

    def card(self, market: str | None, loaded: LoadedModel) -> dict[str, Any]:
        """The card of the version a market serves (read from the storage for a compact one)."""
        if loaded.card:
            return loaded.card
        return self.storage.market(market or self.default).registry.card(loaded.version)

    def _whole_model(self, market: str, version: str) -> LoadedModel:
        with self._whole_lock:
            whole = self._whole.get(version)
            if whole is not None:
                self._whole.move_to_end(version)
                return whole
        whole = self.storage.market(market).registry.load(version)
        with self._whole_lock:
            self._whole[version] = whole
            while len(self._whole) > FULL_MODELS:
                self._whole.popitem(last=False)
        return whole

    def _attach_comps(self, market: str, held: LoadedModel) -> None:
        """Give a located model its comps: this machine's pack of its version, or one packed
        by its whole model (read for a compact one) and kept for the next."""
        model = held.model
        assert isinstance(model, LocatedModel)

        def make() -> bytes:
            assert isinstance(model, LocatedModel)
            if model.holds_sales:
                return model.pack_comps()
            # A compact model's, from its whole model: read once, not kept (the pack is)
            whole = self.storage.market(market).registry.load(held.version).model
            assert isinstance(whole, LocatedModel)
            return whole.pack_comps()

        model.use_comps(self.comps.get(held.sha256, make))

    def _whole_default(self, version: str) -> LoadedModel | str:
        """The default market's model, whole and with its card (the reason if it cannot be)."""
        try:
            return self.storage.market(self.default).registry.load(version)
        except Unavailable:
            raise
        except ServiceError as exc:
            return exc.message

    def _held(self, market: str, loaded: LoadedModel) -> LoadedModel:
        """What this process keeps of a market's model (see the class)."""
        if market == self.default:
            return loaded
        compact = loaded.model.keeping([self.level])
        return LoadedModel(loaded.version, compact, card={}, sha256=loaded.sha256)

    def _refuse(self, market: str, message: str) -> None:
        if self.refused.get(market) != message:
            log.error("market %s: %s", market, message)
        self.refused[market] = message

    @property
    def lost(self) -> bool:
        """Whether the storage stopped answering the last time it was asked."""
        return self._lost_at is not None

    def _lost(self, message: str) -> None:
        """The storage stopped answering: said once, when it starts, not at every attempt."""
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            log.error("lost the storage (%s); serving the models in memory", message)
        self.error = message

    def _back(self) -> None:
        if self._lost_at is not None:
            log.warning(
                "the storage answers again, after %.1f s without it",
                time.monotonic() - self._lost_at,
            )
            self._lost_at = None

    def _fail(self, message: str) -> None:
        if message != self.error:
            log.error("%s", message)
        self.error = message
