"""Fixtures of the gateway tests: the projects and indicators services as real uvicorn
servers (one pair per backend and session, their databases emptied between tests, their
outbox relays publishing to the test Redis), and a gateway per test, in process with its
lifespan on (``TestClient``), on its own migrated database."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from services.gateway import accounts
from services.gateway.app import create_app
from services.gateway.models import GatewayModel
from services.gateway.schemas import UserCreate
from services.gateway.settings import GatewaySettings
from services.projects.app import create_app as create_projects_app
from services.projects.models import ProjectsModel
from services.projects.settings import ProjectsSettings
from tests.gateway.servers import closed_url
from tests.support import INTERNAL_TOKEN, LiveServer, MigratedDatabase, unavailable
from tests.support import REDIS_URL as SHARED_REDIS_URL

#: the gateway tests use their own Redis database (the shared one's index minus one), so the
#: services' tests flushing theirs do not delete the stream under a running gateway
REDIS_URL = re.sub(r"/(\d+)$", lambda m: f"/{max(int(m.group(1)) - 1, 0)}", SHARED_REDIS_URL)
HAS_INDICATORS = importlib.util.find_spec("services.indicators.app") is not None
JWT_SECRET = "gateway-tests-jwt-secret-0123456789abcdef"
ADMIN_PASSWORD = "admin-password-for-tests"


@dataclass
class Stack:
    """The services behind the gateway for one backend."""

    backend: str
    projects_url: str
    indicators_url: str
    databases: list[MigratedDatabase] = field(default_factory=list)

    def clean(self) -> None:
        for database in self.databases:
            database.clean()


@pytest.fixture(scope="session")
def stack(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp(f"stack-{backend}")
    redis_url = REDIS_URL if _redis_answers() else None
    projects_db = MigratedDatabase("projects", backend, tmp, ProjectsModel.metadata)
    servers = [
        LiveServer(
            create_projects_app(
                ProjectsSettings(
                    PROJECTS_DATABASE_URL=projects_db.url,
                    INTERNAL_TOKEN=INTERNAL_TOKEN,
                    PORTFOLIO_ENV="test",
                    REDIS_URL=redis_url,
                    OUTBOX_RELAY_INTERVAL_S=0.05,
                )
            )
        ).start()
    ]
    databases = [projects_db]
    indicators_url = closed_url()
    if HAS_INDICATORS:
        from services.indicators.app import create_app as create_indicators_app
        from services.indicators.models import IndicatorsModel
        from services.indicators.settings import IndicatorsSettings

        indicators_db = MigratedDatabase("indicators", backend, tmp, IndicatorsModel.metadata)
        databases.append(indicators_db)
        servers.append(
            LiveServer(
                create_indicators_app(
                    IndicatorsSettings(
                        INDICATORS_DATABASE_URL=indicators_db.url,
                        INTERNAL_TOKEN=INTERNAL_TOKEN,
                        PORTFOLIO_ENV="test",
                        REDIS_URL=redis_url,
                        OUTBOX_RELAY_INTERVAL_S=0.05,
                    )
                )
            ).start()
        )
        indicators_url = servers[-1].url
    gateway_db = MigratedDatabase("gateway", backend, tmp, GatewayModel.metadata)
    databases.append(gateway_db)
    yield Stack(backend, servers[0].url, indicators_url, databases)
    for server in servers:
        server.stop()
    for database in databases:
        database.close()


def _redis_answers() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:  # noqa: BLE001
        return False


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).flushdb()


@dataclass
class Gateway:
    """A gateway under test: its client, settings, and helpers to make callers."""

    client: TestClient
    settings: GatewaySettings
    stack: Stack

    @property
    def app(self) -> Any:
        return self.client.app

    @property
    def parts(self) -> Any:
        return self.client.app.state.gateway  # type: ignore[attr-defined]

    def add_user(
        self, username: str, role: str, counties: list[str] | None = None, password: str = "password-123"
    ) -> int:
        with Session(self.parts.db.writer) as session:
            user = accounts.create_user(
                session,
                UserCreate(username=username, password=password, role=role, counties=counties or []),  # type: ignore[arg-type]
                "test",
            )
            session.commit()
            return int(user.id or 0)

    def token(self, username: str, password: str = "password-123") -> str:
        response = self.client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def login(self, username: str, role: str, counties: list[str] | None = None) -> dict[str, str]:
        """Bearer headers of a new user with this role."""
        self.add_user(username, role, counties)
        return {"Authorization": f"Bearer {self.token(username)}"}


def gateway_settings(stack: Stack, redis: bool, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "GATEWAY_DATABASE_URL": stack.databases[-1].url,
        "PROJECTS_URL": stack.projects_url,
        "INDICATORS_URL": stack.indicators_url,
        "INTERNAL_TOKEN": INTERNAL_TOKEN,
        "JWT_SECRET": JWT_SECRET,
        "PORTFOLIO_ENV": "test",
        "REDIS_URL": REDIS_URL if redis else None,
        "LOGIN_RATE_LIMIT_PER_MINUTE": 1000,
        "UPSTREAM_TIMEOUT_S": 5,
        "WEBHOOK_RETRY_BASE_S": 0.2,
        "WEBHOOK_TIMEOUT_S": 1,
    }
    values.update(overrides)
    return GatewaySettings(**values)


GatewayFactory = Callable[..., Gateway]


@pytest.fixture
def make_gateway(stack: Stack) -> Iterator[GatewayFactory]:
    """``make_gateway(redis=True, **settings)``: a started gateway (Redis flushed first)."""
    stack.clean()
    opened: list[TestClient] = []
    flushed: list[bool] = []

    def make(redis: bool = True, **overrides: Any) -> Gateway:
        if redis and not flushed:
            if not _redis_answers():
                unavailable("Redis", REDIS_URL)
            flush_redis()
            flushed.append(True)
        client = TestClient(create_app(gateway_settings(stack, redis, **overrides)))
        client.__enter__()
        opened.append(client)
        return Gateway(client, client.app.state.gateway.settings, stack)  # type: ignore[attr-defined]

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def gw(make_gateway: GatewayFactory) -> Gateway:
    return make_gateway()


@pytest.fixture
def admin(gw: Gateway) -> dict[str, str]:
    return gw.login("root", "admin")


def project_body(**fields: Any) -> dict[str, Any]:
    return {
        "name": "黑山县网关测试项目",
        "sector": "agri_park",
        "county": "heishan",
        "total_investment_wan": 1000,
        "start_year": 2022,
        "end_year": 2025,
        **fields,
    }
