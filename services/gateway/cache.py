"""Response cache for rollups and reference data in Redis (bytes in, bytes out).

Keys: a namespace's entries live in one hash ``gw:cache:<namespace>:<generation>``, field
``<path>?<sorted query>``. A read fetches the current generation and the field in one
round trip (a Lua script). Invalidation is ``INCR gw:cache:<namespace>:gen``: the next read
looks in a new, empty hash; old hashes expire by TTL. A missing generation starts at the
Redis clock (microseconds), so generations only ever rise, even across an empty restart. A response fetched before a write
is stored under the generation read before the fetch, which nobody reads any more, so a
read racing a write can never leave a stale entry behind.

Invalidated: ``rollups`` on every successful write through this gateway and on every event
of the stream (other writers). ``reference`` only by TTL (code lists change with a deploy).
When Redis was down, the first successful use bumps every generation first (writes during
the outage could not invalidate). Without ``REDIS_URL`` nothing is cached.
"""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qsl, urlencode

from prometheus_client import Counter

from services.gateway.redislink import RedisLink, RedisUnavailable

ROLLUPS = "rollups"
REFERENCE = "reference"
NAMESPACES = (ROLLUPS, REFERENCE)

#: a generation that does not exist yet starts at the Redis server's clock in microseconds,
#: not at 0: a Redis that restarts empty must never count up again to a generation it
#: handed out before (a slow read that began before the restart may have stored its answer
#: under that number after it)
_SEED = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], now[1] .. string.format('%06d', tonumber(now[2])))
end
"""
_GET = (
    _SEED
    + """
local gen = redis.call('GET', KEYS[1])
return {gen, redis.call('HGET', KEYS[2] .. gen, ARGV[1])}
"""
)
_BUMP = _SEED + "return redis.call('INCR', KEYS[1])"


def cache_field(path: str, query: str) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return f"{path}?{urlencode(pairs)}"


class ResponseCache:
    def __init__(self, link: RedisLink, ttl_s: dict[str, int], hits: Counter, misses: Counter) -> None:
        self.link = link
        self.ttl_s = ttl_s
        self.hits = hits
        self.misses = misses
        self._seen_outages = 0

    @property
    def enabled(self) -> bool:
        return self.link.configured

    async def get(self, namespace: str, field: str) -> tuple[bytes | None, str | None]:
        """The cached body (or None) and the generation to store a fresh one under (None
        when Redis is off or down: then nothing is stored)."""
        if not self.enabled:
            return None, None
        try:
            await self._forget_after_outage()
            generation, cached = await self.link.run(
                lambda r: r.eval(_GET, 2, f"gw:cache:{namespace}:gen", f"gw:cache:{namespace}:", field)  # type: ignore[misc]
            )
        except RedisUnavailable:
            return None, None
        if cached is not None:
            self.hits.labels(namespace).inc()
            return bytes(cached), None
        self.misses.labels(namespace).inc()
        return None, generation.decode()

    async def put(self, namespace: str, generation: str | None, field: str, body: bytes) -> None:
        if generation is None:
            return
        key = f"gw:cache:{namespace}:{generation}"
        ttl = self.ttl_s[namespace]
        with contextlib.suppress(RedisUnavailable):
            await self.link.run(
                lambda r: r.pipeline(transaction=False).hset(key, field, body).expire(key, ttl).execute()
            )

    async def invalidate(self, *namespaces: str) -> None:
        """The next read of these namespaces is fresh (a no-op without Redis)."""
        if not self.enabled:
            return
        # on failure Redis is marked down: the first use after the outage bumps every generation
        with contextlib.suppress(RedisUnavailable):
            await self.link.run(lambda r: self._bump(r, namespaces or (ROLLUPS,)))

    async def _forget_after_outage(self) -> None:
        outages = self.link.outages
        if outages != self._seen_outages:
            await self.link.run(lambda r: self._bump(r, NAMESPACES))
            self._seen_outages = outages

    @staticmethod
    async def _bump(client: object, namespaces: tuple[str, ...]) -> None:
        pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
        for namespace in namespaces:
            pipe.eval(_BUMP, 1, f"gw:cache:{namespace}:gen")
        await pipe.execute()


__all__ = ["ROLLUPS", "REFERENCE", "ResponseCache", "cache_field", "RedisUnavailable"]
