"""One process's view of the active version: loaded once, swapped when it moves."""

from __future__ import annotations

import logging

from app.domain.errors import NotFound, Unavailable
from app.storage.artifact import CorruptVersion, LoadedModel
from app.storage.interface import Registry

log = logging.getLogger(__name__)


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
            self._fail(f"cannot read the active pointer: {exc}")
            return False
        except Unavailable as exc:  # the model in memory goes on serving
            self._fail(f"cannot read the active pointer: {exc.message}")
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
        except Unavailable as exc:
            self._fail(f"cannot load active version {version}: {exc.message}")
            return False
        except (CorruptVersion, NotFound) as exc:
            # Keep serving the last good model; the pointer is retried on the next check.
            self._fail(f"active version {version} refused: {exc.message}")
            return False
        self.current = loaded
        self.error = None
        log.info("now serving model version %s", version)
        return True

    def _fail(self, message: str) -> None:
        if message != self.error:
            log.error("%s", message)
        self.error = message
