"""Test support: a database per service and backend, migrated once per test session and
emptied between tests; real PostgreSQL and Redis where the behaviour depends on them.

``PORTFOLIO_REQUIRE_SERVICES=1`` (set by CI) turns "PostgreSQL/Redis not answering" from a
skip into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, MetaData, text

from services.common.db import make_engine
from services.common.migrate import upgrade

PG_ADMIN_URL = os.environ.get("PORTFOLIO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PORTFOLIO_TEST_REDIS", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("PORTFOLIO_REQUIRE_SERVICES") == "1"
RUN_ID = uuid.uuid4().hex[:8]


def unavailable(what: str, reason: object) -> None:
    message = f"{what} not available: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (PORTFOLIO_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def postgres_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return str(exc)


def create_pg_database(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database_url(service: str, backend: str, tmp_dir: Path) -> str:
    """An empty database for ``service`` on ``backend`` (not migrated)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / f'{service}-{uuid.uuid4().hex[:6]}.db'}"
    reason = postgres_available()
    if reason:
        unavailable("PostgreSQL", reason)
    return create_pg_database(f"test_{service}_{RUN_ID}_{uuid.uuid4().hex[:6]}")


def empty_tables(engine: Engine, metadata: MetaData) -> None:
    """Delete every row (children first), keeping the schema and alembic_version."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # twice: a trigger may write into a table emptied before its own (deleting
            # rollup_cell subtracts from rollup_county_sector)
            for table in [*reversed(metadata.sorted_tables)] * 2:
                connection.execute(table.delete())
            connection.execute(text("DELETE FROM sqlite_sequence")) if _has_sqlite_sequence(
                connection
            ) else None


def _has_sqlite_sequence(connection: object) -> bool:
    result = connection.execute(  # type: ignore[attr-defined]
        text("SELECT name FROM sqlite_master WHERE type='table' AND name='sqlite_sequence'")
    )
    return result.first() is not None


class MigratedDatabase:
    """A service database migrated to head once; ``clean()`` empties it for the next test."""

    def __init__(self, service: str, backend: str, tmp_dir: Path, metadata: MetaData) -> None:
        self.service = service
        self.backend = backend
        self.metadata = metadata
        self.url = fresh_database_url(service, backend, tmp_dir)
        upgrade(service, self.url)
        self.engine = make_engine(self.url)

    def clean(self) -> None:
        empty_tables(self.engine, self.metadata)

    def close(self) -> None:
        self.engine.dispose()
        if self.backend == "postgres":
            drop_pg_database(self.url.rsplit("/", 1)[1])


def redis_client() -> Iterator[object]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        unavailable("Redis", exc)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


INTERNAL_TOKEN = "test-internal-token"


def caller_headers(
    actor: str = "admin", role: str = "admin", counties: str = "", lang: str | None = None
) -> dict[str, str]:
    headers = {
        "X-Internal-Token": INTERNAL_TOKEN,
        "X-Actor": actor,
        "X-Actor-Role": role,
        "X-Actor-Counties": counties,
    }
    if lang:
        headers["Accept-Language"] = lang
    return headers


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveServer:
    """An ASGI app served by uvicorn on a free local port, in a thread, lifespan on, with
    the options every service is served with (``SERVER_OPTIONS``: its keep-alive)."""

    def __init__(self, app: object, port: int | None = None) -> None:
        import threading

        import uvicorn

        from services.common.http import SERVER_OPTIONS

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="on", **SERVER_OPTIONS)  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@contextmanager
def streamlit_server(gateway_url: str, log_path: Path) -> Iterator[str]:
    """``streamlit run frontend/server.py`` (what ``portfolio serve frontend`` runs) on a
    free port against ``gateway_url``; yields its URL once it answers, stops it after."""
    root = Path(__file__).resolve().parents[1]
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(root / "frontend" / "server.py"),
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    env = {**os.environ, "GATEWAY_URL": gateway_url}
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(url + "/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("streamlit did not start: " + log_path.read_text()[-2000:])
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
