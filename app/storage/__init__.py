"""Where versions, listings, jobs and the fit lock live: files, or one PostgreSQL database."""

from __future__ import annotations

from app.config import Settings
from app.storage.artifact import CorruptVersion, LoadedModel, RefusedVersion
from app.storage.interface import (
    Accepted,
    JobStore,
    ListingStore,
    Mode,
    Registry,
    Snapshot,
    Storage,
)
from app.storage.signing import BadSigningKey, signer_of

__all__ = [
    "Accepted",
    "BadSigningKey",
    "CorruptVersion",
    "JobStore",
    "ListingStore",
    "LoadedModel",
    "Mode",
    "RefusedVersion",
    "Registry",
    "Snapshot",
    "Storage",
    "open_storage",
]


def open_storage(settings: Settings, *, listen: bool = False) -> Storage:
    """The storage the settings name: PostgreSQL when `database_url` is set, else files.

    `listen` (a serving worker) also follows changes of the active version as they happen.
    With a signing key set, new versions are signed and only signed ones load (`BadSigningKey`
    when the key's setting is wrong).
    """
    signer = signer_of(settings)
    if settings.database_url is not None and settings.database_url.get_secret_value():
        from app.storage.postgres.storage import PostgresStorage

        return PostgresStorage(
            settings.database_url.get_secret_value(),
            pool_size=settings.db_pool_size,
            connect_timeout=settings.db_connect_timeout,
            listen=listen,
            signer=signer,
        )
    from app.storage.files.storage import FileStorage

    return FileStorage(settings.model_dir, settings.data_dir, signer)
