"""Rate limits: a sliding-window counter per key (principal, or login username + IP).

The window is estimated from two fixed one-minute buckets: ``previous * (1 - elapsed) +
current`` (Cloudflare's approximation: one round trip, exact enough, no per-request lists).
Counters live in Redis when it answers, so replicas share them; otherwise in this process.
A refused request gets 429 with ``Retry-After``: the seconds until the estimate is below
the limit again.

The rules are plain functions shared by every counter: :func:`window` (which buckets a
moment falls in), :data:`COUNT_SCRIPT` (one request counted in Redis) and :func:`verdict`
(allowed, or the Retry-After). The gateway's fast path for cached reads
(:mod:`services.gateway.fastpath`) runs the same script and the same verdict in the round
trip that reads the cache, and hands its :class:`Counted` on, so a request it passes to the
route is not counted twice.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from services.gateway.redislink import RedisLink, RedisUnavailable

WINDOW_S = 60
#: where the fast path leaves its :class:`Counted` in the request's state
COUNTED_STATE = "rate_limit_counted"

#: one request counted: KEYS[1] this minute's counter (kept for two windows, ARGV[1] s),
#: KEYS[2] the previous minute's; answers ``{current, previous}``
COUNT_SCRIPT = """
local current = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return {current, redis.call('GET', KEYS[2])}
"""
COUNTER_TTL_S = WINDOW_S * 2


@dataclass(frozen=True)
class Window:
    """The minute a moment falls in, for one key: its counter, the previous minute's, and
    how many seconds of it have passed."""

    bucket: int
    elapsed: float
    current_key: str
    previous_key: str


@dataclass(frozen=True)
class Counted:
    """A request already counted against ``key``, and the verdict (None: allowed)."""

    key: str
    retry_after: int | None


def window(key: str, now: float) -> Window:
    bucket = int(now // WINDOW_S)
    return Window(bucket, now - bucket * WINDOW_S, f"gw:rl:{key}:{bucket}", f"gw:rl:{key}:{bucket - 1}")


def verdict(previous: int, current: int, elapsed: float, limit: int) -> int | None:
    """``None`` when the request just counted (``current`` includes it) is allowed, else
    the Retry-After seconds."""
    if _estimate(previous, current - 1, elapsed) >= limit:
        return _retry_after(previous, current - 1, elapsed, limit)
    return None


def _estimate(previous: int, current: int, elapsed: float) -> float:
    return previous * (1 - elapsed / WINDOW_S) + current


def _retry_after(previous: int, current: int, elapsed: float, limit: int) -> int:
    """Seconds until ``previous * (1 - t / WINDOW) + current <= limit`` again."""
    if current >= limit:  # this bucket alone is full: wait for it to become "previous" and fade
        return max(1, math.ceil(WINDOW_S - elapsed + WINDOW_S * (1 - limit / (current + 1))))
    if previous == 0:
        return max(1, math.ceil(WINDOW_S - elapsed))
    until = WINDOW_S * (1 - (limit - current) / previous)
    return max(1, math.ceil(until - elapsed))


class RateLimiter:
    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._local: dict[str, tuple[int, int, int]] = {}  # key -> (bucket, previous, current)

    async def hit(self, key: str, limit: int, now: float | None = None) -> int | None:
        """Count one request; ``None`` when allowed, else the Retry-After seconds."""
        if limit <= 0:
            return None
        span = window(key, time.time() if now is None else now)
        try:
            previous, current = await self._redis_hit(span)
        except RedisUnavailable:
            previous, current = self._local_hit(key, span.bucket)
        return verdict(previous, current, span.elapsed, limit)

    async def _redis_hit(self, span: Window) -> tuple[int, int]:
        count = self.link.script(COUNT_SCRIPT)
        current, previous = await self.link.run(
            lambda r: count(keys=[span.current_key, span.previous_key], args=[COUNTER_TTL_S], client=r)
        )
        return int(previous or 0), int(current)

    def _local_hit(self, key: str, bucket: int) -> tuple[int, int]:
        stored_bucket, previous, current = self._local.get(key, (bucket, 0, 0))
        if stored_bucket == bucket - 1:
            previous, current = current, 0
        elif stored_bucket != bucket:
            previous, current = 0, 0
        current += 1
        self._local[key] = (bucket, previous, current)
        if len(self._local) > 100_000:  # forget idle keys rather than grow without bound
            self._local = {k: v for k, v in self._local.items() if v[0] >= bucket - 1}
        return previous, current
