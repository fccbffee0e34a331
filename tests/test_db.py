"""The engines of ``services.common.db`` on PostgreSQL: reads without a transaction, streamed
reads in one, and a pool that replaces connections the server dropped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from services.common import db as db_module
from services.common.db import Database
from tests.support import PG_ADMIN_URL, drop_pg_database, fresh_database_url


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    url = fresh_database_url("dbtest", "postgres", tmp_path)
    database = Database(url)
    yield database
    database.dispose()
    drop_pg_database(url.rsplit("/", 1)[1])


def _backends(database: Database) -> list[int]:
    """The server processes of the pool's connections (checked in)."""
    with Session(database.reader) as session:
        name = session.execute(text("SELECT current_database()")).scalar()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,)
        )
        return [row[0] for row in rows]


def test_reads_run_outside_a_transaction_and_writes_inside_one(database: Database) -> None:
    with Session(database.reader) as session:
        session.execute(text("SELECT 1"))
        raw = session.connection().connection.dbapi_connection
        assert raw is not None and raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with Session(database.writer) as session:
        session.execute(text("SELECT 1"))
        raw = session.connection().connection.dbapi_connection
        assert raw is not None and raw.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def test_streamed_reads_get_the_transaction_a_server_side_cursor_needs(database: Database) -> None:
    statement = text("SELECT g FROM generate_series(1, 250) AS g")
    with database.snapshot_reader.connect() as connection:
        assert sum(1 for _ in connection.execution_options(yield_per=100).execute(statement)) == 250
    with database.reader.connect() as connection, pytest.raises(Exception, match="transaction"):
        list(connection.execution_options(yield_per=100).execute(statement))


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _backends(database)
    assert before
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        for pid in before:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    monkeypatch.setattr(db_module, "IDLE_PING_S", 0.0)  # every pooled connection counts as idle
    with Session(database.reader) as session:
        assert session.execute(text("SELECT 1")).scalar() == 1
    assert not set(_backends(database)) & set(before)


def test_without_the_idle_ping_the_dropped_connection_fails_once_then_the_pool_recovers(
    database: Database,
) -> None:
    """A restart seen by a request (its connection used a moment ago): that request fails,
    and the pool replaces every connection of before, so the next request works."""
    before = _backends(database)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        for pid in before:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(OperationalError), Session(database.reader) as session:
        session.execute(text("SELECT 1"))
    with Session(database.reader) as session:
        assert session.execute(text("SELECT 1")).scalar() == 1


def test_a_fresh_connection_is_not_pinged(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    pings: list[str] = []
    monkeypatch.setattr(database.reader.dialect, "do_ping", lambda _c: pings.append(uuid.uuid4().hex) or True)
    monkeypatch.setattr(db_module, "IDLE_PING_S", 3600.0)
    for _ in range(3):
        with Session(database.reader) as session:
            session.execute(text("SELECT 1"))
    assert pings == []  # used a moment ago: no round trip before the query
    monkeypatch.setattr(db_module, "IDLE_PING_S", 0.0)
    with Session(database.reader) as session:
        session.execute(text("SELECT 1"))
    assert len(pings) == 1
