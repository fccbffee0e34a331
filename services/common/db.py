"""Database engine and sessions, with the few SQLite/PostgreSQL differences in one place.

SQLite (embedded default): WAL journal, a busy timeout and foreign keys on, one writer at a
time. PostgreSQL (production): a pooled engine that reconnects to a restarted server on its
own (a connection idle for a while is pinged before use; a connection found broken in use
makes the pool replace every connection of before), and reads in autocommit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(url: str) -> bool:
    return normalise_url(url).startswith("sqlite")


def make_engine(url: str, *, immediate: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url``. On SQLite, ``immediate=True`` makes every transaction
    ``BEGIN IMMEDIATE`` (take the write lock up front), which is what write paths need: a
    deferred transaction that reads and then writes fails at once when another writer
    committed in between, instead of waiting its turn."""
    url = normalise_url(url)
    # JSON columns read with orjson: the standard library's parser was a tenth of a list page
    kwargs.setdefault("json_deserializer", orjson.loads)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            # let SQLAlchemy, not the driver, emit BEGIN (see the "begin" listener)
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


#: a pooled connection idle for longer than this is pinged before it is handed out
IDLE_PING_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Pre-ping, only for connections that sat in the pool for ``IDLE_PING_S``.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one more round trip for every
    request (0.4-0.9 ms measured here, a fifth of a rollup). A connection that served a
    request a moment ago is very likely alive; one that sat idle (a quiet night, a server
    restarted meanwhile) is pinged, and replaced when the ping fails. A restart during
    traffic is seen by the first statement that fails: that request gets 503 and SQLAlchemy
    invalidates every connection of before the failure, so the next ones reconnect."""

    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("the connection did not answer a ping") from exc  # the pool retries


class Database:
    """A service's engines, over one pool on PostgreSQL:

    - ``writer``: transactions (on SQLite it takes the write lock at ``BEGIN``);
    - ``reader``: queries. On PostgreSQL in autocommit: no ``BEGIN`` and ``ROLLBACK``
      round trips around a request's reads (0.8 ms of a 4.3 ms rollup measured here). At
      PostgreSQL's isolation, read committed, every statement sees a snapshot of its own
      anyway, so reads see the same in or out of a transaction;
    - ``snapshot_reader``: reads that need a transaction: server-side cursors (streamed
      exports)."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.snapshot_reader = make_engine(self.url)
        if is_sqlite(self.url):
            self.reader = self.snapshot_reader
            self.writer = make_engine(self.url, immediate=True)
        else:
            self.writer = self.snapshot_reader
            self.reader = self.snapshot_reader.execution_options(isolation_level="AUTOCOMMIT")

    def read_session(self) -> Iterator[Session]:
        with Session(self.reader, expire_on_commit=False) as session:
            yield session

    def write_session(self) -> Iterator[Session]:
        with Session(self.writer, expire_on_commit=False) as session:
            yield session

    def dispose(self) -> None:
        self.snapshot_reader.dispose()
        if self.writer is not self.snapshot_reader:
            self.writer.dispose()
