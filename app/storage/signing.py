"""Versions signed with the operator's key: HMAC-SHA-256 over the artifact's and the card's bytes.

A checksum stored beside an artifact tells a damaged file from a whole one, not a planted file
from a fitted one: whoever can write the one can write the other. With a signing key set, every
new version's card carries an HMAC of its artifact and of its card (without the signature),
and a version whose signature is missing or wrong is refused: a planted version of the right
format with other numbers cannot be served without the key. The card is signed in one
canonical form (its JSON with sorted keys), so a signature holds on both engines and survives
the copy between them.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import orjson

from app.config import Settings
from app.domain.errors import ServiceError

SIGNATURE = "signature"
MIN_KEY_LENGTH = 32
_DOMAIN = b"house-price model version\n"

Named = tuple[str, str]  # a version's market and name, both signed with it


class BadSigningKey(ServiceError):
    """The signing key's setting names no key, or one too short to sign with."""


class Signer:
    """Signs new versions and checks loaded ones with one key; without a key, neither."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key

    @property
    def signs(self) -> bool:
        return self._key is not None

    def sign(self, named: Named, artifact: bytes, card: dict[str, Any]) -> dict[str, Any]:
        """The card with the signature of the version (market and name), or as it is without
        a key."""
        if self._key is None:
            return card
        return {**card, SIGNATURE: self._mac(self._key, named, artifact, card)}

    def refusal(self, named: Named, artifact: bytes, card: dict[str, Any]) -> str | None:
        """Why a loaded version may not be served under this key (None: it may)."""
        if self._key is None:
            return None
        found = card.get(SIGNATURE)
        if not isinstance(found, str):
            return "it is not signed, and this deployment serves signed versions only"
        if not hmac.compare_digest(found, self._mac(self._key, named, artifact, card)):
            return (
                "its signature does not match the signing key (a version changed, planted, "
                "or moved from another name or market)"
            )
        return None

    @staticmethod
    def _mac(key: bytes, named: Named, artifact: bytes, card: dict[str, Any]) -> str:
        unsigned = {name: value for name, value in card.items() if name != SIGNATURE}
        text = orjson.dumps(unsigned, option=orjson.OPT_SORT_KEYS)
        mac = hmac.new(key, _DOMAIN, hashlib.sha256)
        for part in (named[0].encode(), named[1].encode(), artifact, text):
            mac.update(len(part).to_bytes(8, "big"))
            mac.update(part)
        return mac.hexdigest()


UNSIGNED = Signer()


def signer_of(settings: Settings) -> Signer:
    """The signer the settings name: `signing_key`, or the first line of `signing_key_file`."""
    if settings.signing_key is not None and settings.signing_key_file is not None:
        raise BadSigningKey(
            "HOUSE_PRICE_SIGNING_KEY and HOUSE_PRICE_SIGNING_KEY_FILE are both set: set one"
        )
    if settings.signing_key is not None:
        key, source = settings.signing_key.get_secret_value(), "HOUSE_PRICE_SIGNING_KEY"
    elif settings.signing_key_file is not None:
        key, source = _read_key(settings.signing_key_file), "HOUSE_PRICE_SIGNING_KEY_FILE"
    else:
        return UNSIGNED
    if len(key) < MIN_KEY_LENGTH:
        raise BadSigningKey(
            f"{source}: a signing key has at least {MIN_KEY_LENGTH} characters, this one "
            f"{len(key)} (make one with `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return Signer(key.encode())


def _read_key(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text().splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise BadSigningKey(f"HOUSE_PRICE_SIGNING_KEY_FILE: cannot read {path}: {exc}") from None
    return next((line for line in lines if line and not line.startswith("#")), "")
