"""Webhooks: events from the stream POSTed to real local receivers, signed, retried with
backoff, logged; a hanging receiver holds up nobody."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest

from services.gateway.webhooks import backoff_s, matches
from tests.gateway.conftest import Gateway, project_body
from tests.gateway.servers import StubServer, wait_for

SECRET = "receiver-shared-secret"


@pytest.fixture
def flaky_receiver() -> Iterator[StubServer]:
    """Fails the first attempt (HTTP 500), accepts the rest."""
    server = StubServer(lambda n, _p: (500, "text/plain", b"busy") if n == 1 else (204, "text/plain", b""))
    yield server
    server.close()


def _register(gw: Gateway, admin: dict[str, str], url: str, events: list[str]) -> int:
    created = gw.client.post(
        "/api/v1/webhooks", json={"url": url, "events": events, "secret": SECRET}, headers=admin
    )
    assert created.status_code == 201, created.text
    assert "secret" not in created.json()
    return int(created.json()["id"])


def test_events_are_delivered_signed_and_retried(
    gw: Gateway, admin: dict[str, str], flaky_receiver: StubServer
) -> None:
    hook = _register(gw, admin, flaky_receiver.url + "/hook", ["project.created"])
    project = gw.client.post("/api/v1/projects", json=project_body(), headers=admin).json()
    wait_for(lambda: len(flaky_receiver.requests) >= 2, timeout_s=15)
    first, second = flaky_receiver.requests[:2]
    assert first.body == second.body and first.path == "/hook"
    event = json.loads(second.body)
    assert event["type"] == "project.created" and event["entity_id"] == str(project["id"])
    assert second.headers["x-portfolio-event-id"] == event["event_id"]
    expected = "sha256=" + hmac.new(SECRET.encode(), second.body, hashlib.sha256).hexdigest()
    assert second.headers["x-portfolio-signature"] == expected
    assert (
        first.headers["x-portfolio-delivery-attempt"],
        second.headers["x-portfolio-delivery-attempt"],
    ) == ("1", "2")

    def delivered() -> list[dict[str, object]] | None:
        items = gw.client.get(f"/api/v1/webhooks/{hook}/deliveries", headers=admin).json()["items"]
        return items if items and items[0]["delivered_at"] else None

    log = wait_for(delivered)
    assert len(log) == 1 and log[0]["attempt"] == 2 and log[0]["status_code"] == 204
    assert log[0]["event_id"] == event["event_id"] and log[0]["next_attempt_at"] is None


def test_a_hanging_receiver_does_not_hold_up_the_others(gw: Gateway, admin: dict[str, str]) -> None:
    hanging = StubServer(lambda _n, _p: (200, "text/plain", b""), delay_s=5)
    quick = StubServer(lambda _n, _p: (200, "text/plain", b""))
    try:
        _register(gw, admin, hanging.url, ["*"])
        _register(gw, admin, quick.url, ["project.*"])
        started = time.monotonic()
        for n in range(3):
            assert (
                gw.client.post(
                    "/api/v1/projects", json=project_body(name=f"项目{n}"), headers=admin
                ).status_code
                == 201
            )
        wait_for(lambda: len(quick.requests) >= 3, timeout_s=5)
        assert time.monotonic() - started < 4, "before the hanging receiver would have answered (5 s)"
        assert gw.client.get("/api/v1/projects", headers=admin).status_code == 200
    finally:
        hanging.close()
        quick.close()


def test_only_matching_events_are_delivered(gw: Gateway, admin: dict[str, str]) -> None:
    receiver = StubServer(lambda _n, _p: (200, "text/plain", b""))
    try:
        _register(gw, admin, receiver.url, ["project.status_changed"])
        created = gw.client.post("/api/v1/projects", json=project_body(), headers=admin)
        moved = gw.client.post(
            created.headers["location"] + "/status",
            json={"status": "preparing"},
            headers={**admin, "If-Match": created.headers["etag"]},
        )
        assert moved.status_code == 200
        wait_for(lambda: receiver.requests)
        time.sleep(0.5)
        assert [json.loads(r.body)["type"] for r in receiver.requests] == ["project.status_changed"]
    finally:
        receiver.close()


def test_deleted_webhook_is_gone_from_the_list(gw: Gateway, admin: dict[str, str]) -> None:
    hook = _register(gw, admin, "http://127.0.0.1:9/never", ["*"])
    assert gw.client.delete(f"/api/v1/webhooks/{hook}", headers=admin).status_code == 204
    assert gw.client.get("/api/v1/webhooks", headers=admin).json() == {"items": []}
    assert gw.client.get(f"/api/v1/webhooks/{hook}/deliveries", headers=admin).status_code == 404


def test_webhook_needs_a_valid_url_events_and_secret(gw: Gateway, admin: dict[str, str]) -> None:
    bad = {"url": "ftp://x", "events": ["Project Created"], "secret": "short"}
    response = gw.client.post("/api/v1/webhooks", json=bad, headers=admin)
    assert response.status_code == 422
    assert {e["loc"][0] for e in response.json()["errors"]} == {"url", "events", "secret"}


def test_patterns_and_backoff() -> None:
    assert matches(["project.*"], "project.created") and matches(["*"], "indicator.observation_recorded")
    assert not matches(["project.created"], "project.updated")
    assert [backoff_s(2, n) for n in (1, 2, 3)] == [2, 4, 8] and backoff_s(2, 40) == 3600
