"""The PostgreSQL schema, as numbered migrations applied in order under an advisory lock."""

from __future__ import annotations

import logging
from typing import Any

import psycopg

log = logging.getLogger(__name__)


# Each entry upgrades the schema by one version; never edit one that has shipped, add another.


def _market_column(table: str, then: str = "", drop_id: bool = False) -> str:
    """SQL giving `table` a `market` column, `default` in the rows it holds; `then` a key
    (`ADD …`, altering the table) or an index (`CREATE …`) on it; `drop_id` the former key."""
    steps = [f"ALTER TABLE {table} DROP COLUMN id"] if drop_id else []
    steps += [
        f"ALTER TABLE {table} ADD COLUMN market text NOT NULL DEFAULT 'default'",
        f"ALTER TABLE {table} ALTER COLUMN market DROP DEFAULT",
    ]
    if then:
        steps.append(then if then.startswith("CREATE") else f"ALTER TABLE {table} {then}")
    return "".join(f"\n    {step};" for step in steps)


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
    -- History: it may name versions removed since (python -m app.db prune).
    CREATE TABLE activations (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        version     text NOT NULL,
        previous    text,
        changed_at  timestamptz NOT NULL,
        changed_by  text NOT NULL
    );
    CREATE TABLE kept_versions (
        version     text PRIMARY KEY REFERENCES model_versions (version) ON DELETE CASCADE,
        kept_at     timestamptz NOT NULL DEFAULT now()
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
        id          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        set_id      text NOT NULL REFERENCES listing_sets (id),
        seq         integer NOT NULL,
        sha256      text NOT NULL,
        rows        bigint NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (set_id, seq),
        UNIQUE (set_id, sha256)
    );
    -- An upload's sales, in order, a chunk of up to a million to a row: each number column is
    -- the chunk's values as little-endian IEEE 754 doubles (8 bytes each), so a fit reads a
    -- chunk as it is stored, with no per-value work on either side. Written by one COPY in the
    -- upload's transaction.
    CREATE TABLE listing_chunks (
        upload_id   bigint NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
        chunk       integer NOT NULL,
        rows        integer NOT NULL,
        beds        bytea NOT NULL,
        baths       bytea NOT NULL,
        sqft        bytea NOT NULL,
        price       bytea NOT NULL,
        sold_at     date[],
        PRIMARY KEY (upload_id, chunk),
        CHECK (length(beds) = 8 * rows AND length(baths) = 8 * rows
               AND length(sqft) = 8 * rows AND length(price) = 8 * rows)
    );
    -- Numbers do not compress: stored out of line as they are, with no time spent trying.
    ALTER TABLE listing_chunks
        ALTER beds SET STORAGE EXTERNAL, ALTER baths SET STORAGE EXTERNAL,
        ALTER sqft SET STORAGE EXTERNAL, ALTER price SET STORAGE EXTERNAL;
    -- The i-th (from 0) little-endian double of a column, decoded exactly.
    CREATE FUNCTION float8_at(b bytea, i integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$
        SELECT CASE
            WHEN e = 0 THEN (1 - 2 * sign_bit) * m * 2.0::float8 ^ (-1074)
            ELSE (1 - 2 * sign_bit) * (1 + m / 4503599627370496.0::float8)
                 * 2.0::float8 ^ (e - 1023)
        END
        FROM (
            SELECT (bits >> 63) & 1 AS sign_bit, (bits >> 52) & 2047 AS e,
                   (bits & 4503599627370495)::float8 AS m
            FROM (  -- `|` and `<<` bind alike in SQL: every shift is parenthesised
                SELECT get_byte(b, 8 * i)::bigint
                     | (get_byte(b, 8 * i + 1)::bigint << 8)
                     | (get_byte(b, 8 * i + 2)::bigint << 16)
                     | (get_byte(b, 8 * i + 3)::bigint << 24)
                     | (get_byte(b, 8 * i + 4)::bigint << 32)
                     | (get_byte(b, 8 * i + 5)::bigint << 40)
                     | (get_byte(b, 8 * i + 6)::bigint << 48)
                     | (get_byte(b, 8 * i + 7)::bigint << 56) AS bits
            ) raw
        ) parts
    $f$;
    -- One row a sale, for people and reports: SELECT * FROM listings WHERE set_id = ...
    CREATE VIEW listings AS
        SELECT u.set_id, u.seq, c.chunk, g.line,
               float8_at(c.beds, g.line) AS beds, float8_at(c.baths, g.line) AS baths,
               float8_at(c.sqft, g.line) AS sqft, float8_at(c.price, g.line) AS price,
               c.sold_at[g.line + 1] AS sold_at
        FROM listing_chunks c
        JOIN uploads u ON u.id = c.upload_id
        CROSS JOIN LATERAL generate_series(0, c.rows - 1) AS g (line);
    CREATE TABLE jobs (
        job_id      text PRIMARY KEY,
        status      text NOT NULL,
        created_at  text NOT NULL,
        doc         jsonb NOT NULL
    );
    CREATE INDEX jobs_pending ON jobs (created_at) WHERE status IN ('queued', 'running');
    """,
    # Markets: everything stored so far becomes the market `default`.
    _market_column(
        "model_versions", "CREATE INDEX model_versions_market ON model_versions (market, version)"
    )
    + _market_column("active_version", "ADD PRIMARY KEY (market)", drop_id=True)
    + _market_column("activations", "CREATE INDEX activations_market ON activations (market, id)")
    + _market_column(
        "listing_sets", "CREATE INDEX listing_sets_market ON listing_sets (market, id)"
    )
    + _market_column("store_state", "ADD PRIMARY KEY (market)", drop_id=True)
    + _market_column("jobs")
    + """
    -- A retired market serves nothing and is fitted no more; pruning then removes its data.
    CREATE TABLE retired_markets (
        market      text PRIMARY KEY,
        retired_at  timestamptz NOT NULL DEFAULT now(),
        retired_by  text NOT NULL
    );
    """,
    # The audit trail: one row per change, written in the change's own transaction.
    """
    CREATE TABLE audit (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uid         text NOT NULL UNIQUE,
        at          timestamptz NOT NULL,
        key_name    text,
        request_id  text,
        by          text NOT NULL,
        action      text NOT NULL,
        market      text NOT NULL,
        target      text NOT NULL,
        version     text,
        outcome     text NOT NULL,
        detail      jsonb NOT NULL
    );
    CREATE INDEX audit_action ON audit (action, id);
    CREATE INDEX audit_version ON audit (version, id) WHERE version IS NOT NULL;
    """,
    # Where the sales are: each chunk's areas (text[], NULL where none) and coordinates (doubles
    # as the numbers are, NaN where none); NULL columns when no sale of the chunk has them.
    """
    ALTER TABLE listing_chunks
        ADD COLUMN area text[], ADD COLUMN latitude bytea, ADD COLUMN longitude bytea;
    ALTER TABLE listing_chunks ALTER latitude SET STORAGE EXTERNAL,
        ALTER longitude SET STORAGE EXTERNAL;
    CREATE OR REPLACE VIEW listings AS
        SELECT u.set_id, u.seq, c.chunk, g.line,
               float8_at(c.beds, g.line) AS beds, float8_at(c.baths, g.line) AS baths,
               float8_at(c.sqft, g.line) AS sqft, float8_at(c.price, g.line) AS price,
               c.sold_at[g.line + 1] AS sold_at, c.area[g.line + 1] AS area,
               float8_at(c.latitude, g.line) AS latitude,
               float8_at(c.longitude, g.line) AS longitude
        FROM listing_chunks c
        JOIN uploads u ON u.id = c.upload_id
        CROSS JOIN LATERAL generate_series(0, c.rows - 1) AS g (line);
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
