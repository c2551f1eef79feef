"""The artifact format: a model's bytes and checksum, loaded only once verified."""

from __future__ import annotations

import contextlib
import hashlib
import io
import pickle
import secrets
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.domain import model as price_model
from app.domain.errors import Conflict
from app.domain.model import ARTIFACT_FORMAT, READABLE_FORMATS, PriceModel
from app.storage.naming import new_version_name

# joblib's own protocol: a model holds numbers in tuples, no arrays, so `joblib.dump` writes the
# plain pickle `pickle.dumps` does at this protocol, byte for byte (a test holds them equal), and
# joblib (its import alone a thirtieth of a second) is needed only to read artifacts with arrays.
PICKLE_PROTOCOL = 4

# A pickle names each class by its module. Artifacts written before the domain had a folder of
# its own name `app.model`; while one is read, that name stands for the module now holding them.
_FORMER_MODULES = {"app.model": price_model}
_former_names_lock = threading.Lock()


@contextlib.contextmanager
def _former_module_names() -> Iterator[None]:
    with _former_names_lock:
        added = [name for name in _FORMER_MODULES if name not in sys.modules]
        sys.modules.update({name: _FORMER_MODULES[name] for name in added})
        try:
            yield
        finally:
            for name in added:
                del sys.modules[name]


class CorruptVersion(Conflict):
    """A version whose artifact or card is missing, unreadable or fails its checksum."""


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: PriceModel
    card: dict[str, Any]


@dataclass(frozen=True)
class NewVersion:
    """A version ready to be written: its name, artifact bytes, card and checksum."""

    version: str
    created_at: datetime
    artifact: bytes
    card: dict[str, Any]
    sha256: str


def prepare_version(model: PriceModel, card: dict[str, Any]) -> NewVersion:
    now = datetime.now(UTC)
    version = new_version_name(now)
    artifact = pickle.dumps(model, protocol=PICKLE_PROTOCOL)
    digest = hashlib.sha256(artifact).hexdigest()
    card = {
        **card,
        "artifact_format": ARTIFACT_FORMAT,
        "version": version,
        "created_at": now.isoformat(timespec="microseconds"),
        "artifact_sha256": digest,
    }
    return NewVersion(version, now, artifact, card, digest)


def verified_model(
    version: str, artifact: bytes, expected_sha256: str, card: dict[str, Any]
) -> LoadedModel:
    """Unpickle an artifact only after its SHA-256 matches the one stored with it."""
    actual = hashlib.sha256(artifact).hexdigest()
    if not secrets.compare_digest(actual, expected_sha256):
        raise CorruptVersion(
            f"model version {version}: checksum mismatch (expected {expected_sha256}, got {actual})"
        )
    if card.get("artifact_format") not in READABLE_FORMATS:
        readable = " and ".join(str(f) for f in READABLE_FORMATS)
        raise CorruptVersion(
            f"model version {version} was written in artifact format "
            f"{card.get('artifact_format', 1)}, this service reads formats {readable}: "
            "refit it with this release"
        )
    with _former_module_names():
        # A model holds numbers in tuples, no arrays: its joblib file is a plain pickle, which
        # the C unpickler reads some twenty times faster than joblib's (a worker loading
        # thousands of markets feels it). A file with joblib's array records goes to joblib.
        if b"NumpyArrayWrapper" in artifact:
            import joblib  # the records of arrays of formats before 3

            model = joblib.load(io.BytesIO(artifact))
        else:
            model = pickle.loads(artifact)
    if not isinstance(model, PriceModel):
        raise CorruptVersion(f"model version {version}: artifact is not a PriceModel")
    return LoadedModel(version=version, model=model, card=card)
