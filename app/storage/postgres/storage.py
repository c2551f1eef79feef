"""The PostgreSQL engine's entry: registry, store and jobs in one database, the lock."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg

from app.storage.postgres.database import _Database, database_errors, redact
from app.storage.postgres.jobs import PostgresJobs
from app.storage.postgres.listener import FALLBACK_POLL, _Listener
from app.storage.postgres.registry import PostgresRegistry
from app.storage.postgres.schema import upgrade
from app.storage.postgres.store import PostgresStore

_FIT_LOCK = "hashtext(current_schema() || ':fit')"


class PostgresStorage:
    """The storage of a replica that shares nothing with the others but this database."""

    def __init__(
        self, url: str, *, pool_size: int = 4, connect_timeout: float = 3.0, listen: bool = False
    ) -> None:
        self.url = url
        self.db = _Database(url, pool_size, connect_timeout)
        self.registry = PostgresRegistry(self.db)
        self.store = PostgresStore(self.db)
        self.jobs = PostgresJobs(self.db)
        self.listener = _Listener(self.db) if listen else None
        self._fit_connection: psycopg.Connection[Any] | None = None

    def ensure(self) -> None:
        with database_errors(), self.db.connection() as conn:
            upgrade(conn)

    @contextlib.contextmanager
    def fit_lock(self) -> Iterator[None]:
        """An advisory lock held by a session of its own for the whole fit."""
        with database_errors():
            conn = self.db.connect(autocommit=True)
        try:
            with database_errors():
                conn.execute(f"SELECT pg_advisory_lock({_FIT_LOCK})")
            yield
        finally:
            conn.close()  # ends the session, and with it the lock

    def fit_lock_free(self) -> bool:
        with database_errors(), self.db.connection() as conn:
            row = conn.execute(f"SELECT pg_try_advisory_lock({_FIT_LOCK})").fetchone()
            if row and row[0]:
                conn.execute(f"SELECT pg_advisory_unlock({_FIT_LOCK})")
                return True
            return False

    def wait_for_change(self, timeout: float) -> bool:
        if self.listener is None:
            return True
        # Notified at once; otherwise a slow poll, in case notifications were lost.
        changed = self.listener.changed.wait(FALLBACK_POLL)
        self.listener.changed.clear()
        return changed

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        self.db.close()

    def describe(self) -> str:
        return redact(self.url)
