"""Model versions and the active pointer as rows, changes announced by NOTIFY."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from app.domain.errors import Conflict, NotFound
from app.domain.kinds import Model
from app.domain.rules import DEFAULT_MARKET
from app.storage.artifact import CorruptVersion, LoadedModel, prepare_version, verified_model
from app.storage.audit import activation_entry, entry, saved_entry
from app.storage.naming import (
    actor,
    check_deletable,
    check_version_name,
    summary,
)
from app.storage.postgres.audit import record
from app.storage.postgres.database import _Database, _guarded, _jsonb, database_errors
from app.storage.postgres.listener import CHANNEL_SUFFIX
from app.storage.signing import UNSIGNED, Signer

log = logging.getLogger(__name__)


class PostgresRegistry:
    """One market's versions, active pointer and history: every query names the market."""

    def __init__(
        self, db: _Database, market: str = DEFAULT_MARKET, signer: Signer = UNSIGNED
    ) -> None:
        self.db = db
        self.market = market
        self.signer = signer

    @_guarded
    def save(self, model: Model, card: dict[str, Any]) -> str:
        while True:
            new = prepare_version(model, card, self.market, self.signer)
            saved = saved_entry(self.market, new.version, new.card)
            if self.insert(new.version, new.artifact, new.sha256, new.card, saved):
                break  # else the name was taken meanwhile: draw another
        log.info("stored model version %s", new.version)
        return new.version

    def insert(
        self,
        version: str,
        artifact: bytes,
        sha256: str,
        card: dict[str, Any],
        audited: dict[str, Any] | None = None,
    ) -> bool:
        """Store a version, in one transaction with its audit entry when given (a copy has
        none); False if one of that name is there already."""
        created = datetime.fromisoformat(card["created_at"])
        with database_errors(), self.db.connection() as conn, conn.transaction():
            cursor = conn.execute(
                "INSERT INTO model_versions (version, market, created_at, sha256, card, artifact) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (version) DO NOTHING",
                (version, self.market, created, sha256, _jsonb(card), artifact),
            )
            if cursor.rowcount == 1:
                record(conn, audited)
            return cursor.rowcount == 1

    @_guarded
    def activate(self, version: str, by: str = "", promotion: bool = False) -> str | None:
        self.load(version)
        who = actor(by)
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT version FROM active_version WHERE market = %s FOR UPDATE", (self.market,)
            ).fetchone()
            previous = row[0] if row else None
            # Retiring locks the same row first: a retirement and an activation never cross.
            if conn.execute(
                "SELECT 1 FROM retired_markets WHERE market = %s", (self.market,)
            ).fetchone():
                raise Conflict(f"market {self.market!r} is retired: it serves no version")
            conn.execute(
                "INSERT INTO active_version (market, version, changed_at, changed_by) "
                "VALUES (%s, %s, now(), %s) ON CONFLICT (market) DO UPDATE "
                "SET version = EXCLUDED.version, changed_at = EXCLUDED.changed_at, "
                "changed_by = EXCLUDED.changed_by",
                (self.market, version, who),
            )
            conn.execute(
                "INSERT INTO activations (market, version, previous, changed_at, changed_by) "
                "VALUES (%s, %s, %s, now(), %s)",
                (self.market, version, previous, who),
            )
            record(conn, activation_entry(self.market, version, previous, promotion, by))
            # Delivered at commit, to every listening worker of every replica: the payload
            # names the market, so that workers reload it alone.
            conn.execute(
                "SELECT pg_notify(current_schema() || %s, %s)", (CHANNEL_SUFFIX, self.market)
            )
        log.info("market %s: active version is now %s (was %s)", self.market, version, previous)
        return previous

    @_guarded
    def active_version(self) -> str | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT version FROM active_version WHERE market = %s", (self.market,)
            ).fetchone()
        return row[0] if row else None

    @_guarded
    def activations(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT version, previous, changed_at, changed_by FROM activations "
                "WHERE market = %s ORDER BY id DESC LIMIT %s",
                (self.market, limit),
            ).fetchall()
        return [
            {"version": v, "previous": p, "at": at.isoformat(timespec="milliseconds"), "by": by}
            for v, p, at, by in rows
        ]

    @_guarded
    def versions(self) -> list[str]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT version FROM model_versions WHERE market = %s", (self.market,)
            ).fetchall()
        return [r[0] for r in rows]

    @_guarded
    def card(self, version: str) -> dict[str, Any]:
        check_version_name(version)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT card FROM model_versions WHERE version = %s AND market = %s",
                (version, self.market),
            ).fetchone()
        if row is None:
            raise NotFound(f"no model version {version!r}")
        card: dict[str, Any] = row[0]
        return card

    @_guarded
    def artifact(self, version: str) -> tuple[bytes, str]:
        check_version_name(version)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT artifact, sha256 FROM model_versions WHERE version = %s AND market = %s",
                (version, self.market),
            ).fetchone()
        if row is None:
            raise NotFound(f"no model version {version!r}")
        return bytes(row[0]), row[1]

    @_guarded
    def page(self, limit: int, before: str | None = None) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT v.version, v.card -> 'created_at', v.card -> 'training' -> 'rows', "
                "v.card -> 'metrics' -> 'cv', k.version IS NOT NULL "
                "FROM model_versions v LEFT JOIN kept_versions k ON k.version = v.version "
                "WHERE v.market = %s AND (%s::text IS NULL OR v.version < %s) "
                "ORDER BY v.version DESC LIMIT %s",
                (self.market, before, before, limit),
            ).fetchall()
        return [
            summary(
                {
                    "version": version,
                    "created_at": created,
                    "training": {"rows": n_train},
                    "metrics": {"cv": cv},
                },
                kept,
            )
            for version, created, n_train, cv, kept in rows
        ]

    @_guarded
    def set_kept(self, version: str, kept: bool) -> None:
        self.card(version)  # 404 for an unknown version
        with self.db.connection() as conn, conn.transaction():
            if kept:
                changed = conn.execute(
                    "INSERT INTO kept_versions (version) VALUES (%s) ON CONFLICT DO NOTHING",
                    (version,),
                )
            else:
                changed = conn.execute("DELETE FROM kept_versions WHERE version = %s", (version,))
            if changed.rowcount == 1:  # marking a kept version kept again changes nothing
                action = "keep" if kept else "unkeep"
                record(conn, entry(action, self.market, version, version=version))

    @_guarded
    def kept(self) -> set[str]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT k.version FROM kept_versions k JOIN model_versions v USING (version) "
                "WHERE v.market = %s",
                (self.market,),
            )
            return {r[0] for r in rows}

    @_guarded
    def previous_version(self) -> str | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT a.previous FROM activations a JOIN active_version v "
                "ON v.version = a.version AND v.market = a.market WHERE a.market = %s "
                "ORDER BY a.id DESC LIMIT 1",
                (self.market,),
            ).fetchone()
        return row[0] if row else None

    @_guarded
    def delete(self, version: str) -> None:
        check_version_name(version)
        with self.db.connection() as conn, conn.transaction():
            # The pointer's row is locked for the check and the removal: an activation waits.
            row = conn.execute(
                "SELECT version FROM active_version WHERE market = %s FOR SHARE", (self.market,)
            ).fetchone()
            active = row[0] if row else None
            latest = conn.execute(
                "SELECT version, previous FROM activations WHERE market = %s "
                "ORDER BY id DESC LIMIT 1",
                (self.market,),
            ).fetchone()
            previous = latest[1] if latest and latest[0] == active else None
            check_deletable(version, active, previous)
            deleted = conn.execute(
                "DELETE FROM model_versions WHERE version = %s AND market = %s",
                (version, self.market),
            )
            if deleted.rowcount != 1:
                raise NotFound(f"no model version {version!r}")
            record(conn, entry("prune.version", self.market, version, version=version))
        log.info("removed model version %s", version)

    @_guarded
    def load(self, version: str) -> LoadedModel:
        check_version_name(version)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT artifact, sha256, card FROM model_versions "
                "WHERE version = %s AND market = %s",
                (version, self.market),
            ).fetchone()
        if row is None:
            raise NotFound(f"no model version {version!r}")
        artifact, sha256, card = row
        if not isinstance(card, dict):
            raise CorruptVersion(f"model version {version}: card unreadable")
        return verified_model(version, bytes(artifact), sha256, card, self.market, self.signer)
