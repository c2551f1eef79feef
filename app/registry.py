"""Model versions on disk: immutable checksummed folders, the ACTIVE pointer, change detection."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from .errors import Conflict, NotFound
from .fsutil import atomic_write, fsync_dir, write_file
from .model import ARTIFACT_FORMAT, READABLE_FORMATS, PriceModel

log = logging.getLogger(__name__)

ARTIFACT = "model.joblib"
CARD = "card.json"
CHECKSUM = "model.joblib.sha256"
POINTER = "ACTIVE"
VERSION_PATTERN = re.compile(r"^v\d{8}-\d{6}-[0-9a-f]{6}$")
_STALE_STAGING_SECONDS = 3600


class CorruptVersion(Conflict):
    """A version whose files are missing, unreadable or fail their checksum."""


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: PriceModel
    card: dict[str, Any]


class Registry:
    """The model directory: `versions/<version>/` folders and the `ACTIVE` pointer file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions_dir = root / "versions"
        self.pointer = root / POINTER

    def ensure(self) -> None:
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        self._sweep_staging()

    # -- writing ---------------------------------------------------------------------------

    def save(self, model: PriceModel, card: dict[str, Any]) -> str:
        """Store a new immutable version and return its name; it is not made active."""
        self.ensure()
        now = datetime.now(UTC)
        version = f"v{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        artifact = buffer.getvalue()
        digest = hashlib.sha256(artifact).hexdigest()
        card = {
            **card,
            "artifact_format": ARTIFACT_FORMAT,
            "version": version,
            "created_at": now.isoformat(timespec="microseconds"),
            "artifact_sha256": digest,
        }
        # Assembled under a hidden name and renamed whole: a reader never sees half a version.
        staging = self.root / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            write_file(staging / ARTIFACT, artifact)
            write_file(staging / CARD, json.dumps(card, indent=2, sort_keys=True).encode() + b"\n")
            write_file(staging / CHECKSUM, f"{digest}  {ARTIFACT}\n".encode())
            for name in (ARTIFACT, CARD, CHECKSUM):
                os.chmod(staging / name, 0o444)
            fsync_dir(staging)
            os.rename(staging, self.versions_dir / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(self.versions_dir)
        log.info("stored model version %s", version)
        return version

    def activate(self, version: str) -> str | None:
        """Point ACTIVE at `version` after checking it loads; return the previous version."""
        self.load(version)
        previous = self.active_version()
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.pointer, f"{version}\n".encode())
        log.info("active model version is now %s (was %s)", version, previous)
        return previous

    # -- reading ---------------------------------------------------------------------------

    def active_version(self) -> str | None:
        try:
            text = self.pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return text or None

    def versions(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        return [p.name for p in self.versions_dir.iterdir() if VERSION_PATTERN.match(p.name)]

    def card(self, version: str) -> dict[str, Any]:
        folder = self._folder(version)
        try:
            card: dict[str, Any] = json.loads((folder / CARD).read_text())
        except (OSError, ValueError) as exc:
            raise CorruptVersion(f"model version {version}: card unreadable ({exc})") from None
        return card

    def cards(self) -> list[dict[str, Any]]:
        """The cards of all readable versions, newest first."""
        cards = []
        for version in self.versions():
            try:
                cards.append(self.card(version))
            except CorruptVersion as exc:
                log.warning("%s", exc.detail)
        return sorted(cards, key=lambda c: (c.get("created_at", ""), c["version"]), reverse=True)

    def load(self, version: str) -> LoadedModel:
        """Read a version and verify its checksum before unpickling anything."""
        folder = self._folder(version)
        try:
            artifact = (folder / ARTIFACT).read_bytes()
            expected = (folder / CHECKSUM).read_text().split()[0]
        except (OSError, IndexError) as exc:
            raise CorruptVersion(f"model version {version}: files unreadable ({exc})") from None
        actual = hashlib.sha256(artifact).hexdigest()
        if not secrets.compare_digest(actual, expected):
            raise CorruptVersion(
                f"model version {version}: checksum mismatch (expected {expected}, got {actual})"
            )
        card = self.card(version)
        if card.get("artifact_format") not in READABLE_FORMATS:
            readable = " and ".join(str(f) for f in READABLE_FORMATS)
            raise CorruptVersion(
                f"model version {version} was written in artifact format "
                f"{card.get('artifact_format', 1)}, this service reads formats {readable}: "
                "refit it with this release"
            )
        model = joblib.load(io.BytesIO(artifact))
        if not isinstance(model, PriceModel):
            raise CorruptVersion(f"model version {version}: artifact is not a PriceModel")
        return LoadedModel(version=version, model=model, card=card)

    def _folder(self, version: str) -> Path:
        # The pattern also keeps a client-supplied name from escaping the directory.
        if not VERSION_PATTERN.match(version):
            raise NotFound(
                f"no model version {version!r}: versions look like v20261126-231752-3f9a1c"
            )
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


class ActiveModel:
    """One process's view of the active version: follows the pointer, keeps the last good model."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.current: LoadedModel | None = None
        self.error: str | None = None

    def refresh(self) -> bool:
        """Load the version the pointer names if it is new; return whether the model changed."""
        try:
            version = self.registry.active_version()
        except OSError as exc:
            self._fail(f"cannot read the ACTIVE pointer: {exc}")
            return False
        if version is None:
            if self.current is None:
                self._fail("no active model version: fit one with `python -m app.train`")
            return False
        if self.current is not None and version == self.current.version:
            if self.error is not None:
                self.error = None
            return False
        try:
            loaded = self.registry.load(version)
        except (CorruptVersion, NotFound) as exc:
            # Keep serving the last good model; the pointer is retried on the next poll.
            self._fail(f"active version {version} refused: {exc.detail}")
            return False
        self.current = loaded
        self.error = None
        log.info("now serving model version %s", version)
        return True

    def _fail(self, message: str) -> None:
        if message != self.error:
            log.error("%s", message)
        self.error = message
