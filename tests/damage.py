"""Damaging what a storage engine holds, the way a bad disk, a stray write or a hand would."""

from __future__ import annotations

import hashlib
import json

import psycopg

from app.config import Settings
from app.storage import Storage
from app.storage.files.registry import ARTIFACT, CARD, CHECKSUM
from app.storage.files.storage import FileStorage


def damage_artifact(storage: Storage, settings: Settings, version: str) -> None:
    """Flip one byte of a stored artifact, as a bad disk or a stray write would."""
    if isinstance(storage, FileStorage):
        artifact = storage.registry.versions_dir / version / ARTIFACT
        artifact.chmod(0o644)
        data = bytearray(artifact.read_bytes())
        data[len(data) // 2] ^= 0xFF
        artifact.write_bytes(bytes(data))
        return
    with database(settings) as conn:
        conn.execute(
            "UPDATE model_versions SET artifact = set_byte(artifact, length(artifact) / 2, "
            "get_byte(artifact, length(artifact) / 2) # 255) WHERE version = %s",
            (version,),
        )


def remove_checksum(storage: Storage, settings: Settings, version: str) -> None:
    if isinstance(storage, FileStorage):
        (storage.registry.versions_dir / version / CHECKSUM).unlink()
        return
    with database(settings) as conn:
        conn.execute("UPDATE model_versions SET sha256 = '' WHERE version = %s", (version,))


def set_artifact_format(storage: Storage, settings: Settings, version: str, value: int) -> None:
    if isinstance(storage, FileStorage):
        path = storage.registry.versions_dir / version / CARD
        card = json.loads(path.read_text())
        card["artifact_format"] = value
        path.chmod(0o644)
        path.write_text(json.dumps(card))
        return
    with database(settings) as conn:
        conn.execute(
            "UPDATE model_versions SET card = jsonb_set(card, '{artifact_format}', %s::jsonb) "
            "WHERE version = %s",
            (str(value), version),
        )


def point_at(storage: Storage, settings: Settings, version: str) -> None:
    """Set the active pointer without any check, as a hand edit or a faulty tool would."""
    if isinstance(storage, FileStorage):
        storage.registry.pointer.write_text(version)
        return
    with database(settings) as conn:
        conn.execute("UPDATE active_version SET version = %s", (version,))


def database(settings: Settings) -> psycopg.Connection[object]:
    assert settings.database_url is not None
    return psycopg.connect(settings.database_url.get_secret_value(), autocommit=True)


def plant_artifact(storage: Storage, settings: Settings, version: str, artifact: bytes) -> None:
    """Put other bytes in a version's artifact with their checksum beside them, as someone who
    can write the storage would: the checksum then matches."""
    digest = hashlib.sha256(artifact).hexdigest()
    registry = storage.registry
    if isinstance(storage, FileStorage):
        folder = registry.versions_dir / version  # type: ignore[attr-defined]
        if not folder.is_dir():
            folder = next(storage.model_dir.glob(f"markets/*/versions/{version}"))
        for name, data in ((ARTIFACT, artifact), (CHECKSUM, f"{digest}  {ARTIFACT}\n".encode())):
            (folder / name).chmod(0o644)
            (folder / name).write_bytes(data)
        card = json.loads((folder / CARD).read_text())
        card["artifact_sha256"] = digest
        (folder / CARD).chmod(0o644)
        (folder / CARD).write_text(json.dumps(card))
        return
    with database(settings) as conn:
        conn.execute(
            "UPDATE model_versions SET artifact = %s, sha256 = %s, "
            "card = jsonb_set(card, '{artifact_sha256}', to_jsonb(%s::text)) WHERE version = %s",
            (artifact, digest, digest, version),
        )
