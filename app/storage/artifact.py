"""The artifact format: a model's bytes and checksum, loaded only once verified."""

from __future__ import annotations

import hashlib
import io
import pickle
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.domain.calibration import Calibration
from app.domain.errors import Conflict
from app.domain.kinds import MODEL_CLASSES, Model
from app.domain.located_model import LocatedModel
from app.domain.model import ARTIFACT_FORMAT, READABLE_FORMATS, PriceModel
from app.storage.naming import new_version_name
from app.storage.signing import UNSIGNED, Signer

# joblib's own protocol: a model holds numbers in tuples, no arrays, so `joblib.dump` writes the
# plain pickle `pickle.dumps` does at this protocol, byte for byte (a test holds them equal), and
# `joblib.load` reads it; the service reads it with its own unpickler, which admits nothing else.
PICKLE_PROTOCOL = 4

# What an artifact may name: the model's own classes, under the names every release wrote them
# with (formats 3 and 4 were written when the domain lived in `app.model`). A pickle names each
# class it holds, and unpickling calls whatever it names; any other name is refused before
# anything is called, so a planted artifact cannot run code however its checksum was forged.
# Every other thing a model holds (floats, strings, tuples, dicts, bytes) needs no name at all.
_CLASSES: dict[tuple[str, str], type] = {
    (module, cls.__name__): cls
    for cls, modules in (
        (PriceModel, ("app.domain.model", "app.model")),
        (Calibration, ("app.domain.calibration", "app.model")),
        (LocatedModel, ("app.domain.located_model",)),
    )
    for module in modules
}


class RefusedName(pickle.UnpicklingError):
    """An artifact names something no model holds."""

    def __init__(self, module: str, name: str) -> None:
        self.what = f"{module}.{name}"
        super().__init__(f"the artifact names `{self.what}`, which no model holds")


class _ModelUnpickler(pickle.Unpickler):
    """Unpickles the model's classes and plain data; every other name is refused."""

    def find_class(self, module: str, name: str) -> Any:
        found = _CLASSES.get((module, name))
        if found is None:
            raise RefusedName(module, name)
        return found


def model_of(artifact: bytes) -> Any:
    """What an artifact holds, constructing nothing but the model's classes and plain data."""
    return _ModelUnpickler(io.BytesIO(artifact)).load()


class CorruptVersion(Conflict):
    """A version whose artifact or card is missing, unreadable or fails its checksum."""


class RefusedVersion(CorruptVersion):
    """A version that may not be loaded: its artifact names what no model holds, or its
    signature is missing or wrong where versions are signed."""


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: Model
    card: dict[str, Any]
    sha256: str = ""  # the artifact's checksum: what names the version's packed comps


@dataclass(frozen=True)
class NewVersion:
    """A version ready to be written: its name, artifact bytes, card and checksum."""

    version: str
    created_at: datetime
    artifact: bytes
    card: dict[str, Any]
    sha256: str


def prepare_version(
    model: Model, card: dict[str, Any], market: str, signer: Signer = UNSIGNED
) -> NewVersion:
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
    card = signer.sign((market, version), artifact, card)
    return NewVersion(version, now, artifact, card, digest)


def verified_model(
    version: str,
    artifact: bytes,
    expected_sha256: str,
    card: dict[str, Any],
    market: str,
    signer: Signer = UNSIGNED,
) -> LoadedModel:
    """Unpickle an artifact only after its SHA-256 matches the one stored with it and, where
    versions are signed, its signature the key; and then only the model's own classes."""
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
    refusal = signer.refusal((market, version), artifact, card)
    if refusal is not None:
        raise RefusedVersion(f"model version {version}: refused: {refusal}")
    try:
        model = model_of(artifact)
    except RefusedName as exc:
        raise RefusedVersion(f"model version {version}: refused: {exc}") from None
    except Exception as exc:  # a damaged pickle raises whatever its bytes lead to
        raise CorruptVersion(f"model version {version}: artifact unreadable ({exc})") from None
    if not isinstance(model, MODEL_CLASSES):
        raise CorruptVersion(f"model version {version}: artifact is not a price model")
    return LoadedModel(version=version, model=model, card=card, sha256=actual)
