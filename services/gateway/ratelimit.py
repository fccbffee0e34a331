"""Rate limits: a sliding-window counter per key (principal, or login username + IP).

The window is estimated from two fixed one-minute buckets: ``previous * (1 - elapsed) +
current`` (Cloudflare's approximation: one round trip, exact enough, no per-request lists).
Counters live in Redis when it answers, so replicas share them; otherwise in this process.
A refused request gets 429 with ``Retry-After``: the seconds until the estimate is below
the limit again.
"""

from __future__ import annotations

import math
import time

from services.gateway.redislink import RedisLink, RedisUnavailable

WINDOW_S = 60


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
        now = time.time() if now is None else now
        bucket = int(now // WINDOW_S)
        elapsed = now - bucket * WINDOW_S
        try:
            previous, current = await self._redis_hit(key, bucket)
        except RedisUnavailable:
            previous, current = self._local_hit(key, bucket)
        if _estimate(previous, current - 1, elapsed) >= limit:
            return _retry_after(previous, current - 1, elapsed, limit)
        return None

    async def _redis_hit(self, key: str, bucket: int) -> tuple[int, int]:
        current_key = f"gw:rl:{key}:{bucket}"

        async def run(client: object) -> list[object]:
            pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
            pipe.incr(current_key)
            pipe.expire(current_key, WINDOW_S * 2)
            pipe.get(f"gw:rl:{key}:{bucket - 1}")
            result: list[object] = await pipe.execute()
            return result

        current, _, previous = await self.link.run(run)
        return int(previous or 0), int(current)  # type: ignore[call-overload]

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
