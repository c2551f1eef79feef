"""The audit trail as rows, each inserted by the transaction of the change it records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Unpack

import psycopg

from app.storage.audit import FIELDS, AuditFilter, public
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


# An entry's names of what `_COLUMNS` holds, in their order.
_STORED = ("uid", *FIELDS[1:])


def _values(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (*(entry[name] for name in _STORED[:-1]), _jsonb(entry["detail"]))


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    found = dict(zip(("id", *_STORED), row, strict=True))
    found["at"] = found["at"].isoformat(timespec="milliseconds")
    return found


class PostgresAudit:
    """Reads the `audit` table; the engine's changes write it (`record`)."""

    def __init__(self, db: _Database) -> None:
        self.db = db

    @_guarded
    def page(
        self, limit: int, before: int | None = None, **where: Unpack[AuditFilter]
    ) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            rows = conn.execute(
                f"SELECT id, {_COLUMNS} FROM audit WHERE (%s::bigint IS NULL OR id < %s) "
                "AND (%s::text IS NULL OR action = %s) AND (%s::text IS NULL OR version = %s) "
                "AND (%s::text IS NULL OR market = %s) ORDER BY id DESC LIMIT %s",
                (
                    before,
                    before,
                    *_twice(where.get(n) for n in ("action", "version", "market")),
                    limit,
                ),
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


def _twice(values: Iterable[object]) -> list[object]:
    """Each value twice, for a `(%s IS NULL OR column = %s)` filter."""
    return [value for value in values for value in (value, value)]
