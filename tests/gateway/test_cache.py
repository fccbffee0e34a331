"""The rollup cache in Redis: fresh after the gateway's own writes and after other writers'
events; a Redis that stops answering costs the cache, never an answer."""

from __future__ import annotations

from typing import Any

import httpx

from services.gateway.redislink import connect
from tests.gateway.conftest import Gateway, GatewayFactory, project_body
from tests.gateway.servers import closed_url, wait_for
from tests.support import caller_headers

ROLLUP = "/api/v1/rollups?by=county"


def _consumed(gw: Gateway, count: int) -> None:
    """Wait until the cache consumer has read ``count`` events (each write's own event
    invalidates once more when it arrives from the stream)."""
    wait_for(lambda: gw.parts.metrics.events.labels("gateway-cache")._value.get() >= count)


def _total(gw: Gateway, headers: dict[str, str], path: str = ROLLUP) -> tuple[int, str]:
    response = gw.client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["totals"]["total_investment_wan"], response.headers["x-cache"]


def test_rollup_is_cached_and_fresh_after_a_write_through_the_gateway(
    gw: Gateway, admin: dict[str, str]
) -> None:
    gw.client.post("/api/v1/projects", json=project_body(total_investment_wan=100), headers=admin)
    _consumed(gw, 1)
    assert _total(gw, admin) == (100, "miss")
    assert _total(gw, admin) == (100, "hit")
    assert _total(gw, admin, "/api/v1/rollups/counties") == (100, "miss")
    created = gw.client.post("/api/v1/projects", json=project_body(total_investment_wan=5), headers=admin)
    assert created.status_code == 201
    assert _total(gw, admin) == (105, "miss")
    assert _total(gw, admin, "/api/v1/rollups/counties") == (105, "miss")
    patched = gw.client.patch(
        created.headers["location"],
        json={"total_investment_wan": 50},
        headers={**admin, "If-Match": created.headers["etag"]},
    )
    assert patched.status_code == 200
    assert _total(gw, admin) == (150, "miss")


def test_query_order_does_not_split_the_cache(gw: Gateway, admin: dict[str, str]) -> None:
    assert (
        gw.client.get("/api/v1/rollups?by=county&status=planned", headers=admin).headers["x-cache"] == "miss"
    )
    assert (
        gw.client.get("/api/v1/rollups?status=planned&by=county", headers=admin).headers["x-cache"] == "hit"
    )


def test_rollup_is_fresh_after_an_event_from_another_writer(gw: Gateway, admin: dict[str, str]) -> None:
    assert _total(gw, admin) == (0, "miss")
    assert _total(gw, admin) == (0, "hit")
    direct = httpx.post(
        f"{gw.stack.projects_url}/api/v1/projects",
        json=project_body(total_investment_wan=77),
        headers=caller_headers(),
    )  # the projects service itself, as the seed or an import would
    assert direct.status_code == 201
    _consumed(gw, 1)
    assert _total(gw, admin) == (77, "miss")


def test_reference_data_is_cached(gw: Gateway, admin: dict[str, str]) -> None:
    first = gw.client.get("/api/v1/reference/counties", headers=admin)
    second = gw.client.get("/api/v1/reference/counties", headers=admin)
    assert first.headers["x-cache"] == "miss" and second.headers["x-cache"] == "hit"
    assert first.json() == second.json() and len(first.json()["items"]) == 10


def _break_redis(gw: Gateway) -> Any:
    """Point the gateway's Redis client at a port where nothing listens (the machine's Redis keeps running)."""
    link = gw.parts.redis
    working = link.client
    link.client = connect(closed_url().replace("http://", "redis://") + "/0", 0.5)
    return working


def test_a_stopped_redis_keeps_the_gateway_answering(gw: Gateway, admin: dict[str, str]) -> None:
    gw.client.post("/api/v1/projects", json=project_body(total_investment_wan=10), headers=admin)
    _consumed(gw, 1)
    assert _total(gw, admin) == (10, "miss")
    working = _break_redis(gw)
    assert _total(gw, admin) == (10, "off")
    created = gw.client.post("/api/v1/projects", json=project_body(total_investment_wan=1), headers=admin)
    assert created.status_code == 201, "writes go on; their invalidation is remembered"
    assert _total(gw, admin) == (11, "off")
    ready = gw.client.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["redis"]["ok"] is False
    assert ready.json()["checks"]["redis"]["required"] is False
    assert gw.client.get("/api/v1/me", headers=admin).status_code == 200, (
        "rate limits fall back to in-process"
    )
    gw.parts.redis.client = working
    gw.parts.redis.down_until = 0.0
    assert _total(gw, admin) == (11, "miss"), "after an outage the old cache entries are forgotten"
    assert gw.client.get("/ready").json()["checks"]["redis"]["ok"] is True


def test_without_redis_nothing_is_cached(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(redis=False)
    admin = gw.login("root", "admin")
    assert _total(gw, admin) == (0, "off")
    assert _total(gw, admin) == (0, "off")
    ready = gw.client.get("/ready").json()["checks"]["redis"]
    assert ready["ok"] is True and "not configured" in ready["detail"]


def test_cache_counts_hits_and_misses_in_metrics(gw: Gateway, admin: dict[str, str]) -> None:
    _total(gw, admin)
    _total(gw, admin)
    text = gw.client.get("/metrics").text
    assert 'gateway_cache_hits_total{namespace="rollups"} 1.0' in text
    assert 'gateway_cache_misses_total{namespace="rollups"} 1.0' in text
