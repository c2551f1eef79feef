"""Retrain jobs as rows, claimed with FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from app.domain.errors import Conflict, NotFound
from app.storage.audit import entry, job_entry, queued_entry
from app.storage.naming import (
    check_job_id,
    market_of_job,
    new_job,
)
from app.storage.postgres.audit import record
from app.storage.postgres.database import _Database, _guarded, _jsonb, database_errors


class PostgresJobs:
    def __init__(self, db: _Database) -> None:
        self.db = db

    @_guarded
    def create(self, **fields: Any) -> dict[str, Any]:
        job = new_job(**fields)
        queued = queued_entry(job)
        self.insert(job, queued)
        return job

    def insert(self, job: dict[str, Any], audited: dict[str, Any] | None = None) -> bool:
        """Store a job as it is, with its audit entry when given (a copy has none); False if
        it exists."""
        with database_errors(), self.db.connection() as conn, conn.transaction():
            cursor = conn.execute(
                "INSERT INTO jobs (job_id, market, status, created_at, doc) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (job_id) DO NOTHING",
                (job["job_id"], market_of_job(job), job["status"], job["created_at"], _jsonb(job)),
            )
            if cursor.rowcount == 1:
                record(conn, audited)
            return cursor.rowcount == 1

    @_guarded
    def get(self, job_id: str) -> dict[str, Any]:
        check_job_id(job_id)
        with self.db.connection() as conn:
            row = conn.execute("SELECT doc FROM jobs WHERE job_id = %s", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job {job_id!r}")
        job: dict[str, Any] = row[0]
        return job

    @_guarded
    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT doc FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at "
                "LIMIT %s",
                (limit,),
            ).fetchall()
        return [r[0] for r in rows]

    @_guarded
    def has_pending(self) -> bool:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE status IN ('queued', 'running'))"
            ).fetchone()
        return bool(row and row[0])

    @_guarded
    def next_pending(self, skip: Collection[str] = ()) -> dict[str, Any] | None:
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT doc FROM jobs WHERE status IN ('queued', 'running') "
                "AND market <> ALL(%s::text[]) ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                (list(skip),),
            ).fetchone()
        return row[0] if row else None

    @_guarded
    def update(self, job: dict[str, Any], **changes: Any) -> dict[str, Any]:
        job = {**job, **changes}
        with self.db.connection() as conn, conn.transaction():
            conn.execute(
                "UPDATE jobs SET status = %s, doc = %s WHERE job_id = %s",
                (job["status"], _jsonb(job), job["job_id"]),
            )
            record(conn, job_entry(job, market_of_job(job)))
        return job

    @_guarded
    def all(self) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            return [r[0] for r in conn.execute("SELECT doc FROM jobs ORDER BY created_at")]

    @_guarded
    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        with self.db.connection() as conn, conn.transaction():
            deleted = conn.execute(
                "DELETE FROM jobs WHERE job_id = %s AND status IN ('succeeded', 'failed')",
                (job_id,),
            )
            if deleted.rowcount == 1:
                record(conn, entry("prune.job", market_of_job(job), job_id))
        if deleted.rowcount != 1:
            raise Conflict(f"job {job_id} is {job['status']}: only finished jobs are removed")
