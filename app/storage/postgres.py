"""Storage in one PostgreSQL database: replicas on many machines share nothing else.

Versions are rows (artifact bytes, card, SHA-256) written in one transaction and never updated.
The active pointer is one row, changed in a transaction that also records who changed it and
announces the change with NOTIFY; serving workers LISTEN, and poll slowly in case their
listening connection dropped. Each upload is stored with COPY in one transaction, its SHA-256
unique within its set. Jobs are rows, claimed with FOR UPDATE SKIP LOCKED; a fit holds an
advisory lock in its own session for its whole run, so a fitting process that dies releases it.
Each process holds one connection pool, at most one listening connection and, while fitting,
one more for the lock.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import Conflict, NotFound, Unavailable
from ..listings import SOLD_AT, SaleDates, check_frame, required_columns
from ..model import FloatArray, PriceModel
from .base import (
    BATCH_PATTERN,
    Accepted,
    CorruptVersion,
    LoadedModel,
    Mode,
    Snapshot,
    batch_name,
    check_deletable,
    check_job_id,
    check_version_name,
    new_job,
    new_set_name,
    newest_first,
    prepare_version,
    summary,
    verified_model,
)
from .files import actor
from .schema import upgrade

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

APPLICATION = "house-price"  # how its connections show in pg_stat_activity
# Every connection speaks UTF-8, whatever the database's own encoding: on a SQL_ASCII database
# (initdb with no locale) psycopg would otherwise send strings as bytea and return bytes.
CLIENT_ENCODING = "UTF8"
CHANNEL_SUFFIX = "_active_version"
FALLBACK_POLL = 0.5  # seconds: a dropped notification is caught up within a second
_FIT_LOCK = "hashtext(current_schema() || ':fit')"


def _jsonb(value: dict[str, Any]) -> Jsonb:
    # Characters as they are, not \u escapes: a SQL_ASCII database cannot read an escape of a
    # character beyond ASCII in jsonb, but stores and returns the UTF-8 bytes unchanged.
    return Jsonb(value, dumps=functools.partial(json.dumps, ensure_ascii=False))


def redact(url: str) -> str:
    """The database URL without its password: host, port, database and user only."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql (unparseable URL)"
    host, port = parts.get("host", "localhost"), parts.get("port", "5432")
    return f"postgresql://{parts.get('user', '')}@{host}:{port}/{parts.get('dbname', '')}"


def _unavailable(exc: BaseException) -> Unavailable:
    # psycopg's messages name host, port and user, never the password.
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Unavailable(f"the database cannot be reached now: {first}")


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """An unreachable database as a 503 the client may retry; other errors pass through."""
    try:
        yield
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise _unavailable(exc) from None


class _Database:
    """The process's connections: one pool, and connections of their own when asked."""

    def __init__(self, url: str, pool_size: int, connect_timeout: float) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self.pool = ConnectionPool(
            url,
            # A fixed number: what a replica costs the database is known in advance.
            min_size=pool_size,
            max_size=pool_size,
            kwargs={
                "connect_timeout": max(1, round(connect_timeout)),
                "application_name": APPLICATION,
                "client_encoding": CLIENT_ENCODING,
            },
            timeout=connect_timeout,
            # A connection lost in an outage is tried again with a growing delay for a minute;
            # after that the pool grows back as soon as a request waits for a connection.
            reconnect_timeout=60,
            open=False,
            name="house-price",
        )
        self.pool.open(wait=False)

    def connection(self) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]:
        return self.pool.connection()

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A connection of its own, outside the pool (a listener, or a fit's lock)."""
        return psycopg.connect(
            self.url,
            connect_timeout=max(1, round(self.connect_timeout)),
            application_name=APPLICATION,
            client_encoding=CLIENT_ENCODING,
            **kwargs,
        )

    def close(self) -> None:
        self.pool.close()


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        with database_errors():
            return method(*args, **kwargs)

    call.__name__, call.__doc__ = method.__name__, method.__doc__
    return call


class PostgresRegistry:
    def __init__(self, db: _Database) -> None:
        self.db = db

    @_guarded
    def save(self, model: PriceModel, card: dict[str, Any]) -> str:
        while True:
            new = prepare_version(model, card)
            if self.insert(new.version, new.artifact, new.sha256, new.card):
                break  # else the name was taken meanwhile: draw another
        log.info("stored model version %s", new.version)
        return new.version

    def insert(self, version: str, artifact: bytes, sha256: str, card: dict[str, Any]) -> bool:
        """Store a version, in one transaction; False if one of that name is there already."""
        created = datetime.fromisoformat(card["created_at"])
        with database_errors(), self.db.connection() as conn, conn.transaction():
            cursor = conn.execute(
                "INSERT INTO model_versions (version, created_at, sha256, card, artifact) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (version) DO NOTHING",
                (version, created, sha256, _jsonb(card), artifact),
            )
            return cursor.rowcount == 1

    @_guarded
    def activate(self, version: str, by: str = "") -> str | None:
        self.load(version)
        who = actor(by)
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute("SELECT version FROM active_version FOR UPDATE").fetchone()
            previous = row[0] if row else None
            conn.execute(
                "INSERT INTO active_version (id, version, changed_at, changed_by) "
                "VALUES (true, %s, now(), %s) ON CONFLICT (id) DO UPDATE "
                "SET version = EXCLUDED.version, changed_at = EXCLUDED.changed_at, "
                "changed_by = EXCLUDED.changed_by",
                (version, who),
            )
            conn.execute(
                "INSERT INTO activations (version, previous, changed_at, changed_by) "
                "VALUES (%s, %s, now(), %s)",
                (version, previous, who),
            )
            # Delivered at commit, to every listening worker of every replica.
            conn.execute("SELECT pg_notify(current_schema() || %s, %s)", (CHANNEL_SUFFIX, version))
        log.info("active model version is now %s (was %s)", version, previous)
        return previous

    @_guarded
    def active_version(self) -> str | None:
        with self.db.connection() as conn:
            row = conn.execute("SELECT version FROM active_version").fetchone()
        return row[0] if row else None

    @_guarded
    def activations(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT version, previous, changed_at, changed_by FROM activations "
                "ORDER BY id DESC LIMIT %s",
                (limit,),
            ).fetchall()
        return [
            {"version": v, "previous": p, "at": at.isoformat(timespec="milliseconds"), "by": by}
            for v, p, at, by in rows
        ]

    @_guarded
    def versions(self) -> list[str]:
        with self.db.connection() as conn:
            return [r[0] for r in conn.execute("SELECT version FROM model_versions").fetchall()]

    @_guarded
    def card(self, version: str) -> dict[str, Any]:
        check_version_name(version)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT card FROM model_versions WHERE version = %s", (version,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no model version {version!r}")
        card: dict[str, Any] = row[0]
        return card

    @_guarded
    def cards(self) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            rows = conn.execute("SELECT card FROM model_versions").fetchall()
        return newest_first([r[0] for r in rows])

    @_guarded
    def artifact(self, version: str) -> tuple[bytes, str]:
        check_version_name(version)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT artifact, sha256 FROM model_versions WHERE version = %s", (version,)
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
                "WHERE %s::text IS NULL OR v.version < %s "
                "ORDER BY v.version DESC LIMIT %s",
                (before, before, limit),
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
        with self.db.connection() as conn:
            if kept:
                conn.execute(
                    "INSERT INTO kept_versions (version) VALUES (%s) ON CONFLICT DO NOTHING",
                    (version,),
                )
            else:
                conn.execute("DELETE FROM kept_versions WHERE version = %s", (version,))

    @_guarded
    def kept(self) -> set[str]:
        with self.db.connection() as conn:
            return {r[0] for r in conn.execute("SELECT version FROM kept_versions")}

    @_guarded
    def previous_version(self) -> str | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT a.previous FROM activations a JOIN active_version v "
                "ON v.version = a.version ORDER BY a.id DESC LIMIT 1"
            ).fetchone()
        return row[0] if row else None

    @_guarded
    def delete(self, version: str) -> None:
        check_version_name(version)
        with self.db.connection() as conn, conn.transaction():
            # The pointer's row is locked for the check and the removal: an activation waits.
            row = conn.execute("SELECT version FROM active_version FOR SHARE").fetchone()
            active = row[0] if row else None
            latest = conn.execute(
                "SELECT version, previous FROM activations ORDER BY id DESC LIMIT 1"
            ).fetchone()
            previous = latest[1] if latest and latest[0] == active else None
            check_deletable(version, active, previous)
            deleted = conn.execute("DELETE FROM model_versions WHERE version = %s", (version,))
            if deleted.rowcount != 1:
                raise NotFound(f"no model version {version!r}")
        log.info("removed model version %s", version)

    @_guarded
    def load(self, version: str) -> LoadedModel:
        check_version_name(version)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT artifact, sha256, card FROM model_versions WHERE version = %s",
                (version,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no model version {version!r}")
        artifact, sha256, card = row
        if not isinstance(card, dict):
            raise CorruptVersion(f"model version {version}: card unreadable")
        return verified_model(version, bytes(artifact), sha256, card)


class PostgresStore:
    """Listing sets and uploads; each upload's rows are stored with one COPY."""

    def __init__(self, db: _Database) -> None:
        self.db = db

    @_guarded
    def current_set(self) -> str | None:
        with self.db.connection() as conn:
            row = conn.execute("SELECT current_set FROM store_state").fetchone()
        return row[0] if row else None

    @_guarded
    def sets(self) -> list[str]:
        with self.db.connection() as conn:
            return [r[0] for r in conn.execute("SELECT id FROM listing_sets ORDER BY id")]

    @_guarded
    def batches(self, set_id: str) -> list[str]:
        with self.db.connection() as conn:
            return self._batches(conn, set_id)

    def _batches(self, conn: psycopg.Connection[Any], set_id: str) -> list[str]:
        if conn.execute("SELECT 1 FROM listing_sets WHERE id = %s", (set_id,)).fetchone() is None:
            raise NotFound(f"no training set {set_id!r}")
        rows = conn.execute(
            "SELECT seq, sha256 FROM uploads WHERE set_id = %s ORDER BY seq", (set_id,)
        ).fetchall()
        return [batch_name(seq, digest) for seq, digest in rows]

    def add(self, frame: pd.DataFrame, mode: Mode) -> Accepted:
        payload = frame.to_csv(index=False).encode()
        return self._add(hashlib.sha256(payload).hexdigest(), len(frame), mode, [frame])

    def add_bytes(self, payload: bytes, rows: int, mode: Mode) -> Accepted:
        frames = _csv_frames(io.BytesIO(payload))
        return self._add(hashlib.sha256(payload).hexdigest(), rows, mode, frames)

    def add_file(self, path: Path, rows: int, mode: Mode) -> Accepted:
        digest = hashlib.sha256()
        with open(path, "rb") as source:
            while block := source.read(1 << 20):
                digest.update(block)
        with open(path, "rb") as source:
            return self._add(digest.hexdigest(), rows, mode, _csv_frames(source))

    @_guarded
    def _add(
        self,
        digest: str,
        rows: int,
        mode: Mode,
        frames: Iterator[pd.DataFrame] | list[pd.DataFrame],
        set_id: str | None = None,
    ) -> Accepted:
        """Store an upload in one transaction; adds are serialised by the store_state row lock.

        `set_id` names the set (copying a deployment); without it, `mode` chooses as usual.
        """
        with self.db.connection() as conn, conn.transaction():
            state = conn.execute("SELECT current_set FROM store_state FOR UPDATE").fetchone()
            current = state[0] if state else None
            target = set_id or current
            existing = self._uploads(conn, target) if target else []
            digests = [d for _, d in existing]
            if set_id is not None:
                repeated = digest in digests
            else:
                repeated = digests == [digest] if mode == "replace" else digest in digests
            if target is not None and repeated:
                seq = existing[digests.index(digest)][0]
                return Accepted(target, batch_name(seq, digest), rows, duplicate=True)
            if set_id is None and (mode == "replace" or current is None):
                target = new_set_name()
                existing = []
            assert target is not None
            conn.execute(
                "INSERT INTO listing_sets (id) VALUES (%s) ON CONFLICT DO NOTHING", (target,)
            )
            seq = max((s for s, _ in existing), default=0) + 1
            inserted = conn.execute(
                "INSERT INTO uploads (set_id, seq, sha256, rows) VALUES (%s, %s, %s, %s) "
                "RETURNING id",
                (target, seq, digest, rows),
            ).fetchone()
            assert inserted is not None
            copied = _copy_chunks(conn, int(inserted[0]), frames)
            conn.execute("UPDATE uploads SET rows = %s WHERE id = %s", (copied, inserted[0]))
            if set_id is None and target != current:
                conn.execute("UPDATE store_state SET current_set = %s", (target,))
        log.info("stored %d listings as %s/%s", copied, target, batch_name(seq, digest))
        return Accepted(target, batch_name(seq, digest), copied, duplicate=False)

    def _uploads(self, conn: psycopg.Connection[Any], set_id: str) -> list[tuple[int, str]]:
        return [
            (int(seq), str(d))
            for seq, d in conn.execute(
                "SELECT seq, sha256 FROM uploads WHERE set_id = %s ORDER BY seq", (set_id,)
            )
        ]

    def copy_upload(self, set_id: str, path: Path) -> Accepted:
        """Store a file of another deployment as the next upload of the set it belongs to."""
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with open(path, "rb") as source:
            return self._add(digest, 0, "append", _csv_frames(source), set_id=set_id)

    @_guarded
    def uploads(self) -> list[tuple[str, str]]:
        with self.db.connection() as conn:
            rows = conn.execute("SELECT set_id, seq, sha256 FROM uploads ORDER BY set_id, seq")
            return [(set_id, batch_name(seq, digest)) for set_id, seq, digest in rows]

    @_guarded
    def delete_upload(self, set_id: str, batch: str) -> None:
        match = BATCH_PATTERN.match(batch)
        if not match:
            raise NotFound(f"no upload {batch!r} in training set {set_id!r}")
        seq, digest = int(match.group(1)), match.group(2)
        with self.db.connection() as conn, conn.transaction():
            deleted = conn.execute(
                "DELETE FROM uploads WHERE set_id = %s AND seq = %s AND sha256 LIKE %s",
                (set_id, seq, f"{digest}%"),
            )
            if deleted.rowcount != 1:
                raise NotFound(f"no upload {batch!r} in training set {set_id!r}")
        log.info("removed upload %s/%s", set_id, batch)

    def set_current(self, set_id: str) -> None:
        with database_errors(), self.db.connection() as conn:
            conn.execute("UPDATE store_state SET current_set = %s", (set_id,))

    @_guarded
    def snapshot(self) -> Snapshot | None:
        with self.db.connection() as conn:
            row = conn.execute("SELECT current_set FROM store_state").fetchone()
            current = row[0] if row else None
            if current is None:
                return None
            return Snapshot(current, tuple(self._batches(conn, current)))

    def chunks(
        self, snapshot: Snapshot, chunk_rows: int = 1_000_000, dates: SaleDates | None = None
    ) -> Iterator[FloatArray]:
        """Rows of beds, baths, sqft, price in upload order, a stored chunk at a time.

        A server-side cursor hands over one chunk (one row of arrays) per fetch, so memory is
        that of a chunk whatever the size of the set. `chunk_rows` splits a stored chunk further.
        The server gives each chunk's first and last sale date and their count, for `dates`.
        """
        with database_errors(), self.db.connection() as conn, conn.transaction():
            uploads = self._uploads_of(conn, snapshot)
            with conn.cursor(name=f"chunks_{uuid.uuid4().hex}", binary=True) as cursor:
                cursor.itersize = 1
                # With each chunk, its first and last sale date and their count.
                cursor.execute(
                    "SELECT c.rows, c.beds, c.baths, c.sqft, c.price, s.first, s.last, s.dated "
                    "FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(id, n) "
                    "JOIN listing_chunks c ON c.upload_id = u.id "
                    "CROSS JOIN LATERAL (SELECT min(d), max(d), count(d) FROM unnest(c.sold_at) d) "
                    "AS s (first, last, dated) ORDER BY u.n, c.chunk",
                    (uploads,),
                )
                for rows, beds, baths, sqft, price, first, last, dated in cursor:
                    if dates is not None and dated:
                        dates.add(first, last, int(dated))
                    columns = (beds, baths, sqft, price)
                    values = np.empty((rows, 4), dtype=np.float64)
                    for i, blob in enumerate(columns):
                        values[:, i] = np.frombuffer(blob, dtype=_DOUBLES)
                    for start in range(0, len(values), chunk_rows):
                        yield values[start : start + chunk_rows]

    def _uploads_of(self, conn: psycopg.Connection[Any], snapshot: Snapshot) -> list[int]:
        wanted = [int(m.group(1)) for b in snapshot.batches if (m := BATCH_PATTERN.match(b))]
        rows = conn.execute(
            "SELECT id FROM uploads WHERE set_id = %s AND seq = ANY(%s) ORDER BY seq",
            (snapshot.set_id, wanted),
        ).fetchall()
        if len(rows) != len(wanted):
            raise NotFound(f"training set {snapshot.set_id} lacks some of its uploads")
        return [int(r[0]) for r in rows]

    @_guarded
    def read(self, snapshot: Snapshot) -> pd.DataFrame:
        with self.db.connection() as conn:
            uploads = self._uploads_of(conn, snapshot)
            per_chunk = conn.execute(
                "SELECT c.rows, (SELECT array_agg(to_char(d, 'YYYY-MM-DD') ORDER BY line) "
                "FROM unnest(c.sold_at) WITH ORDINALITY AS s (d, line)) "
                "FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(id, n) "
                "JOIN listing_chunks c ON c.upload_id = u.id ORDER BY u.n, c.chunk",
                (uploads,),
            ).fetchall()
        if not uploads:
            raise NotFound(f"training set {snapshot.set_id} holds no listings")
        values = list(self.chunks(snapshot))
        table = np.concatenate(values) if values else np.empty((0, 4))
        frame = pd.DataFrame(table, columns=list(required_columns(True)))
        if any(dates is not None for _, dates in per_chunk):
            frame[SOLD_AT] = [d for rows, dates in per_chunk for d in (dates or [None] * rows)]
        return frame


def _csv_frames(source: Any, chunk_rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
    """The required columns (and sold_at) of a checked CSV, a chunk at a time."""
    wanted = {*required_columns(True), SOLD_AT}
    reader = pd.read_csv(
        source,
        usecols=lambda c: str(c).strip() in wanted,
        skipinitialspace=True,
        chunksize=chunk_rows,
        dtype={SOLD_AT: str},
    )
    for frame in reader:
        frame.columns = [str(c).strip() for c in frame.columns]
        yield frame


# PostgreSQL's binary formats, written with numpy: COPY's file header, and a date[] (a header
# of ndim, has-nulls flag, element type, length and lower bound; then per element its length,
# -1 for NULL, and its bytes). Numbers are stored as little-endian doubles in bytea.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_DOUBLES = np.dtype("<f8")
_DATE = 1082
_DATE_ELEMENT = np.dtype([("len", ">i4"), ("v", ">i4")])
_EPOCH = np.datetime64("2000-01-01", "D")  # PostgreSQL's dates count days from here


def _date_array_bytes(dates: pd.Series[Any]) -> bytes | None:
    """A date[] of checked YYYY-MM-DD text (NULL where empty); None when no row has a date."""
    text = dates.astype("string").str.strip()
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    has_date = np.asarray(parsed.notna())
    if not has_date.any():
        return None
    elements = np.empty(len(dates), dtype=_DATE_ELEMENT)
    days = (parsed.to_numpy(dtype="datetime64[D]") - _EPOCH).astype(np.int64)
    elements["len"] = np.where(has_date, 4, -1)
    elements["v"] = np.where(has_date, days, 0)
    table = elements.view(np.uint8).reshape(len(dates), _DATE_ELEMENT.itemsize)
    keep = np.ones(table.shape, dtype=bool)
    keep[~has_date, 4:] = False  # a NULL is its length alone
    header = np.array([1, int(not has_date.all()), _DATE, len(dates), 1], dtype=">i4").tobytes()
    return header + table[keep].tobytes()


def _field(value: bytes | None) -> bytes:
    if value is None:
        return b"\xff\xff\xff\xff"
    return len(value).to_bytes(4, "big", signed=True) + value


def _copy_chunks(
    conn: psycopg.Connection[Any],
    upload: int,
    frames: Iterator[pd.DataFrame] | list[pd.DataFrame],
) -> int:
    """COPY checked listings into `listing_chunks`, a row of arrays per frame; the row count."""
    rows = 0
    statement = (
        "COPY listing_chunks (upload_id, chunk, rows, beds, baths, sqft, price, sold_at) "
        "FROM STDIN (FORMAT binary)"
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(_COPY_HEADER)
        for chunk, frame in enumerate(frames):
            values = check_frame(frame, with_price=True)
            if not len(values):
                continue
            dates = _date_array_bytes(frame[SOLD_AT]) if SOLD_AT in frame.columns else None
            fields = [
                upload.to_bytes(8, "big"),
                chunk.to_bytes(4, "big"),
                len(values).to_bytes(4, "big"),
                *(values[:, i].astype(_DOUBLES).tobytes() for i in range(4)),
                dates,
            ]
            copy.write((8).to_bytes(2, "big") + b"".join(_field(f) for f in fields))
            rows += len(values)
        copy.write(b"\xff\xff")
    return rows


class PostgresJobs:
    def __init__(self, db: _Database) -> None:
        self.db = db

    @_guarded
    def create(self, **fields: Any) -> dict[str, Any]:
        job = new_job(**fields)
        self.insert(job)
        return job

    def insert(self, job: dict[str, Any]) -> bool:
        """Store a job as it is (also when copying a deployment); False if it exists."""
        with database_errors(), self.db.connection() as conn:
            cursor = conn.execute(
                "INSERT INTO jobs (job_id, status, created_at, doc) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (job_id) DO NOTHING",
                (job["job_id"], job["status"], job["created_at"], _jsonb(job)),
            )
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
    def pending(self) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT doc FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at"
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
    def next_pending(self) -> dict[str, Any] | None:
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT doc FROM jobs WHERE status IN ('queued', 'running') "
                "ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED"
            ).fetchone()
        return row[0] if row else None

    @_guarded
    def update(self, job: dict[str, Any], **changes: Any) -> dict[str, Any]:
        job = {**job, **changes}
        with self.db.connection() as conn:
            conn.execute(
                "UPDATE jobs SET status = %s, doc = %s WHERE job_id = %s",
                (job["status"], _jsonb(job), job["job_id"]),
            )
        return job

    @_guarded
    def all(self) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            return [r[0] for r in conn.execute("SELECT doc FROM jobs ORDER BY created_at")]

    @_guarded
    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        with self.db.connection() as conn:
            deleted = conn.execute(
                "DELETE FROM jobs WHERE job_id = %s AND status IN ('succeeded', 'failed')",
                (job_id,),
            )
        if deleted.rowcount != 1:
            raise Conflict(f"job {job_id} is {job['status']}: only finished jobs are removed")


class _Listener:
    """A thread with its own connection that LISTENs for changes of the active version."""

    def __init__(self, db: _Database) -> None:
        self.db = db
        self.changed = threading.Event()
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(target=self._run, name="active-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                with self.db.connect(autocommit=True) as conn:
                    self._conn = conn
                    channel = conn.execute("SELECT current_schema() || %s", (CHANNEL_SUFFIX,))
                    row = channel.fetchone()
                    assert row is not None
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(row[0])))
                    self.connected.set()
                    self.changed.set()  # whatever happened while not listening
                    delay = 0.2
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.changed.set()
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                log.warning("listening for model changes failed (%s); retrying", exc)
            finally:
                self._conn = None
                self.connected.clear()
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)

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


def advisory_fit_lock_held(url: str) -> bool:
    """Whether any session holds the fit lock (for tests and operators)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = "
            f"({_FIT_LOCK})::oid AND granted"
        ).fetchone()
    return bool(row and row[0])
