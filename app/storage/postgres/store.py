"""The listing store as rows: uploads in sets, read back in chunks."""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from app.domain.arrays import FloatArray
from app.domain.errors import NotFound
from app.domain.listings import required_columns, training_frames
from app.domain.place_rules import AREA, LATITUDE, LONGITUDE
from app.domain.rules import DEFAULT_MARKET
from app.domain.sale_dates import SOLD_AT, SaleDates
from app.storage.audit import entry
from app.storage.interface import Accepted, Mode, Snapshot
from app.storage.naming import (
    BATCH_PATTERN,
    batch_name,
    new_set_name,
)
from app.storage.postgres.audit import record
from app.storage.postgres.copy import _DOUBLES, _copy_chunks
from app.storage.postgres.database import _Database, _guarded, database_errors

log = logging.getLogger(__name__)


class PostgresStore:
    """Listing sets and uploads; each upload's rows are stored with one COPY."""

    def __init__(self, db: _Database, market: str = DEFAULT_MARKET) -> None:
        self.db = db
        self.market = market

    @_guarded
    def current_set(self) -> str | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT current_set FROM store_state WHERE market = %s", (self.market,)
            ).fetchone()
        return row[0] if row else None

    @_guarded
    def sets(self) -> list[str]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT id FROM listing_sets WHERE market = %s ORDER BY id", (self.market,)
            )
            return [r[0] for r in rows]

    @_guarded
    def batches(self, set_id: str) -> list[str]:
        with self.db.connection() as conn:
            return self._batches(conn, set_id)

    def _batches(self, conn: psycopg.Connection[Any], set_id: str) -> list[str]:
        known = conn.execute(
            "SELECT 1 FROM listing_sets WHERE id = %s AND market = %s", (set_id, self.market)
        ).fetchone()
        if known is None:
            raise NotFound(f"no training set {set_id!r}")
        rows = conn.execute(
            "SELECT seq, sha256 FROM uploads WHERE set_id = %s ORDER BY seq", (set_id,)
        ).fetchall()
        return [batch_name(seq, digest) for seq, digest in rows]

    def add(self, frame: pd.DataFrame, mode: Mode) -> Accepted:
        payload = frame.to_csv(index=False).encode()
        return self._add(hashlib.sha256(payload).hexdigest(), len(frame), mode, [frame])

    def add_bytes(self, payload: bytes, rows: int, mode: Mode) -> Accepted:
        frames = training_frames(io.BytesIO(payload))
        return self._add(hashlib.sha256(payload).hexdigest(), rows, mode, frames)

    def add_file(self, path: Path, rows: int, mode: Mode) -> Accepted:
        digest = hashlib.sha256()
        with open(path, "rb") as source:
            while block := source.read(1 << 20):
                digest.update(block)
        with open(path, "rb") as source:
            return self._add(digest.hexdigest(), rows, mode, training_frames(source))

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
            conn.execute(
                "INSERT INTO store_state (market, current_set) VALUES (%s, NULL) "
                "ON CONFLICT (market) DO NOTHING",
                (self.market,),
            )
            state = conn.execute(
                "SELECT current_set FROM store_state WHERE market = %s FOR UPDATE", (self.market,)
            ).fetchone()
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
                "INSERT INTO listing_sets (id, market) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (target, self.market),
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
                conn.execute(
                    "UPDATE store_state SET current_set = %s WHERE market = %s",
                    (target, self.market),
                )
            if set_id is None:  # an upload (a copy brings its entries with it)
                name = f"{target}/{batch_name(seq, digest)}"
                record(conn, entry("upload", self.market, name, rows=copied, mode=mode))
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
            return self._add(digest, 0, "append", training_frames(source), set_id=set_id)

    @_guarded
    def uploads(self) -> list[tuple[str, str]]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT u.set_id, u.seq, u.sha256 FROM uploads u "
                "JOIN listing_sets s ON s.id = u.set_id WHERE s.market = %s "
                "ORDER BY u.set_id, u.seq",
                (self.market,),
            )
            return [(set_id, batch_name(seq, digest)) for set_id, seq, digest in rows]

    @_guarded
    def delete_upload(self, set_id: str, batch: str) -> None:
        match = BATCH_PATTERN.match(batch)
        if not match:
            raise NotFound(f"no upload {batch!r} in training set {set_id!r}")
        seq, digest = int(match.group(1)), match.group(2)
        with self.db.connection() as conn, conn.transaction():
            deleted = conn.execute(
                "DELETE FROM uploads WHERE set_id = %s AND seq = %s AND sha256 LIKE %s "
                "AND set_id IN (SELECT id FROM listing_sets WHERE market = %s)",
                (set_id, seq, f"{digest}%", self.market),
            )
            if deleted.rowcount != 1:
                raise NotFound(f"no upload {batch!r} in training set {set_id!r}")
            record(conn, entry("prune.upload", self.market, f"{set_id}/{batch}"))
        log.info("removed upload %s/%s", set_id, batch)

    def set_current(self, set_id: str) -> None:
        with database_errors(), self.db.connection() as conn:
            conn.execute(
                "INSERT INTO store_state (market, current_set) VALUES (%s, %s) "
                "ON CONFLICT (market) DO UPDATE SET current_set = EXCLUDED.current_set",
                (self.market, set_id),
            )

    @_guarded
    def snapshot(self) -> Snapshot | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT current_set FROM store_state WHERE market = %s", (self.market,)
            ).fetchone()
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
            "SELECT u.id FROM uploads u JOIN listing_sets s ON s.id = u.set_id "
            "WHERE u.set_id = %s AND s.market = %s AND u.seq = ANY(%s) ORDER BY u.seq",
            (snapshot.set_id, self.market, wanted),
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
                "FROM unnest(c.sold_at) WITH ORDINALITY AS s (d, line)), "
                "c.area, c.latitude, c.longitude "
                "FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(id, n) "
                "JOIN listing_chunks c ON c.upload_id = u.id ORDER BY u.n, c.chunk",
                (uploads,),
            ).fetchall()
        if not uploads:
            raise NotFound(f"training set {snapshot.set_id} holds no listings")
        values = list(self.chunks(snapshot))
        table = np.concatenate(values) if values else np.empty((0, 4))
        frame = pd.DataFrame(table, columns=list(required_columns(True)))
        if any(chunk[1] is not None for chunk in per_chunk):
            frame[SOLD_AT] = [d for rows, dates, *_ in per_chunk for d in (dates or [None] * rows)]
        if any(chunk[2] is not None for chunk in per_chunk):
            frame[AREA] = [a for rows, _, areas, *_ in per_chunk for a in (areas or [None] * rows)]
        if any(chunk[3] is not None for chunk in per_chunk):
            for column, at in ((LATITUDE, 3), (LONGITUDE, 4)):
                frame[column] = np.concatenate(
                    [
                        np.full(chunk[0], np.nan)
                        if chunk[at] is None
                        else np.frombuffer(chunk[at], dtype="<f8")
                        for chunk in per_chunk
                    ]
                )
        return frame
