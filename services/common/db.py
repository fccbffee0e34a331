"""Database engine and sessions, with the few SQLite/PostgreSQL differences in one place.

SQLite (embedded default): WAL journal, a busy timeout and foreign keys on, one writer at a
time. PostgreSQL (production): a pooled engine with pre-ping so a restarted server is
reconnected without restarting the service.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
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
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    """A service's engines: ``reader`` for queries and ``writer`` for writes (the same
    pool on PostgreSQL; on SQLite the writer takes the write lock at BEGIN)."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.reader = make_engine(self.url)
        self.writer = self.reader if not is_sqlite(self.url) else make_engine(self.url, immediate=True)

    def read_session(self) -> Iterator[Session]:
        with Session(self.reader, expire_on_commit=False) as session:
            yield session

    def write_session(self) -> Iterator[Session]:
        with Session(self.writer, expire_on_commit=False) as session:
            yield session

    def dispose(self) -> None:
        self.reader.dispose()
        if self.writer is not self.reader:
            self.writer.dispose()
