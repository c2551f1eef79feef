"""Model versions and the active pointer as files, each version read-only."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from app.domain.errors import Conflict, NotFound
from app.domain.kinds import Model
from app.storage.artifact import CorruptVersion, LoadedModel, prepare_version, verified_model
from app.storage.audit import activation_entry, entry, saved_entry
from app.storage.files.audit import FileAudit, audited
from app.storage.files.durable import append_line, atomic_write, fsync_dir, write_file
from app.storage.naming import (
    VERSION_PATTERN,
    actor,
    check_deletable,
    check_version_name,
    now_text,
    summary,
)
from app.storage.signing import UNSIGNED, Signer

log = logging.getLogger(__name__)


ARTIFACT = "model.joblib"

CARD = "card.json"

CHECKSUM = "model.joblib.sha256"

POINTER = "ACTIVE"

HISTORY = "activations.jsonl"

RETIRED = "RETIRED"

_FORMAT = re.compile(rb'"artifact_format":\s*(\d+)')

_STALE_STAGING_SECONDS = 3600


class FileRegistry:
    """A market's model directory: `versions/<version>/` folders and the `ACTIVE` pointer file.

    `journal`, when given, is the file where every activation appends the market's name: one
    file that serving workers poll to learn which of thousands of markets moved.
    `claim`, when given, reserves a version name across markets (False: another has it).
    `audit`, when given, is the trail each change is recorded in.
    `signer` signs each new version and checks each loaded one (see `storage.signing`).
    """

    def __init__(
        self,
        root: Path,
        market: str = "default",
        journal: Path | None = None,
        claim: Callable[[str], bool] | None = None,
        audit: FileAudit | None = None,
        signer: Signer = UNSIGNED,
    ) -> None:
        self.root = root
        self.signer = signer
        self.market = market
        self.journal = journal
        self._claim = claim
        self.audit = audit
        self.versions_dir = root / "versions"
        self.pointer = root / POINTER
        self.kept_dir = root / "kept"

    def ensure(self) -> None:
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        self._sweep_staging()
        # A removal cut short leaves a hidden folder: it stopped being a version when renamed.
        for trash in self.root.glob(".trash-*"):
            shutil.rmtree(trash, ignore_errors=True)

    def save(self, model: Model, card: dict[str, Any]) -> str:
        self.ensure()
        new = prepare_version(model, card, self.market, self.signer)
        if self._claim is not None and not self._claim(new.version):
            return self.save(model, card)  # the name is another market's: draw another
        # Assembled under a hidden name and renamed whole: a reader never sees half a version.
        staging = self.root / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            write_file(staging / ARTIFACT, new.artifact)
            card_text = json.dumps(new.card, indent=2, sort_keys=True).encode() + b"\n"
            write_file(staging / CARD, card_text)
            write_file(staging / CHECKSUM, f"{new.sha256}  {ARTIFACT}\n".encode())
            for name in (ARTIFACT, CARD, CHECKSUM):
                os.chmod(staging / name, 0o444)
            fsync_dir(staging)
            final = self.versions_dir / new.version
            saved = saved_entry(self.market, new.version, new.card)
            with audited(self.audit, saved, {"exists": str(final)}):
                # rename(2) onto an existing, non-empty folder fails: a name is never taken
                # twice.
                os.rename(staging, final)
                fsync_dir(self.versions_dir)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if (self.versions_dir / new.version).exists():
                log.info("version name %s taken meanwhile (%s); drawing another", new.version, exc)
                return self.save(model, card)
            raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info("stored model version %s", new.version)
        return new.version

    def activate(self, version: str, by: str = "", promotion: bool = False) -> str | None:
        self.load(version)
        if (self.root / RETIRED).exists():
            raise Conflict(f"market {self.market!r} is retired: it serves no version")
        previous = self.active_version()
        self.root.mkdir(parents=True, exist_ok=True)
        moved = activation_entry(self.market, version, previous, promotion, by)
        line = {"version": version, "previous": previous, "at": now_text(), "by": actor(by)}
        history = self.root / HISTORY
        check = {
            "path": str(self.pointer),
            "text": version,
            "then": {"append": str(history), "line": line},
        }
        with audited(self.audit, moved, check):
            atomic_write(self.pointer, f"{version}\n".encode())
            self.announce()
            append_line(history, json.dumps(line).encode())
        log.info("active model version is now %s (was %s)", version, previous)
        return previous

    def announce(self) -> None:
        """Tell the workers polling the journal that this market's pointer moved."""
        if self.journal is not None:
            with open(self.journal, "ab") as journal:  # one short append: never interleaved
                journal.write(f"{self.market}\n".encode())

    def active_version(self) -> str | None:
        try:
            text = self.pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return text or None

    def activations(self, limit: int = 20) -> list[dict[str, Any]]:
        if self.audit is not None:
            self.audit.settle()  # a move a crash cut short gets its line first
        try:
            lines = (self.root / HISTORY).read_text().splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in reversed(lines):
            with contextlib.suppress(ValueError):  # a line cut short by a crash
                found.append(json.loads(line))
            if len(found) >= limit:
                break
        return found

    def versions(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        return [p.name for p in self.versions_dir.iterdir() if VERSION_PATTERN.match(p.name)]

    def card(self, version: str) -> dict[str, Any]:
        folder = self._folder(version)
        try:
            card: dict[str, Any] = orjson.loads((folder / CARD).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise CorruptVersion(f"model version {version}: card unreadable ({exc})") from None
        return card

    def artifact(self, version: str) -> tuple[bytes, str]:
        folder = self._folder(version)
        try:
            artifact = (folder / ARTIFACT).read_bytes()
            expected = (folder / CHECKSUM).read_text().split()[0]
        except (OSError, IndexError) as exc:
            raise CorruptVersion(f"model version {version}: files unreadable ({exc})") from None
        return artifact, expected

    def load(self, version: str) -> LoadedModel:
        artifact, expected = self.artifact(version)
        card = self.card(version)
        return verified_model(version, artifact, expected, card, self.market, self.signer)

    def load_model(self, version: str) -> LoadedModel:
        """`load` with a card of the artifact format alone: what loading thousands needs.

        The card's thousand residual quantiles are not parsed only to be thrown away (unless
        versions are signed: the signature covers the whole card).
        """
        if self.signer.signs:
            return self.load(version)
        artifact, expected = self.artifact(version)
        try:
            text = (self._folder(version) / CARD).read_bytes()
        except OSError as exc:
            raise CorruptVersion(f"model version {version}: card unreadable ({exc})") from None
        found = _FORMAT.search(text)
        card = {"artifact_format": int(found.group(1))} if found else {}
        return verified_model(version, artifact, expected, card, self.market)

    def page(self, limit: int, before: str | None = None) -> list[dict[str, Any]]:
        names = sorted(self.versions(), reverse=True)
        if before is not None:
            names = [n for n in names if n < before]
        kept = self.kept()
        found = []
        for name in names:
            try:
                found.append(summary(self.card(name), name in kept))
            except (CorruptVersion, NotFound) as exc:  # removed meanwhile, or damaged
                log.warning("%s", exc.message)
            if len(found) == limit:
                break
        return found

    def set_kept(self, version: str, kept: bool) -> None:
        self._folder(version)
        marker = self.kept_dir / version
        marked = entry("keep" if kept else "unkeep", self.market, version, version=version)
        check = {"exists": str(marker)} if kept else {"absent": str(marker)}
        with audited(self.audit, marked, check) as change:
            if marker.exists() == kept:
                change.cancel()  # marking a kept version kept again changes nothing
            elif kept:
                self.kept_dir.mkdir(parents=True, exist_ok=True)
                marker.touch()
                fsync_dir(self.kept_dir)
            else:
                marker.unlink()
                fsync_dir(self.kept_dir)

    def kept(self) -> set[str]:
        if not self.kept_dir.is_dir():
            return set()
        return {p.name for p in self.kept_dir.iterdir() if VERSION_PATTERN.match(p.name)}

    def previous_version(self) -> str | None:
        """The version the active one replaced, from the activation history."""
        latest = self.activations(limit=1)
        active = self.active_version()
        if latest and latest[0]["version"] == active:
            previous: str | None = latest[0]["previous"]
            return previous
        return None

    def delete(self, version: str) -> None:
        folder = self._folder(version)
        check_deletable(version, self.active_version(), self.previous_version())
        # Renamed whole first: from that instant it is no version, and a crash leaves a hidden
        # folder that the next start sweeps.
        trash = self.root / f".trash-{version}-{uuid.uuid4().hex[:8]}"
        pruned = entry("prune.version", self.market, version, version=version)
        with audited(self.audit, pruned, {"absent": str(folder)}):
            os.rename(folder, trash)
            fsync_dir(self.versions_dir)
            if self.active_version() == version:  # activated at that very moment: put it back
                os.rename(trash, folder)
                fsync_dir(self.versions_dir)
                check_deletable(version, version, None)
        shutil.rmtree(trash, ignore_errors=True)
        (self.kept_dir / version).unlink(missing_ok=True)
        log.info("removed model version %s", version)

    def _folder(self, version: str) -> Path:
        check_version_name(version)
        folder = self.versions_dir / version
        if not folder.is_dir():
            raise NotFound(f"no model version {version!r}")
        return folder

    def _sweep_staging(self) -> None:
        # A crash while saving leaves a hidden staging folder; it was never visible as a version.
        cutoff = time.time() - _STALE_STAGING_SECONDS
        for path in self.root.glob(".staging-*"):
            try:
                if path.stat().st_mtime < cutoff:
                    shutil.rmtree(path, ignore_errors=True)
            except FileNotFoundError:
                pass
