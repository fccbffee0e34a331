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
the outage could not invalidate). So does the first use after an invalidation that failed
without Redis being declared down (one timed-out ``INCR``: :mod:`services.gateway.redislink`
declares an outage only after several failures in a row): until that bump no entry is
served (:attr:`ResponseCache.must_forget`). Another replica learns of such a write from its
event on the stream, which invalidates there too. Without ``REDIS_URL`` nothing is cached.

Which reads are cached, and under which namespace and field, is the one table
:data:`CACHED_READS`: the routes and the gateway's fast path
(:mod:`services.gateway.fastpath`) both ask :func:`cache_entry`, so they can only ever
read and write the same entries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from prometheus_client import Counter

from services.gateway.redislink import RedisLink, RedisUnavailable
from services.gateway.roles import API

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
#: the read (KEYS: :func:`read_keys`, ARGV[1]: the field), also run by the fast path inside
#: its own script and by the benchmark's floor app
READ_SCRIPT = _GET


def read_keys(namespace: str) -> tuple[str, str]:
    """The keys of :data:`READ_SCRIPT`: the namespace's generation and its hashes' prefix."""
    return f"gw:cache:{namespace}:gen", f"gw:cache:{namespace}:"


def cache_field(path: str, query: str) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return f"{path}?{urlencode(pairs)}"


def without_query(path: str, query: str) -> str | None:
    """The one entry of a route that takes no query parameter; none for a request that
    names one (the route refuses it, 422, so nothing may answer it from the cache)."""
    return None if parse_qsl(query, keep_blank_values=True) else cache_field(path, "")


@dataclass(frozen=True)
class CachedRead:
    """A cached GET: its namespace, and its field for a request's path and query (None:
    this request is not answered from the cache)."""

    namespace: str
    field: Callable[[str, str], str | None]


CACHED_READS: dict[str, CachedRead] = {
    # entries exist only for queries the route validated (it stores after validating)
    f"{API}/rollups": CachedRead(ROLLUPS, cache_field),
    # composed by the gateway; /rollups/sectors is stored as the /rollups it asks for
    f"{API}/rollups/counties": CachedRead(ROLLUPS, without_query),
    f"{API}/reference/counties": CachedRead(REFERENCE, cache_field),
    f"{API}/reference/sectors": CachedRead(REFERENCE, cache_field),
    f"{API}/reference/statuses": CachedRead(REFERENCE, cache_field),
    f"{API}/reference/target-kinds": CachedRead(REFERENCE, cache_field),
    # counts of indicators per category: a write changes them, so invalidated like rollups
    f"{API}/reference/indicator-categories": CachedRead(ROLLUPS, cache_field),
}


def cache_entry(path: str, query: str) -> tuple[str, str] | None:
    """The namespace and field a GET of ``path?query`` is cached under, or None."""
    read = CACHED_READS.get(path)
    if read is None:
        return None
    field = read.field(path, query)
    return None if field is None else (read.namespace, field)


class ResponseCache:
    def __init__(self, link: RedisLink, ttl_s: dict[str, int], hits: Counter, misses: Counter) -> None:
        self.link = link
        self.ttl_s = ttl_s
        self.hits = hits
        self.misses = misses
        self._hit_series: dict[str, Any] = {}
        self._seen_outages = 0
        #: invalidations that failed, and how many of them a bump has made good
        self._lost_invalidations = 0
        self._seen_lost_invalidations = 0

    @property
    def enabled(self) -> bool:
        return self.link.configured

    @property
    def must_forget(self) -> bool:
        """True while an outage or a failed invalidation has not been made good by bumping
        every generation (the next :meth:`get` does it): until then nothing may be served."""
        return (
            self.link.outages != self._seen_outages
            or self._lost_invalidations != self._seen_lost_invalidations
        )

    def count_hit(self, namespace: str) -> None:
        series = self._hit_series.get(namespace)  # ``labels`` checks and hashes on every call
        if series is None:
            series = self._hit_series[namespace] = self.hits.labels(namespace)
        series.inc()

    async def get(self, namespace: str, field: str) -> tuple[bytes | None, str | None]:
        """The cached body (or None) and the generation to store a fresh one under (None
        when Redis is off or down: then nothing is stored)."""
        if not self.enabled:
            return None, None
        try:
            await self._forget_after_outage()
            read = self.link.script(READ_SCRIPT)
            generation, cached = await self.link.run(
                lambda r: read(keys=read_keys(namespace), args=[field], client=r)
            )
        except RedisUnavailable:
            return None, None
        if cached is not None:
            self.count_hit(namespace)
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
        try:
            await self.link.run(lambda r: self._bump(r, namespaces or (ROLLUPS,)))
        except RedisUnavailable:
            # the entries may be stale now, whether or not Redis was declared down: the
            # next use bumps every generation first
            self._lost_invalidations += 1

    async def _forget_after_outage(self) -> None:
        """Bump every generation once after an outage or a failed invalidation. The counts
        are read before the bump: one that rises meanwhile is made good by the next use."""
        outages, lost = self.link.outages, self._lost_invalidations
        if outages != self._seen_outages or lost != self._seen_lost_invalidations:
            await self.link.run(lambda r: self._bump(r, NAMESPACES))
            self._seen_outages, self._seen_lost_invalidations = outages, lost

    @staticmethod
    async def _bump(client: object, namespaces: tuple[str, ...]) -> None:
        pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
        for namespace in namespaces:
            pipe.eval(_BUMP, 1, f"gw:cache:{namespace}:gen")
        await pipe.execute()


__all__ = [
    "CACHED_READS",
    "REFERENCE",
    "ROLLUPS",
    "RedisUnavailable",
    "ResponseCache",
    "cache_entry",
    "cache_field",
]
