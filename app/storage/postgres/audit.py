"""The audit trail as rows, each inserted by the transaction of the change it records."""

from __future__ import annotations

from typing import Any

import psycopg

from app.storage.audit import public
from app.storage.postgres.database import _Database, _guarded, _jsonb

_COLUMNS = "uid, at, key_name, request_id, by, action, market, target, version, outcome, detail"


def record(conn: psycopg.Connection[Any], entry: dict[str, Any] | None) -> int:
    """Insert an entry on `conn`, inside the caller's transaction (nothing for None); 1 if it
    was added, 0 if one of its uid is there already."""
    if entry is None:
        return 0
    return conn.execute(
        f"INSERT INTO audit ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (uid) DO NOTHING",
        _values(entry),
    ).rowcount


def _values(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (
        entry["uid"],
        entry["at"],
        entry["key"],
        entry["request_id"],
        entry["by"],
        entry["action"],
        entry["market"],
        entry["target"],
        entry["version"],
        entry["outcome"],
        _jsonb(entry["detail"]),
    )


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    id_, uid, at, key, request_id, by, action, market, target, version, outcome, detail = row
    return {
        "id": id_,
        "uid": uid,
        "at": at.isoformat(timespec="milliseconds"),
        "key": key,
        "request_id": request_id,
        "by": by,
        "action": action,
        "market": market,
        "target": target,
        "version": version,
        "outcome": outcome,
        "detail": detail,
    }


class PostgresAudit:
    """Reads the `audit` table; the engine's changes write it (`record`)."""

    def __init__(self, db: _Database) -> None:
        self.db = db

    @_guarded
    def page(
        self,
        limit: int,
        before: int | None = None,
        *,
        action: str | None = None,
        version: str | None = None,
        market: str | None = None,
    ) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            rows = conn.execute(
                f"SELECT id, {_COLUMNS} FROM audit WHERE (%s::bigint IS NULL OR id < %s) "
                "AND (%s::text IS NULL OR action = %s) AND (%s::text IS NULL OR version = %s) "
                "AND (%s::text IS NULL OR market = %s) ORDER BY id DESC LIMIT %s",
                (before, before, action, action, version, version, market, market, limit),
            ).fetchall()
        return [public(_entry(row)) for row in rows]

    @_guarded
    def all(self) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            rows = conn.execute(f"SELECT id, {_COLUMNS} FROM audit ORDER BY id").fetchall()
        return [_entry(row) for row in rows]

    @_guarded
    def copy_in(self, entries: list[dict[str, Any]]) -> int:
        with self.db.connection() as conn, conn.transaction():
            return sum(record(conn, entry) for entry in entries)
