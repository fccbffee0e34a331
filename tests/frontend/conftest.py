"""The live stack for the frontend tests: the projects and indicators services and the
gateway as real uvicorn servers on free ports (SQLite databases migrated in a temporary
folder), seeded with the plan's dataset through the services' API, with three users:
``admin``, ``viewer`` and ``heishan.manager`` (a manager of 黑山县 only).

``GATEWAY_URL`` points the frontend (run in-process by ``AppTest``) at this gateway.
Started once per test session; tests that write pick their own project.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import INTERNAL_TOKEN, LiveServer, MigratedDatabase

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "frontend" / "app.py"
JWT_SECRET = "frontend-tests-jwt-secret-0123456789abcdef"
PASSWORDS = {
    "admin": "admin-password-123",
    "viewer": "viewer-password-123",
    "heishan.manager": "manager-pass-123",
    "short.lived": "short-lived-pass-123",
}
HAS_GATEWAY = importlib.util.find_spec("services.gateway.app") is not None


@dataclass
class Stack:
    gateway_url: str
    projects_url: str
    indicators_url: str
    servers: list[LiveServer] = field(default_factory=list)
    databases: list[MigratedDatabase] = field(default_factory=list)

    def client(self, username: str = "admin", lang: str = "zh") -> object:
        """A frontend API client logged in as ``username``."""
        from frontend.api import Gateway

        gateway = Gateway(base_url=self.gateway_url, lang=lang)
        gateway.token = gateway.login(username, PASSWORDS[username])["access_token"]
        return gateway


def _start_stack(tmp: Path) -> Stack:
    from services.gateway.app import create_app as create_gateway
    from services.gateway.cli import ensure_admin
    from services.gateway.models import GatewayModel
    from services.gateway.settings import GatewaySettings
    from services.indicators.app import create_app as create_indicators
    from services.indicators.models import IndicatorsModel
    from services.indicators.settings import IndicatorsSettings
    from services.projects.app import create_app as create_projects
    from services.projects.models import ProjectsModel
    from services.projects.settings import ProjectsSettings
    from services.seed import seed

    common = {"INTERNAL_TOKEN": INTERNAL_TOKEN, "PORTFOLIO_ENV": "test", "OUTBOX_RELAY_INTERVAL_S": 0.05}
    projects_db = MigratedDatabase("projects", "sqlite", tmp, ProjectsModel.metadata)
    indicators_db = MigratedDatabase("indicators", "sqlite", tmp, IndicatorsModel.metadata)
    gateway_db = MigratedDatabase("gateway", "sqlite", tmp, GatewayModel.metadata)
    projects = LiveServer(create_projects(ProjectsSettings(PROJECTS_DATABASE_URL=projects_db.url, **common)))
    indicators = LiveServer(
        create_indicators(IndicatorsSettings(INDICATORS_DATABASE_URL=indicators_db.url, **common))
    )
    projects_url, indicators_url = projects.start().url, indicators.start().url
    seed(
        env={"PROJECTS_URL": projects_url, "INDICATORS_URL": indicators_url, "INTERNAL_TOKEN": INTERNAL_TOKEN}
    )
    settings = GatewaySettings(
        GATEWAY_DATABASE_URL=gateway_db.url,
        PROJECTS_URL=projects_url,
        INDICATORS_URL=indicators_url,
        JWT_SECRET=JWT_SECRET,
        PORTFOLIO_ADMIN_PASSWORD=PASSWORDS["admin"],
        LOGIN_RATE_LIMIT_PER_MINUTE=100_000,
        RATE_LIMIT_PER_MINUTE=1_000_000,
        **common,
    )
    ensure_admin(settings)
    gateway = LiveServer(create_gateway(settings))
    stack = Stack(gateway.start().url, projects_url, indicators_url, [projects, indicators, gateway])
    stack.databases = [projects_db, indicators_db, gateway_db]
    admin = stack.client("admin")
    for username, role, counties in (("viewer", "viewer", []), ("heishan.manager", "manager", ["heishan"])):
        body = {"username": username, "password": PASSWORDS[username], "role": role, "counties": counties}
        admin.request("POST", "/users", json=body)  # type: ignore[attr-defined]
    return stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not HAS_GATEWAY:
        pytest.skip("services/gateway/app.py does not exist yet")
    started = _start_stack(tmp_path_factory.mktemp("frontend-stack"))
    previous = os.environ.get("GATEWAY_URL")
    os.environ["GATEWAY_URL"] = started.gateway_url
    yield started
    if previous is None:
        os.environ.pop("GATEWAY_URL", None)
    else:
        os.environ["GATEWAY_URL"] = previous
    for server in reversed(started.servers):
        server.stop()
    for database in started.databases:
        database.close()
