"""Shared fixtures. Service tests run once on SQLite and once on PostgreSQL (``backend``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

# before any service module is imported: argon2 at its smallest cost (services.gateway.auth:
# 0.15 s a hash otherwise, hundreds of logins in the suite); production processes ignore it
os.environ.setdefault("PORTFOLIO_TEST_FAST_HASHES", "1")

from tests.support import redis_client  # noqa: E402

logging.getLogger("portfolio.access").setLevel(logging.WARNING)
logging.getLogger("httpx").setLevel(logging.WARNING)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def redis() -> Iterator[object]:
    yield from redis_client()
