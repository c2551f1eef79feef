"""The PostgreSQL schema, as numbered migrations applied in order under an advisory lock."""

from __future__ import annotations

import logging
from typing import Any

import psycopg

log = logging.getLogger(__name__)

# Each entry upgrades the schema by one version; never edit one that has shipped, add another.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE model_versions (
        version     text PRIMARY KEY,
        created_at  timestamptz NOT NULL,
        sha256      text NOT NULL,
        card        jsonb NOT NULL,
        artifact    bytea NOT NULL
    );
    CREATE TABLE active_version (
        id          boolean PRIMARY KEY DEFAULT true CHECK (id),
        version     text NOT NULL REFERENCES model_versions (version),
        changed_at  timestamptz NOT NULL,
        changed_by  text NOT NULL
    );
    CREATE TABLE activations (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        version     text NOT NULL REFERENCES model_versions (version),
        previous    text,
        changed_at  timestamptz NOT NULL,
        changed_by  text NOT NULL
    );
    CREATE TABLE listing_sets (
        id          text PRIMARY KEY,
        created_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE store_state (
        id          boolean PRIMARY KEY DEFAULT true CHECK (id),
        current_set text REFERENCES listing_sets (id)
    );
    INSERT INTO store_state (id, current_set) VALUES (true, NULL);
    CREATE TABLE uploads (
        set_id      text NOT NULL REFERENCES listing_sets (id),
        seq         integer NOT NULL,
        sha256      text NOT NULL,
        rows        bigint NOT NULL,
        first_id    bigint,
        last_id     bigint,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (set_id, seq),
        UNIQUE (set_id, sha256)
    );
    -- One row a sale, in the order it was uploaded (id); an upload's rows lie between its
    -- first_id and last_id.
    CREATE TABLE listings (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        set_id      text NOT NULL,
        seq         integer NOT NULL,
        beds        double precision NOT NULL,
        baths       double precision NOT NULL,
        sqft        double precision NOT NULL,
        price       double precision NOT NULL,
        sold_at     date
    );
    CREATE TABLE jobs (
        job_id      text PRIMARY KEY,
        status      text NOT NULL,
        created_at  text NOT NULL,
        doc         jsonb NOT NULL
    );
    CREATE INDEX jobs_pending ON jobs (created_at) WHERE status IN ('queued', 'running');
    """,
)

# Serialises migrations of one schema: two replicas starting at once never migrate twice.
_MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':migrate'))"


def current_version(conn: psycopg.Connection[Any]) -> int:
    found = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def upgrade(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply the migrations this schema lacks, in one transaction; return those applied."""
    with conn.transaction():
        conn.execute(_MIGRATION_LOCK)
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        version = current_version(conn)
        if conn.execute("SELECT count(*) FROM schema_version").fetchone() == (0,):
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        applied = []
        for number, sql in enumerate(MIGRATIONS, start=1):
            if number <= version:
                continue
            conn.execute(sql.encode())
            applied.append(number)
        if applied:
            conn.execute("UPDATE schema_version SET version = %s", (len(MIGRATIONS),))
            log.info("database schema upgraded to version %d", len(MIGRATIONS))
    return applied
