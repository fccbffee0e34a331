"""What the service guarantees beyond one request: concurrent writers, the outbox and its
relay to Redis, the migration history, health and readiness, settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select
from sqlmodel import Session

from services.common.db import make_engine
from services.common.jsonio import loads
from services.common.migrate import downgrade, upgrade
from services.common.outbox import STREAM, relay_once
from services.common.settings import ConfigurationError
from services.indicators.app import create_app
from services.indicators.models import IndicatorsModel, OutboxEvent
from services.indicators.settings import IndicatorsSettings
from tests.indicators.conftest import (
    ADMIN,
    COUNTY,
    GDP,
    HEISHAN_MANAGER,
    indicators_settings,
    new_indicator,
    observe,
)
from tests.support import REDIS_URL, MigratedDatabase, drop_pg_database, fresh_database_url


def _at_once(count: int, call: Callable[[int], Any]) -> list[Any]:
    """Run ``call(n)`` in ``count`` threads released together; their results in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(n: int) -> None:
        barrier.wait()
        results[n] = call(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


# --------------------------------------------------------------------------- concurrency


def test_concurrent_patches_with_the_same_etag_one_wins(client: TestClient) -> None:
    gdp = new_indicator(client)

    responses = _at_once(
        6,
        lambda n: client.patch(
            f"/api/v1/indicators/{gdp['id']}",
            json={"target_value": 1500 + n + 1},
            headers={**ADMIN, "If-Match": gdp["etag"]},
        ),
    )

    assert sorted(r.status_code for r in responses) == [200, 412, 412, 412, 412, 412]
    winner = next(r for r in responses if r.status_code == 200).json()
    detail = client.get(f"/api/v1/indicators/{gdp['id']}").json()
    assert (detail["version"], detail["target_value"]) == (2, winner["target_value"])
    assert [i["kind"] for i in client.get(f"/api/v1/indicators/{gdp['id']}/history").json()["items"]] == [
        "create",
        "update",
    ]


def test_concurrent_corrections_of_one_year_keep_one_current_value(client: TestClient) -> None:
    county = new_indicator(client, **COUNTY)

    responses = _at_once(
        5,
        lambda n: client.post(
            f"/api/v1/indicators/{county['id']}/observations",
            json={"year": 2023, "value": 11 + n},
            headers=HEISHAN_MANAGER,
        ),
    )

    assert [r.status_code for r in responses] == [201] * 5
    history = client.get(f"/api/v1/indicators/{county['id']}/observations", params={"history": True}).json()[
        "items"
    ]
    assert [o["revision"] for o in history] == [1, 2, 3, 4, 5]
    assert [o["is_current"] for o in history] == [False, False, False, False, True]
    assert client.get(f"/api/v1/indicators/{county['id']}").json()["version"] == 6


def test_concurrent_retries_with_one_idempotency_key_create_once(client: TestClient) -> None:
    headers = {**ADMIN, "Idempotency-Key": "seed:FYP14-01"}

    responses = _at_once(4, lambda n: client.post("/api/v1/indicators", json=GDP, headers=headers))

    assert [r.status_code for r in responses] == [201] * 4
    assert all(r.json() == responses[0].json() for r in responses)
    assert client.get("/api/v1/indicators").json()["total"] == 1


# --------------------------------------------------------------------------- outbox


def _events(database: MigratedDatabase) -> list[OutboxEvent]:
    with Session(database.engine) as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))  # type: ignore[arg-type]


def test_every_write_records_one_event(client: TestClient, indicators_db: MigratedDatabase) -> None:
    gdp = new_indicator(client)
    client.patch(
        f"/api/v1/indicators/{gdp['id']}",
        json={"target_value": 1550},
        headers={**ADMIN, "If-Match": gdp["etag"]},
    )
    observe(client, gdp["id"], 2023, 1210)
    observe(client, gdp["id"], 2023, 1210)  # the same value again: no write, no event
    observe(client, gdp["id"], 2023, 1230)

    events = _events(indicators_db)

    assert [(e.type, e.version) for e in events] == [
        ("indicator.created", 1),
        ("indicator.updated", 2),
        ("indicator.observation_recorded", 3),
        ("indicator.observation_recorded", 4),
    ]
    assert {e.entity_id for e in events} == {str(gdp["id"])}
    assert events[1].data["changed"] == {"target_value": {"before": 1500, "after": 1550}}
    assert events[3].data | {"code": "FYP14-01", "scope": "city"} == {
        "code": "FYP14-01",
        "scope": "city",
        "year": 2023,
        "value": 1230,
        "revision": 2,
        "previous_value": 1210,
        "status": "off_track",
        "previous_status": "off_track",
    }


def test_a_refused_write_records_no_event(client: TestClient, indicators_db: MigratedDatabase) -> None:
    gdp = new_indicator(client)

    client.post(
        f"/api/v1/indicators/{gdp['id']}/observations", json={"year": 2030, "value": 1}, headers=ADMIN
    )
    client.patch(
        f"/api/v1/indicators/{gdp['id']}", json={"target_value": 1}, headers={**ADMIN, "If-Match": '"1-v9"'}
    )

    assert [e.type for e in _events(indicators_db)] == ["indicator.created"]


def _published(redis: Any, events: list[OutboxEvent]) -> list[dict[str, Any]]:
    """Our events as found in the stream, in stream order (other test runs may share it)."""
    ours = {e.event_id for e in events}
    entries = [loads(fields[b"event"]) for _id, fields in redis.xrange(STREAM)]
    return [entry for entry in entries if entry["event_id"] in ours]


def test_relay_publishes_the_events_to_the_redis_stream(
    client: TestClient, indicators_db: MigratedDatabase, redis: Any
) -> None:
    gdp = new_indicator(client)
    observe(client, gdp["id"], 2023, 1210)

    assert relay_once(indicators_db.engine, OutboxEvent, redis) == 2
    assert relay_once(indicators_db.engine, OutboxEvent, redis) == 0

    events = _events(indicators_db)
    published = _published(redis, events)
    assert [e["type"] for e in published] == ["indicator.created", "indicator.observation_recorded"]
    assert (published[1]["entity_id"], published[1]["version"], published[1]["actor"]) == (
        str(gdp["id"]),
        2,
        "admin",
    )
    assert all(e.published_at is not None for e in events)


def test_the_app_relays_events_when_redis_is_configured(indicators_db: MigratedDatabase, redis: Any) -> None:
    indicators_db.clean()
    settings = indicators_settings(indicators_db.url, REDIS_URL=REDIS_URL, OUTBOX_RELAY_INTERVAL_S=0.05)
    with TestClient(create_app(settings)) as app_client:
        new_indicator(app_client)
        deadline = time.monotonic() + 10
        while _events(indicators_db)[0].published_at is None and time.monotonic() < deadline:
            time.sleep(0.05)
        ready = app_client.get("/ready").json()

    assert [e["type"] for e in _published(redis, _events(indicators_db))] == ["indicator.created"]
    assert ready["checks"]["outbox_relay"]["ok"] is True


# --------------------------------------------------------------------------- schema


def test_migrations_go_up_down_and_up_again(backend: str, tmp_path: Path) -> None:
    url = fresh_database_url("indicators", backend, tmp_path)
    tables = {"indicator", "observation", "indicator_change", "outbox", "idempotency_key"}
    try:
        upgrade("indicators", url)
        engine = make_engine(url)
        assert tables <= set(inspect(engine).get_table_names())
        downgrade("indicators", url, "base")
        assert not tables & set(inspect(engine).get_table_names())
        upgrade("indicators", url)
        assert tables <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, IndicatorsModel.metadata) == []
        engine.dispose()
    finally:
        if backend == "postgres":
            drop_pg_database(url.rsplit("/", 1)[1])


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == {"ok": True, "current": "0001", "head": "0001"}


def test_not_ready_before_migrations(tmp_path: Path) -> None:
    settings = indicators_settings(f"sqlite:///{tmp_path / 'empty.db'}")
    with TestClient(create_app(settings)) as app_client:
        response = app_client.get("/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["database"]["current"] is None


# --------------------------------------------------------------------------- settings


def test_settings_read_the_service_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDICATORS_DATABASE_URL", "postgresql://db/indicators")

    assert IndicatorsSettings().database_url == "postgresql://db/indicators"


def test_production_names_the_missing_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INDICATORS_DATABASE_URL", raising=False)
    monkeypatch.delenv("INTERNAL_TOKEN", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("PORTFOLIO_ENV", "production")

    with pytest.raises(ConfigurationError, match="INDICATORS_DATABASE_URL"):
        create_app()
