"""Fixtures of the projects service tests: an app per backend, emptied between tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.projects.app import create_app
from services.projects.models import ProjectsModel
from services.projects.settings import ProjectsSettings
from tests.support import INTERNAL_TOKEN, MigratedDatabase, caller_headers


@pytest.fixture(scope="session")
def projects_db(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedDatabase]:
    database = MigratedDatabase(
        "projects", backend, tmp_path_factory.mktemp("projects"), ProjectsModel.metadata
    )
    yield database
    database.close()


def projects_settings(url: str, **overrides: Any) -> ProjectsSettings:
    return ProjectsSettings(
        PROJECTS_DATABASE_URL=url, INTERNAL_TOKEN=INTERNAL_TOKEN, PORTFOLIO_ENV="test", **overrides
    )


@pytest.fixture
def client(projects_db: MigratedDatabase) -> Iterator[TestClient]:
    projects_db.clean()
    with TestClient(create_app(projects_settings(projects_db.url))) as test_client:
        test_client.headers.update(caller_headers())
        yield test_client


ADMIN = caller_headers()
VIEWER = caller_headers("vera", "viewer")
HEISHAN_MANAGER = caller_headers("hei", "manager", "heishan")


def new_project(client: TestClient, headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "黑山县测试项目",
        "sector": "agri_park",
        "county": "heishan",
        "total_investment_wan": 1000,
        "start_year": 2021,
        "end_year": 2025,
        **fields,
    }
    response = client.post("/api/v1/projects", json=body, headers=headers or ADMIN)
    assert response.status_code == 201, response.text
    return {**response.json(), "etag": response.headers["etag"]}


@pytest.fixture(scope="session")
def live_projects(projects_db: MigratedDatabase) -> Iterator[str]:
    """The projects service as a real server (uvicorn in a thread) for concurrency tests."""
    from tests.support import LiveServer

    server = LiveServer(create_app(projects_settings(projects_db.url)))
    yield server.start().url
    server.stop()
