"""The file engine's entry: a folder pair per market, shared jobs, flocks, a journal of changes.

The default market lives where a deployment made before markets keeps everything (the model
and data directories themselves); every other market in `markets/<name>/` under each.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Collection, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from app.domain.errors import Busy, Conflict, NotFound, ServiceError
from app.domain.markets import is_market_name
from app.domain.rules import DEFAULT_MARKET
from app.storage.artifact import LoadedModel
from app.storage.audit import entry
from app.storage.cache import MarketCache
from app.storage.files.audit import FileAudit, audited
from app.storage.files.durable import fsync_dir, write_file
from app.storage.files.jobs import FileJobs
from app.storage.files.registry import POINTER, RETIRED, FileRegistry
from app.storage.files.store import FileStore
from app.storage.naming import actor, check_version_name
from app.storage.signing import UNSIGNED, Signer

log = logging.getLogger(__name__)

MARKETS = "markets"

JOURNAL = "markets.log"

NAMES = "version-names"

AUDIT = "audit"  # a file per version name, holding the name of its market


class FileMarket:
    """One market's folders: its registry, listing store, fit lock and retirement marker."""

    def __init__(self, storage: FileStorage, name: str) -> None:
        self.name = name
        if name == DEFAULT_MARKET:
            self.model_dir, self.data_dir = storage.model_dir, storage.data_dir
        else:
            self.model_dir = storage.model_dir / MARKETS / name
            self.data_dir = storage.data_dir / MARKETS / name
        self.registry = FileRegistry(
            self.model_dir,
            name,
            storage.journal,
            lambda v: storage.claim(v, name),
            storage.audit,
            storage.signer,
        )
        self.store = FileStore(self.data_dir, name, storage.audit)

    @contextlib.contextmanager
    def fit_lock(self, wait: bool = True) -> Iterator[None]:
        self.model_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.model_dir / ".fit.lock"))
        try:
            lock.acquire(timeout=-1 if wait else 0)
        except Timeout:
            raise Busy(f"market {self.name!r} is being fitted by another process") from None
        try:
            yield
        finally:
            lock.release()

    def fit_lock_free(self) -> bool:
        try:
            with self.fit_lock(wait=False):
                return True
        except Busy:
            return False

    def retired(self) -> bool:
        return (self.model_dir / RETIRED).exists()


class FileStorage:
    """The embedded default: two directories, an flock per market, polling for changes."""

    def __init__(self, model_dir: Path, data_dir: Path, signer: Signer = UNSIGNED) -> None:
        self.model_dir, self.data_dir = model_dir, data_dir
        self.signer = signer
        self.journal = model_dir / JOURNAL
        self.names_dir = model_dir / NAMES
        self._markets = MarketCache(lambda name: FileMarket(self, name))
        self._journal_offset: int | None = None
        self.audit = FileAudit(model_dir / AUDIT)
        default = self.market(DEFAULT_MARKET)
        self.registry, self.store = default.registry, default.store
        self.jobs = FileJobs(data_dir, self.audit)

    def market(self, name: str) -> FileMarket:
        return self._markets.get(name)

    def _model_dir(self, name: str) -> Path:
        return self.model_dir if name == DEFAULT_MARKET else self.model_dir / MARKETS / name

    def ensure(self) -> None:
        self.registry.ensure()
        self.store.ensure()
        self.jobs.ensure()

    def markets(self) -> list[str]:
        """Every market with a folder (fitted or not, retired or not), the default first."""
        return self._names()

    def _names(self) -> list[str]:
        folder = self.model_dir / MARKETS
        others = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        others = [n for n in others if is_market_name(n)]
        return [DEFAULT_MARKET, *(n for n in others if n != DEFAULT_MARKET)]

    def pointers(self, names: Collection[str] | None = None) -> dict[str, str]:
        found = {}
        # Read from the paths, with no market objects made: thousands of markets are looked at.
        for name in self._names() if names is None else names:
            if not is_market_name(name):
                continue
            folder = self._model_dir(name)
            try:
                version = (folder / POINTER).read_text().strip()
            except FileNotFoundError:
                continue
            if version and not (folder / RETIRED).exists():
                found[name] = version
        return found

    def load_many(self, versions: dict[str, str]) -> dict[str, LoadedModel | str]:
        loaded: dict[str, LoadedModel | str] = {}
        for name, version in versions.items():
            try:
                # Not kept: one read.
                registry = FileRegistry(self._model_dir(name), name, signer=self.signer)
                loaded[name] = registry.load_model(version)
            except ServiceError as exc:
                loaded[name] = exc.message
        return loaded

    def claim(self, version: str, market: str) -> bool:
        """Reserve a version name for a market (one O_EXCL file); False if it is taken.

        A deployment made before markets has versions of the default market with no claim: a
        name is checked against the default market's folder as well.
        """
        if (self.model_dir / "versions" / version).exists():
            return False
        self.names_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.names_dir / version, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            handle.write(market)
        return True

    def market_of(self, version: str) -> str:
        check_version_name(version)
        if (self.model_dir / "versions" / version).is_dir():
            return DEFAULT_MARKET
        try:
            name = (self.names_dir / version).read_text().strip()
        except FileNotFoundError:
            name = ""
        if is_market_name(name) and (self.market(name).model_dir / "versions" / version).is_dir():
            return name
        raise NotFound(f"no model version {version!r}")

    def retire(self, name: str, by: str = "") -> None:
        market = self.market(name)
        if market.registry.active_version() is None or market.retired():
            raise NotFound(f"no market {name!r}")
        marker = market.model_dir / RETIRED
        retired = entry(
            "market.retired", name, name, by=by, active_version=market.registry.active_version()
        )
        with audited(self.audit, retired, {"exists": str(marker)}):
            write_file(marker, f"{actor(by)}\n".encode())
            fsync_dir(market.model_dir)
        market.registry.announce()
        log.info("retired market %s", name)

    def retired_markets(self) -> list[str]:
        return [n for n in self._names() if self.market(n).retired()]

    def remove_market(self, name: str) -> None:
        market = self.market(name)
        if not market.retired():
            raise Conflict(f"market {name!r} is not retired: retire it before removing its data")
        removed = entry("market.removed", name, name)
        with audited(self.audit, removed, {"absent": str(market.model_dir)}):
            for folder in (market.data_dir, market.model_dir):  # the model folder says: last
                if folder.is_dir():
                    # Renamed whole first, so a crash never leaves half a market under its name.
                    trash = folder.parent / f".trash-{name}-{uuid.uuid4().hex[:8]}"
                    os.rename(folder, trash)
                    fsync_dir(folder.parent)
                    shutil.rmtree(trash, ignore_errors=True)
        self._markets.drop(name)
        log.info("removed retired market %s", name)

    def wait_for_change(self, timeout: float) -> set[str] | None:
        time.sleep(timeout)  # files are polled
        try:
            size = self.journal.stat().st_size
        except FileNotFoundError:
            size = 0
        if self._journal_offset is None or size < self._journal_offset:
            self._journal_offset = size
            return None  # the first look (or a journal replaced): look at every market
        changed = {DEFAULT_MARKET}  # its pointer may be written by tools that do not journal
        if size > self._journal_offset:
            with open(self.journal, "rb") as journal:
                journal.seek(self._journal_offset)
                text = journal.read(size - self._journal_offset)
            cut = text.rfind(b"\n") + 1  # a line still being written is read next time
            self._journal_offset += cut
            changed.update(n for n in text[:cut].decode().split("\n") if is_market_name(n))
        return changed

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"files ({self.model_dir}, {self.data_dir})"
