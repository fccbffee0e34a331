"""Outbox events for every write, the relay to a real Redis stream, and migrations."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, select
from sqlmodel import Session

from services.common.migrate import downgrade, upgrade
from services.common.outbox import STREAM, relay_once
from services.projects.models import OutboxEvent
from tests.projects.conftest import new_project
from tests.support import MigratedDatabase, fresh_database_url


def _events(db: MigratedDatabase) -> list[OutboxEvent]:
    with Session(db.engine) as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))  # type: ignore[arg-type]


def test_every_write_records_one_event_in_the_same_transaction(
    client: TestClient, projects_db: MigratedDatabase
) -> None:
    project = new_project(client)
    patched = client.patch(
        f"/api/v1/projects/{project['id']}", json={"name": "新名"}, headers={"If-Match": project["etag"]}
    )
    client.post(
        f"/api/v1/projects/{project['id']}/status",
        json={"status": "preparing"},
        headers={"If-Match": patched.headers["etag"]},
    )
    client.post(
        f"/api/v1/projects/{project['id']}/reports", json={"period": "2025-01", "physical_progress_pct": 5}
    )
    refused = client.post(
        f"/api/v1/projects/{project['id']}/status",
        json={"status": "planned"},
        headers={"If-Match": patched.headers["etag"]},
    )
    assert refused.status_code in (409, 412)
    events = _events(projects_db)
    assert [e.type for e in events] == [
        "project.created",
        "project.updated",
        "project.status_changed",
        "project.report_submitted",
    ]
    assert [e.version for e in events] == [1, 2, 3, 4]
    assert all(e.actor == "admin" and e.published_at is None for e in events)
    assert events[1].data["changed"] == {"name": {"before": "黑山县测试项目", "after": "新名"}}


def test_relay_publishes_to_the_redis_stream_and_marks_sent(
    client: TestClient, projects_db: MigratedDatabase, redis: object
) -> None:
    new_project(client)
    new_project(client)
    assert relay_once(projects_db.engine, OutboxEvent, redis) == 2
    assert relay_once(projects_db.engine, OutboxEvent, redis) == 0
    entries = redis.xrange(STREAM)  # type: ignore[attr-defined]
    payloads = [json.loads(fields[b"event"]) for _id, fields in entries]
    assert [p["type"] for p in payloads] == ["project.created", "project.created"]
    assert {p["event_id"] for p in payloads} == {e.event_id for e in _events(projects_db)}
    assert all(e.published_at is not None for e in _events(projects_db))


def test_without_redis_events_stay_in_the_outbox(client: TestClient, projects_db: MigratedDatabase) -> None:
    new_project(client)
    assert [e.published_at for e in _events(projects_db)] == [None]


@pytest.mark.parametrize("service", ["projects"])
def test_migrations_up_down_up(service: str, backend: str, tmp_path: object) -> None:
    url = fresh_database_url(service, backend, tmp_path)  # type: ignore[arg-type]
    from services.common.db import make_engine

    upgrade(service, url)
    engine = make_engine(url)
    assert {"project", "project_change", "progress_report", "outbox", "project_share"} <= set(
        inspect(engine).get_table_names()
    )
    downgrade(service, url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(service, url)
    assert "project" in inspect(engine).get_table_names()
    engine.dispose()


@contextlib.contextmanager
def _small_library(url: str) -> Iterator[TestClient]:
    """A migrated database at ``url`` with three projects (one split over two counties),
    and a client of the projects service on it."""
    from services.projects.app import create_app
    from tests.projects.conftest import new_project, projects_settings

    upgrade("projects", url)
    with TestClient(create_app(projects_settings(url))) as client:
        client.headers.update(
            {"X-Internal-Token": "test-internal-token", "X-Actor": "admin", "X-Actor-Role": "admin"}
        )
        new_project(
            client, county="heishan", total_investment_wan=101, county_shares={"heishan": 50, "yixian": 50}
        )
        new_project(client, county="beizhen", total_investment_wan=7, status="under_construction")
        new_project(client, county="beizhen", sector="education", total_investment_wan=9, start_year=2023)
        yield client


def test_migration_0002_backfills_the_rollup_cells_from_existing_projects(
    backend: str, tmp_path: object
) -> None:
    """Projects written under revision 0001 are in the cells after upgrading to 0002."""
    url = fresh_database_url("projects", backend, tmp_path)  # type: ignore[arg-type]
    with _small_library(url) as client:
        expected = client.get("/api/v1/rollups?by=county,status").json()
        downgrade("projects", url, "0001")
        upgrade("projects", url)
        assert client.get("/api/v1/rollups?by=county,status").json() == expected
        assert client.get("/api/v1/rollups?by=county,status&min_investment_wan=0").json() == expected


def test_migration_0004_fills_the_county_sector_table_from_the_cells(backend: str, tmp_path: object) -> None:
    """Cells that exist when 0004 runs (here: its table dropped by a downgrade to 0003) are in
    ``rollup_county_sector`` afterwards, and its answers equal the cells' and the rows'."""
    from services.projects.rollups import parse_by, rollup
    from services.projects.service import ProjectFilters

    url = fresh_database_url("projects", backend, tmp_path)  # type: ignore[arg-type]
    with _small_library(url):
        pass
    downgrade("projects", url, "0003")
    upgrade("projects", url)
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            for by in ("county,sector", "county", "sector_group,status"):
                answers = [
                    rollup(session, parse_by(by), ProjectFilters(), source=s) for s in ("wide", "rows")
                ]
                assert answers[0] == answers[1] and answers[0]["totals"]["total_investment_wan"] == 117
    finally:
        engine.dispose()
