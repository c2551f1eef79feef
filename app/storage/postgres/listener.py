"""A worker's LISTEN connection: told at once which market's active version moved."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import psycopg
from psycopg import sql

from app.storage.postgres.database import _Database

log = logging.getLogger(__name__)


CHANNEL_SUFFIX = "_active_version"

FALLBACK_POLL = 0.5  # seconds: a dropped notification is caught up within a second


class _Listener:
    """A thread with its own connection that LISTENs for changes of the active version."""

    def __init__(self, db: _Database) -> None:
        self.db = db
        self.changed = threading.Event()
        self._markets: set[str] = set()
        self._everything = True  # until listening, any market may have moved
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(target=self._run, name="active-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = 0.2
        failing = False  # said once per outage, not at every attempt
        while not self._stop.is_set():
            try:
                with self.db.connect(autocommit=True) as conn:
                    self._conn = conn
                    channel = conn.execute("SELECT current_schema() || %s", (CHANNEL_SUFFIX,))
                    row = channel.fetchone()
                    assert row is not None
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(row[0])))
                    self.connected.set()
                    self._note(None)  # whatever happened while not listening
                    if failing:
                        log.info("listening for model changes again")
                    failing, delay = False, 0.2
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=1.0, stop_after=1):
                            self._note(notice.payload)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                if not failing:
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc
                    log.warning("listening for model changes failed (%s); retrying", first)
                failing = True
            finally:
                self._conn = None
                self.connected.clear()
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)

    def _note(self, market: str | None) -> None:
        with self._lock:
            if market:
                self._markets.add(market)
            else:
                self._everything = True
        self.changed.set()

    def take(self) -> set[str] | None:
        """The markets notified since the last call, or None if any may have moved."""
        with self._lock:
            self.changed.clear()
            if self._everything:
                self._everything, self._markets = False, set()
                return None
            taken, self._markets = self._markets, set()
            return taken

    def drop(self) -> None:
        """Close the listening connection (as a network fault would); it reconnects itself."""
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.pgconn.finish()

    def stop(self) -> None:
        self._stop.set()
        self.drop()
        self._thread.join(timeout=5)
