"""The gateway's connection to Redis, which is optional and may fail at any time.

Every use goes through :meth:`RedisLink.run` with short timeouts and no retries; a failure
marks Redis down for a few seconds (so requests do not each wait for a dead server) and
raises :class:`RedisUnavailable`, which callers turn into "serve uncached" or "count in
process". ``/ready`` shows the state (not required).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

T = TypeVar("T")
log = logging.getLogger("portfolio.gateway.redis")


class RedisUnavailable(Exception):
    """Redis is not configured or not answering; the caller goes on without it."""


def connect(url: str, timeout_s: float) -> Redis:
    return Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0)
    )


class RedisLink:
    def __init__(self, url: str | None, timeout_s: float = 0.5, cooldown_s: float = 3.0) -> None:
        self.url = url
        self.client: Redis | None = connect(url, timeout_s) if url else None
        self.cooldown_s = cooldown_s
        self.down_until = 0.0
        self.last_error: str | None = None
        #: how many times Redis went down; the cache compares it to know it must forget
        self.outages = 0

    @property
    def configured(self) -> bool:
        return self.client is not None

    async def run(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        if self.client is None:
            raise RedisUnavailable("REDIS_URL not set")
        if time.monotonic() < self.down_until:
            raise RedisUnavailable(self.last_error or "down")
        try:
            result = await operation(self.client)
        except (RedisError, OSError, TimeoutError) as exc:
            self.mark_down(exc)
            raise RedisUnavailable(str(exc)) from exc
        if self.last_error is not None:
            log.warning("redis is back")
            self.last_error = None
        return result

    def mark_down(self, exc: BaseException) -> None:
        if self.last_error is None:
            log.warning("redis unavailable, serving uncached: %s", exc)
            self.outages += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.down_until = time.monotonic() + self.cooldown_s

    async def status(self) -> dict[str, Any]:
        if self.client is None:
            return {
                "ok": True,
                "required": False,
                "detail": "not configured: no cache, in-process rate limits",
            }
        try:
            await self.run(lambda r: r.ping())
        except RedisUnavailable as exc:
            return {"ok": False, "required": False, "detail": f"unavailable, serving uncached: {exc}"}
        return {"ok": True, "required": False}

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()  # type: ignore[attr-defined]
