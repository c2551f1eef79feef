"""The PostgreSQL engine's entry: every market's registry and store, jobs, the fit locks."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Iterator

import psycopg

from app.domain.errors import Busy, Conflict, NotFound, ServiceError, Unavailable
from app.domain.rules import DEFAULT_MARKET
from app.storage.artifact import CorruptVersion, LoadedModel, verified_model
from app.storage.audit import entry
from app.storage.cache import MarketCache
from app.storage.naming import actor, check_version_name
from app.storage.postgres.audit import PostgresAudit, record
from app.storage.postgres.database import _Database, _guarded, database_errors, redact
from app.storage.postgres.jobs import PostgresJobs
from app.storage.postgres.listener import CHANNEL_SUFFIX, FALLBACK_POLL, _Listener
from app.storage.postgres.registry import PostgresRegistry
from app.storage.postgres.schema import upgrade
from app.storage.postgres.store import PostgresStore
from app.storage.signing import UNSIGNED, Signer

log = logging.getLogger(__name__)

_FORMAT_ONLY = "jsonb_build_object('artifact_format', card -> 'artifact_format') "


def _fit_lock_key(market: str) -> str:
    # The default market keeps the key a deployment made before markets used.
    suffix = ":fit" if market == DEFAULT_MARKET else f":fit:{market}"
    return f"hashtext(current_schema() || '{suffix}')"  # market names hold no quote


class PostgresMarket:
    """One market's registry and listing store, and its fit lock (an advisory lock)."""

    def __init__(self, db: _Database, name: str, signer: Signer = UNSIGNED) -> None:
        self.name = name
        self.db = db
        self.registry = PostgresRegistry(db, name, signer)
        self.store = PostgresStore(db, name)
        self._key = _fit_lock_key(name)

    @contextlib.contextmanager
    def fit_lock(self, wait: bool = True) -> Iterator[None]:
        """An advisory lock held by a session of its own for the whole fit."""
        with database_errors():
            conn = self.db.connect(autocommit=True)
        try:
            with database_errors():
                if wait:
                    conn.execute(f"SELECT pg_advisory_lock({self._key})")
                else:
                    row = conn.execute(f"SELECT pg_try_advisory_lock({self._key})").fetchone()
                    if not (row and row[0]):
                        raise Busy(f"market {self.name!r} is being fitted by another process")
            yield
        finally:
            # Released before the session ends: a session's end is not waited for, and the
            # next look at the lock must find it free. A lost connection has freed it anyway.
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock_all()")
            conn.close()  # ends the session, and with it the lock

    def fit_lock_free(self) -> bool:
        with database_errors(), self.db.connection() as conn:
            row = conn.execute(f"SELECT pg_try_advisory_lock({self._key})").fetchone()
            if row and row[0]:
                conn.execute(f"SELECT pg_advisory_unlock({self._key})")
                return True
            return False

    def retired(self) -> bool:
        with database_errors(), self.db.connection() as conn:
            row = conn.execute(
                "SELECT 1 FROM retired_markets WHERE market = %s", (self.name,)
            ).fetchone()
        return row is not None


class PostgresStorage:
    """The storage of a replica that shares nothing with the others but this database."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 4,
        connect_timeout: float = 3.0,
        listen: bool = False,
        signer: Signer = UNSIGNED,
    ) -> None:
        self.url = url
        self.signer = signer
        self.db = _Database(url, pool_size, connect_timeout)
        self._markets = MarketCache(lambda name: PostgresMarket(self.db, name, signer))
        default = self.market(DEFAULT_MARKET)
        self.registry, self.store = default.registry, default.store
        self.jobs = PostgresJobs(self.db)
        self.audit = PostgresAudit(self.db)
        self.listener = _Listener(self.db) if listen else None
        self._last_fingerprint: tuple[object, ...] | None = None

    def market(self, name: str) -> PostgresMarket:
        return self._markets.get(name)

    def ensure(self) -> None:
        with database_errors(), self.db.connection() as conn:
            upgrade(conn)

    @_guarded
    def pointers(self, names: Collection[str] | None = None) -> dict[str, str]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT a.market, a.version FROM active_version a "
                "WHERE (%s::text[] IS NULL OR a.market = ANY(%s::text[])) AND NOT EXISTS "
                "(SELECT 1 FROM retired_markets r WHERE r.market = a.market)",
                (None if names is None else list(names),) * 2,
            ).fetchall()
        return dict(rows)

    @_guarded
    def load_many(self, versions: dict[str, str]) -> dict[str, LoadedModel | str]:
        # Binary: artifacts come as their bytes, not as hex text of twice the size.
        with self.db.connection() as conn, conn.cursor(binary=True) as cursor:
            rows = cursor.execute(
                # The card's artifact format alone, unless versions are signed: the signature
                # covers the whole card.
                "SELECT market, version, artifact, sha256, "
                + ("card " if self.signer.signs else _FORMAT_ONLY)
                + "FROM model_versions "
                "WHERE version = ANY(%s::text[])",
                (list(versions.values()),),
            ).fetchall()
        loaded: dict[str, LoadedModel | str] = {
            name: f"no model version {version!r}" for name, version in versions.items()
        }
        for market, version, artifact, sha256, card in rows:
            if versions.get(market) != version:
                continue
            try:
                if not isinstance(card, dict):
                    raise CorruptVersion(f"model version {version}: card unreadable")
                loaded[market] = verified_model(
                    version, bytes(artifact), sha256, card, market, self.signer
                )
            except ServiceError as exc:
                loaded[market] = exc.message
        return loaded

    @_guarded
    def market_of(self, version: str) -> str:
        check_version_name(version)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT market FROM model_versions WHERE version = %s", (version,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no model version {version!r}")
        return str(row[0])

    @_guarded
    def retire(self, name: str, by: str = "") -> None:
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT version FROM active_version WHERE market = %s FOR UPDATE", (name,)
            ).fetchone()
            done = conn.execute(
                "INSERT INTO retired_markets (market, retired_by) VALUES (%s, %s) "
                "ON CONFLICT (market) DO NOTHING",
                (name, actor(by)),
            )
            if row is None or done.rowcount != 1:
                raise NotFound(f"no market {name!r}")
            record(conn, entry("market.retired", name, name, by=by, active_version=row[0]))
            conn.execute("SELECT pg_notify(current_schema() || %s, %s)", (CHANNEL_SUFFIX, name))
        log.info("retired market %s", name)

    @_guarded
    def retired_markets(self) -> list[str]:
        with self.db.connection() as conn:
            rows = conn.execute("SELECT market FROM retired_markets ORDER BY market").fetchall()
        return [r[0] for r in rows]

    @_guarded
    def remove_market(self, name: str) -> None:
        with self.db.connection() as conn, conn.transaction():
            if not conn.execute(
                "SELECT 1 FROM retired_markets WHERE market = %s FOR UPDATE", (name,)
            ).fetchone():
                raise Conflict(f"market {name!r} is not retired: retire it before removing it")
            conn.execute("DELETE FROM active_version WHERE market = %s", (name,))
            conn.execute("DELETE FROM activations WHERE market = %s", (name,))
            conn.execute("DELETE FROM model_versions WHERE market = %s", (name,))
            conn.execute("DELETE FROM store_state WHERE market = %s", (name,))
            conn.execute(
                "DELETE FROM uploads WHERE set_id IN "
                "(SELECT id FROM listing_sets WHERE market = %s)",
                (name,),
            )
            conn.execute("DELETE FROM listing_sets WHERE market = %s", (name,))
            conn.execute("DELETE FROM retired_markets WHERE market = %s", (name,))
            record(conn, entry("market.removed", name, name))
        self._markets.drop(name)
        log.info("removed retired market %s", name)

    def wait_for_change(self, timeout: float) -> set[str] | None:
        if self.listener is None:
            return None
        if self.listener.changed.wait(FALLBACK_POLL):
            return self.listener.take()
        # No notification: a slow poll of one fingerprint of every pointer, in case one was
        # lost. Reading every pointer of thousands of markets twice a second would cost each
        # worker more than the estimates it serves.
        try:
            fingerprint = self._fingerprint()
        except Unavailable:
            return None  # the reload says what is wrong, and keeps what is served
        if fingerprint == self._last_fingerprint:
            return set()
        self._last_fingerprint = fingerprint
        return None

    @_guarded
    def _fingerprint(self) -> tuple[object, ...]:
        """Changes whenever a pointer moves or a market is retired or removed."""
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM active_version), "
                "(SELECT max(changed_at) FROM active_version), "
                "(SELECT count(*) FROM retired_markets), "
                "(SELECT max(retired_at) FROM retired_markets)"
            ).fetchone()
        return tuple(row or ())

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        self.db.close()

    def describe(self) -> str:
        return redact(self.url)
