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
