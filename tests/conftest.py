"""Shared fixtures. Service tests run once on SQLite and once on PostgreSQL (``backend``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.support import redis_client

logging.getLogger("portfolio.access").setLevel(logging.WARNING)
logging.getLogger("httpx").setLevel(logging.WARNING)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def redis() -> Iterator[object]:
    yield from redis_client()
