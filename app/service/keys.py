"""Named API keys, each with its scopes: from the settings and a file re-read when it changes.

A key is written `name:secret`, or `name:secret:scope+scope`; entries are separated by commas
(in `HOUSE_PRICE_API_KEYS`) or lines (in the file named by `HOUSE_PRICE_API_KEYS_FILE`, where
blank lines and `#` comments are skipped). `HOUSE_PRICE_API_KEY` is the key named `default`.
The scopes are `retrain` (send sales and fit) and `admin` (change what is served: activate,
keep, force past the gate, retire a market); a key names its scopes or has both.
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
from dataclasses import dataclass

from app.config import Settings

log = logging.getLogger(__name__)

SCOPES = ("retrain", "admin")
MIN_LENGTH = 16
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class BadKeys(ValueError):
    """The keys as configured cannot be used; the message says which and why (never a secret)."""


@dataclass(frozen=True)
class Key:
    name: str
    secret: bytes
    scopes: frozenset[str]
    source: str = ""  # where it is written (a setting's name, or a file's line)


def parse(text: str, source: str, separator: str = ",") -> list[Key]:
    """The keys written in `text`; `BadKeys` naming `source` and the entry for anything else."""
    keys = []
    entries = text.split(separator) if separator == "," else text.splitlines()
    for number, raw in enumerate(entries, start=1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        where = f"{source}, entry {number}" if separator == "," else f"{source}, line {number}"
        parts = entry.split(":")
        if len(parts) not in (2, 3):
            raise BadKeys(f"{where}: write a key as name:secret or name:secret:scope+scope")
        name, secret = parts[0].strip(), parts[1].strip()
        if not _NAME.match(name):
            raise BadKeys(f"{where}: a key's name is 1 to 64 letters, digits, '_', '.' or '-'")
        if len(secret) < MIN_LENGTH:
            raise BadKeys(
                f"{where}: the key named {name!r} is {len(secret)} characters long; a key needs "
                f"at least {MIN_LENGTH}"
            )
        scopes = frozenset(SCOPES)
        if len(parts) == 3:
            scopes = frozenset(s.strip() for s in parts[2].split("+"))
            unknown = sorted(scopes - set(SCOPES))
            if unknown or not scopes:
                raise BadKeys(
                    f"{where}: the key named {name!r} has the scope(s) {', '.join(unknown)}; "
                    f"the scopes are {', '.join(SCOPES)}"
                )
        keys.append(Key(name, secret.encode(), scopes, where))
    return keys


def _unique(keys: list[Key]) -> list[Key]:
    seen: dict[str, Key] = {}
    for key in keys:
        if key.name in seen:
            raise BadKeys(
                f"the key name {key.name!r} is given twice ({seen[key.name].source}; "
                f"{key.source}): each key needs its own name"
            )
        seen[key.name] = key
    return keys


class Keyring:
    """Every key the service accepts now. The file's keys are re-read when the file changes, so
    a key is added or removed without a restart; a file that cannot be used then is logged and
    the keys read before stay in force."""

    def __init__(self, settings: Settings) -> None:
        fixed: list[Key] = []
        if settings.api_key is not None and settings.api_key.get_secret_value():
            fixed += parse(f"default:{settings.api_key.get_secret_value()}", "HOUSE_PRICE_API_KEY")
        if settings.api_keys is not None:
            fixed += parse(settings.api_keys.get_secret_value(), "HOUSE_PRICE_API_KEYS")
        self._fixed = fixed
        self._file = settings.api_keys_file
        self._seen: tuple[int, int] | None = None  # the file's mtime and size when read
        self._from_file: list[Key] = []
        self._lock = threading.Lock()
        self._keys = _unique(list(fixed))
        if self._file is not None:
            self._reload(strict=True)

    @property
    def configured(self) -> bool:
        return bool(self.keys())

    def keys(self) -> list[Key]:
        if self._file is not None:
            self._reload(strict=False)
        return self._keys

    def match(self, presented: str) -> Key | None:
        """The key equal to `presented`, compared in constant time with every key."""
        given = presented.encode()
        found = None
        for key in self.keys():
            if hmac.compare_digest(given, key.secret) and found is None:
                found = key
        return found

    def _reload(self, strict: bool) -> None:
        assert self._file is not None
        try:
            stat = self._file.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
            if seen == self._seen:
                return
            with self._lock:
                keys = parse(self._file.read_text(), str(self._file), separator="\n")
                self._keys = _unique(self._fixed + keys)
                self._seen = seen
                if not strict:
                    log.info("API keys read again from %s: %d keys", self._file, len(self._keys))
        except (OSError, BadKeys) as exc:
            if strict:
                raise BadKeys(f"HOUSE_PRICE_API_KEYS_FILE: {exc}") from None
            if self._seen is not None:  # say it once per change, then go on with the last keys
                log.error("API keys file not used (the keys read before stay): %s", exc)
                self._seen = None
