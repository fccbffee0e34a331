"""The gateway's Redis link: a slow reply is one failed call, not an outage (the cache keeps
its entries); several in a row, or a refused connection, are an outage (the cache is
forgotten afterwards); an invalidation that failed is never answered by a stale hit."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import redis.exceptions

from services.gateway.cache import ROLLUPS
from services.gateway.redislink import RedisLink, RedisUnavailable
from tests.gateway.conftest import REDIS_URL, Gateway, _redis_answers
from tests.gateway.servers import closed_url
from tests.support import unavailable

COUNTIES = "/api/v1/rollups/counties"


class Stalling:
    """A Redis client whose next ``times`` commands time out (a slow server), then answer."""

    def __init__(self, real: Any, times: int) -> None:
        self.real = real
        self.times = times

    def __getattr__(self, name: str) -> Any:
        if self.times > 0:  # each use of the link reaches for one method of the client first
            self.times -= 1
            raise redis.exceptions.TimeoutError("Timeout reading from 127.0.0.1:6379")
        return getattr(self.real, name)


def _stall(gw: Gateway, times: int) -> Any:
    link = gw.parts.redis
    real = link.client
    link.client = Stalling(real, times)
    return real


def _warm(gw: Gateway, headers: dict[str, str]) -> None:
    assert gw.client.get(COUNTIES, headers=headers).headers["x-cache"] == "miss"
    assert gw.client.get(COUNTIES, headers=headers).headers["x-cache"] == "hit"


def test_one_slow_reply_is_not_an_outage_and_keeps_the_cache(gw: Gateway, admin: dict[str, str]) -> None:
    _warm(gw, admin)
    _stall(gw, 1)  # the fast path's round trip times out; the route's succeed
    answer = gw.client.get(COUNTIES, headers=admin)
    assert answer.status_code == 200 and answer.headers["x-cache"] == "hit"
    link = gw.parts.redis
    assert link.outages == 0 and link.last_error is None and link.failures == 0
    assert gw.client.get(COUNTIES, headers=admin).headers["x-cache"] == "hit", "the cache kept its entries"


def test_three_slow_replies_in_a_row_are_an_outage_and_the_cache_is_forgotten(
    gw: Gateway, admin: dict[str, str]
) -> None:
    _warm(gw, admin)
    _stall(gw, 3)  # fast path, rate limit, cache read: all time out
    answer = gw.client.get(COUNTIES, headers=admin)
    assert answer.status_code == 200 and answer.headers["x-cache"] == "off", "served uncached"
    link = gw.parts.redis
    assert link.outages == 1 and link.last_error is not None
    assert gw.client.get(COUNTIES, headers=admin).headers["x-cache"] == "off", "down for the cooldown"
    link.down_until = 0.0  # the cooldown is over
    assert gw.client.get(COUNTIES, headers=admin).headers["x-cache"] == "miss", (
        "entries of before are forgotten"
    )
    assert gw.client.get(COUNTIES, headers=admin).headers["x-cache"] == "hit"


def test_a_failed_invalidation_is_never_answered_by_a_stale_hit(gw: Gateway, admin: dict[str, str]) -> None:
    _warm(gw, admin)
    _stall(gw, 1)
    gw.client.portal.call(gw.parts.cache.invalidate, ROLLUPS)  # a write's invalidation times out
    assert gw.parts.redis.outages == 0, "one failure is no outage"
    assert gw.parts.cache.must_forget
    assert gw.client.get(COUNTIES, headers=admin).headers["x-cache"] == "miss", "no stale hit"
    assert not gw.parts.cache.must_forget
    assert gw.client.get(COUNTIES, headers=admin).headers["x-cache"] == "hit"


async def _timeout(_client: Any) -> None:
    raise redis.exceptions.TimeoutError("Timeout reading from 127.0.0.1:6379")


async def _ping(client: Any) -> Any:
    return await client.ping()


def test_only_consecutive_failures_make_an_outage() -> None:
    if not _redis_answers():
        unavailable("Redis", REDIS_URL)
    link = RedisLink(REDIS_URL, failures_for_outage=3)

    async def scenario() -> list[int]:
        outages = []
        for operation in (_timeout, _timeout, _ping, _timeout, _timeout, _ping, _timeout, _timeout, _timeout):
            with contextlib.suppress(RedisUnavailable):
                await link.run(operation)
            outages.append(link.outages)
        await link.close()
        return outages

    assert asyncio.run(scenario()) == [0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert link.down_until > 0 and link.last_error is not None


def test_a_refused_connection_is_an_outage_at_once() -> None:
    link = RedisLink(closed_url().replace("http://", "redis://") + "/0", failures_for_outage=3)

    async def scenario() -> None:
        with pytest.raises(RedisUnavailable):
            await link.run(_ping)
        await link.close()

    asyncio.run(scenario())
    assert link.outages == 1


def test_warming_the_connections_never_counts_toward_an_outage() -> None:
    """Start-up opens connections at once; those that fail (here: nothing listens) are not
    failed calls, so a busy start cannot declare an outage and empty the cache."""
    port = closed_url().rsplit(":", 1)[1]
    link = RedisLink(f"redis://127.0.0.1:{port}/0", timeout_s=0.2)

    async def warm_then_close() -> None:
        await link.warm()
        await link.close()

    asyncio.run(warm_then_close())
    assert (link.failures, link.outages, link.last_error) == (0, 0, None)
