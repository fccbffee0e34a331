"""Shared fixtures. Service tests run once on SQLite and once on PostgreSQL (``backend``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

# before any service module is imported: argon2 at its smallest cost (services.gateway.auth:
# 0.15 s a hash otherwise, hundreds of logins in the suite); production processes ignore it
os.environ.setdefault("PORTFOLIO_TEST_FAST_HASHES", "1")

from tests.support import (  # noqa: E402
    PG_ADMIN_URL,
    RUN_ID,
    drop_pg_database,
    postgres_available,
    redis_client,
)

logging.getLogger("portfolio.access").setLevel(logging.WARNING)
logging.getLogger("httpx").setLevel(logging.WARNING)


@pytest.fixture(scope="session", autouse=True)
def _drop_this_runs_databases() -> Iterator[None]:
    """At the end of the run, the PostgreSQL databases it created (``test_<service>_<run>_…``,
    tests.support.fresh_database_url) are dropped, whichever test made them: a run leaves
    nothing behind on the server."""
    yield
    if postgres_available() is not None:
        return
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        names = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"test\\_%\\_{RUN_ID}\\_%",)
        ).fetchall()
    for (name,) in names:
        drop_pg_database(name)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def redis() -> Iterator[object]:
    yield from redis_client()
