"""The fast path for cached reads (services.gateway.fastpath): a hit is the route's hit, byte
for byte, in one Redis round trip; everything else is the route's answer, and every request
is counted against the rate limit exactly once."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis

from services.gateway.cache import CACHED_READS
from services.gateway.fastpath import cached_routes
from tests.gateway.conftest import REDIS_URL, Gateway, GatewayFactory

COUNTIES = "/api/v1/rollups/counties"


def _spy(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[tuple[Any, ...]]:
    """Record every call of the async method ``owner.name`` (and still make it)."""
    calls: list[tuple[Any, ...]] = []
    original: Callable[..., Awaitable[Any]] = getattr(owner, name)

    async def recorded(*args: Any) -> Any:
        calls.append(args)
        return await original(*args)

    monkeypatch.setattr(owner, name, recorded)
    return calls


def _viewer(gw: Gateway, username: str = "li", role: str = "viewer") -> tuple[int, dict[str, str]]:
    user_id = gw.add_user(username, role)
    return user_id, {"Authorization": f"Bearer {gw.token(username)}"}


def _counted(user_id: int) -> int:
    """The requests this user has been counted for, in every rate-limit bucket."""
    client = redis.Redis.from_url(REDIS_URL)
    return sum(int(client.get(key) or 0) for key in client.scan_iter(match=f"gw:rl:p:user:{user_id}:*"))


def _inside_one_minute() -> None:
    """Wait for the next minute when this one is nearly over: a few requests that span two
    rate-limit buckets would be weighed differently."""
    left = 60 - time.time() % 60
    if left < 8:
        time.sleep(left + 0.1)


@pytest.mark.parametrize(
    "path",
    [
        COUNTIES,
        "/api/v1/rollups?by=county",
        "/api/v1/reference/counties",
        "/api/v1/reference/indicator-categories",
    ],
)
def test_a_hit_from_the_fast_path_is_the_routes_hit_byte_for_byte(
    make_gateway: GatewayFactory, path: str
) -> None:
    route_only = make_gateway(GATEWAY_FAST_CACHED_READS=False)  # same database, same Redis
    fast = make_gateway()
    _user, headers = _viewer(fast)
    assert route_only.client.get(path, headers=headers).headers["x-cache"] == "miss"
    by_route = route_only.client.get(path, headers={**headers, "X-Request-ID": "req-1"})
    with pytest.MonkeyPatch.context() as patch:
        reads = _spy(patch, fast.parts.cache, "get")
        by_fast = fast.client.get(path, headers={**headers, "X-Request-ID": "req-1"})
    assert reads == [], "the fast path answered; the route's cache read did not run"
    assert by_route.status_code == by_fast.status_code == 200
    assert by_fast.content == by_route.content
    assert by_fast.headers.multi_items() == by_route.headers.multi_items()
    assert by_fast.headers["x-cache"] == "hit" and by_fast.headers["content-type"] == "application/json"
    assert by_fast.headers["x-request-id"] == "req-1" and by_fast.headers["x-frame-options"] == "DENY"


def test_a_hit_costs_one_redis_round_trip(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    _user, headers = _viewer(gw)
    assert gw.client.get(COUNTIES, headers=headers).headers["x-cache"] == "miss"
    trips = _spy(monkeypatch, gw.parts.redis, "run")
    invalidations = _spy(monkeypatch, gw.parts.cache, "invalidate")  # a stray event's, if any
    counted = _spy(monkeypatch, gw.parts.limiter, "hit")
    for _ in range(3):
        assert gw.client.get(COUNTIES, headers=headers).headers["x-cache"] == "hit"
    assert len(trips) - len(invalidations) == 3, "rate limit and cache read share one round trip"
    assert counted == [], "the route's rate limiter did not run"


@pytest.mark.parametrize("role", ["viewer", "manager", "admin"])
def test_every_role_gets_hits_from_the_fast_path(
    gw: Gateway, role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _user, headers = _viewer(gw, f"{role}-user", role)
    assert gw.client.get(COUNTIES, headers=headers).headers["x-cache"] == "miss"
    reads = _spy(monkeypatch, gw.parts.cache, "get")
    assert gw.client.get(COUNTIES, headers=headers).headers["x-cache"] == "hit"
    assert reads == []


def test_an_api_key_gets_hits_and_a_revoked_one_is_401_though_cached(
    gw: Gateway, admin: dict[str, str]
) -> None:
    created = gw.client.post("/api/v1/api-keys", json={"name": "sync", "role": "viewer"}, headers=admin)
    key = {"X-API-Key": created.json()["key"]}
    assert gw.client.get(COUNTIES, headers=key).headers["x-cache"] == "miss"
    assert gw.client.get(COUNTIES, headers=key).headers["x-cache"] == "hit"
    assert gw.client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=admin).status_code == 200
    refused = gw.client.get(COUNTIES, headers=key)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "revoked" in refused.json()["detail"] or "吊销" in refused.json()["detail"]


def test_no_or_bad_credentials_are_401_problems_though_cached(gw: Gateway, admin: dict[str, str]) -> None:
    assert gw.client.get(COUNTIES, headers=admin).headers["x-cache"] == "miss"
    assert gw.client.get(COUNTIES, headers=admin).headers["x-cache"] == "hit"
    for headers in (
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": admin["Authorization"].replace("Bearer", "Basic")},
        {"X-API-Key": "jzp_00000000_guess"},
    ):
        refused = gw.client.get(COUNTIES, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["www-authenticate"] == "Bearer" and refused.headers["x-request-id"]
        assert "x-cache" not in refused.headers


def test_an_unknown_query_parameter_is_422_though_the_rollup_is_cached(
    gw: Gateway, admin: dict[str, str]
) -> None:
    for path in (COUNTIES, "/api/v1/rollups?by=county"):
        assert gw.client.get(path, headers=admin).status_code == 200
        assert gw.client.get(path, headers=admin).headers["x-cache"] == "hit"
    for path in (f"{COUNTIES}?county=heishan", "/api/v1/rollups?by=county&countyy=heishan"):
        refused = gw.client.get(path, headers=admin)
        assert refused.status_code == 422, path
        assert refused.headers["content-type"].startswith("application/problem+json")


def test_cached_hits_are_limited_and_each_counted_once(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(RATE_LIMIT_PER_MINUTE=5)
    warmer = gw.login("root", "admin")
    assert gw.client.get(COUNTIES, headers=warmer).headers["x-cache"] == "miss"
    user_id, headers = _viewer(gw)
    _inside_one_minute()
    answers = [gw.client.get(COUNTIES, headers=headers) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert {a.headers["x-cache"] for a in answers[:5]} == {"hit"}
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["retry-after"]) <= 120
    assert _counted(user_id) == 6, "each request counted exactly once, the refused one too"


def test_cache_misses_are_limited_and_each_counted_once(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(RATE_LIMIT_PER_MINUTE=5)
    user_id, headers = _viewer(gw)
    _inside_one_minute()
    groupings = ["county", "sector", "sector_group", "status", "start_year", "county,status"]
    answers = [gw.client.get(f"/api/v1/rollups?by={by}", headers=headers) for by in groupings]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert {a.headers["x-cache"] for a in answers[:5]} == {"miss"}
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert _counted(user_id) == 6


def test_fast_path_answers_are_counted_under_the_route_template(gw: Gateway, admin: dict[str, str]) -> None:
    assert gw.client.get(COUNTIES, headers=admin).headers["x-cache"] == "miss"
    for _ in range(3):
        assert gw.client.get(COUNTIES, headers=admin).headers["x-cache"] == "hit"
    text = gw.client.get("/metrics").text
    assert f'gateway_requests_total{{method="GET",route="{COUNTIES}",status="200"}} 4.0' in text
    assert 'gateway_cache_hits_total{namespace="rollups"} 3.0' in text
    assert 'gateway_cache_misses_total{namespace="rollups"} 1.0' in text
    assert 'route="unmatched"' not in text


def test_every_cached_read_has_its_route(gw: Gateway) -> None:
    assert set(cached_routes(gw.app)) == set(CACHED_READS)


def test_scripts_run_by_their_sha_and_survive_a_redis_that_forgot_them(make_gateway: GatewayFactory) -> None:
    """The Lua scripts go to Redis as EVALSHA; after ``SCRIPT FLUSH`` (a restarted Redis)
    the next call loads them again: hits, counts and misses go on as before."""
    gw = make_gateway(RATE_LIMIT_PER_MINUTE=1000)
    _user, headers = _viewer(gw)
    client = redis.Redis.from_url(REDIS_URL)
    assert gw.client.get(COUNTIES, headers=headers).headers["x-cache"] == "miss"
    assert gw.client.get(COUNTIES, headers=headers).headers["x-cache"] == "hit"
    before = {k: v["calls"] for k, v in client.info("commandstats").items() if k.startswith("cmdstat_eval")}
    assert gw.client.get(COUNTIES, headers=headers).headers["x-cache"] == "hit"
    after = {k: v["calls"] for k, v in client.info("commandstats").items() if k.startswith("cmdstat_eval")}
    assert after.get("cmdstat_evalsha", 0) == before.get("cmdstat_evalsha", 0) + 1
    assert after.get("cmdstat_eval", 0) == before.get("cmdstat_eval", 0)  # the text was not sent
    client.script_flush()
    for _ in range(2):
        assert gw.client.get(COUNTIES, headers=headers).headers["x-cache"] == "hit"
    assert gw.client.get("/api/v1/rollups?by=sector", headers=headers).headers["x-cache"] == "miss"
