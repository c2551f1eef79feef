"""The process's connections to PostgreSQL, and how their errors reach clients."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from app.domain.errors import Unavailable

P = ParamSpec("P")
R = TypeVar("R")


APPLICATION = "house-price"  # how its connections show in pg_stat_activity

# Every connection speaks UTF-8, whatever the database's own encoding: on a SQL_ASCII database
# (initdb with no locale) psycopg would otherwise send strings as bytea and return bytes.
CLIENT_ENCODING = "UTF8"


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
