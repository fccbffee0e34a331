"""The gateway's connection to Redis, which is optional and may fail at any time.

Every use goes through :meth:`RedisLink.run` with short timeouts and no retries. A failed
call raises :class:`RedisUnavailable`, which the caller turns into "serve uncached" or
"count in process". Redis is *declared down* (for ``cooldown_s``, so requests do not each
wait for a dead server, and ``outages`` counts one more, which later empties the cache)
only when it is really gone:

- at once when it refuses, resets or closes a connection (a stopped or restarted server);
- after ``failures_for_outage`` (3) failures in a row of any other kind (timeouts: a
  stalled server). One slow reply is one failed call, nothing more: the next success
  resets the count, and the cache keeps its entries.

A call that failed without an outage may still have lost a write (an invalidation that
timed out); :class:`~services.gateway.cache.ResponseCache` remembers those itself.

At most ``max_connections`` calls run at once, each on its own pooled connection: under
load, a call waits up to the timeout for a free one instead of opening ever more (a plain
pool behind a semaphore: redis-py's blocking pool costs every call a condition variable). A
call that found none free is not a failure of Redis and counts toward no outage.
:meth:`RedisLink.warm` opens a few connections at start-up, so the first burst of requests
does not open them all at once. ``/ready`` shows the state (not required).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

T = TypeVar("T")
log = logging.getLogger("portfolio.gateway.redis")

#: what redis-py says when the server closed the connection (a clean EOF)
SERVER_CLOSED = "Connection closed by server."
FAILURES_FOR_OUTAGE = 3
MAX_CONNECTIONS = 64
WARM_CONNECTIONS = 16


class RedisUnavailable(Exception):
    """Redis is not configured or not answering; the caller goes on without it."""


async def _ping(client: Redis) -> Any:
    return await client.ping()  # type: ignore[misc]


def connect(url: str, timeout_s: float, max_connections: int = MAX_CONNECTIONS) -> Redis:
    """A client on a pool of at most ``max_connections`` (one more is an error, not a wait)."""
    pool: ConnectionPool = ConnectionPool.from_url(
        url,
        max_connections=max_connections,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
    return Redis.from_pool(pool)  # type: ignore[attr-defined]  # the client closes its pool


def refused_or_dropped(exc: BaseException) -> bool:
    """True when Redis refused, reset or closed the connection (the server is gone), as
    opposed to a slow reply or a busy pool."""
    seen: BaseException | None = exc
    for _ in range(5):  # redis-py wraps the socket's error once or twice
        if seen is None:
            return False
        if isinstance(seen, builtins.ConnectionError):  # refused, reset, aborted, broken pipe
            return True
        if isinstance(seen, RedisConnectionError) and str(seen) == SERVER_CLOSED:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class RedisLink:
    def __init__(
        self,
        url: str | None,
        timeout_s: float = 0.5,
        cooldown_s: float = 3.0,
        failures_for_outage: int = FAILURES_FOR_OUTAGE,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.url = url
        self.client: Redis | None = connect(url, timeout_s, max_connections) if url else None
        self._scripts: dict[str, AsyncScript] = {}
        self.timeout_s = timeout_s
        self.max_connections = max_connections
        self._free = asyncio.Semaphore(max_connections)
        self.cooldown_s = cooldown_s
        self.failures_for_outage = failures_for_outage
        self.down_until = 0.0
        self.last_error: str | None = None
        #: calls that failed in a row (a success resets it)
        self.failures = 0
        #: how many times Redis went down; the cache compares it to know it must forget
        self.outages = 0

    @property
    def configured(self) -> bool:
        return self.client is not None

    def script(self, source: str) -> AsyncScript:
        """``source`` as redis-py's script object, made once: Redis runs it by its SHA1
        (``EVALSHA``), the text is sent again only when Redis lost it (``NOSCRIPT``, after a
        restart). ``EVAL`` sent and hashed the whole text on every call: 25 us of the
        gateway's 270 us on a cached read."""
        script = self._scripts.get(source)
        if script is None:
            if self.client is None:
                raise RedisUnavailable("REDIS_URL not set")
            script = self._scripts[source] = self.client.register_script(source)
        return script

    async def run(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        if self.client is None:
            raise RedisUnavailable("REDIS_URL not set")
        if time.monotonic() < self.down_until:
            raise RedisUnavailable(self.last_error or "down")
        if self._free.locked():  # every connection is busy: wait for one, within the timeout
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self._free.acquire()
            except TimeoutError:
                raise RedisUnavailable(f"all {self.max_connections} connections busy") from None
        else:
            await self._free.acquire()  # a free one: no wait
        try:
            result = await operation(self.client)
        except (RedisError, OSError, TimeoutError) as exc:
            self.failed(exc)
            raise RedisUnavailable(str(exc)) from exc
        finally:
            self._free.release()
        self.failures = 0
        if self.last_error is not None:
            log.warning("redis is back")
            self.last_error = None
        return result

    def failed(self, exc: BaseException) -> None:
        """One call failed: an outage when the server is gone, when it was already down,
        or when this is the ``failures_for_outage``-th failure in a row."""
        self.failures += 1
        if (
            self.last_error is not None
            or self.failures >= self.failures_for_outage
            or refused_or_dropped(exc)
        ):
            self.mark_down(exc)
        else:
            log.info(
                "redis call failed (%s of %s before an outage): %s",
                self.failures,
                self.failures_for_outage,
                exc,
            )

    def mark_down(self, exc: BaseException) -> None:
        if self.last_error is None:
            log.warning("redis unavailable, serving uncached: %s", exc)
            self.outages += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.down_until = time.monotonic() + self.cooldown_s

    async def warm(self, connections: int = WARM_CONNECTIONS) -> None:
        """Open ``connections`` connections now (that many pings at once), best effort: a
        failure here is neither a failed call nor an outage; a Redis that does not answer is
        left for the first real use to find out."""
        if self.client is None:
            return
        client = self.client

        async def ping() -> None:
            # not through run(): opening 16 connections at once in a busy process may time
            # out some, which says nothing of Redis and must not count toward an outage
            # (that would empty the cache at every start); a real outage shows at first use
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await _ping(client)

        await asyncio.gather(*(ping() for _ in range(connections)))

    async def status(self) -> dict[str, Any]:
        if self.client is None:
            return {
                "ok": True,
                "required": False,
                "detail": "not configured: no cache, in-process rate limits",
            }
        try:
            await self.run(_ping)
        except RedisUnavailable as exc:
            return {"ok": False, "required": False, "detail": f"unavailable, serving uncached: {exc}"}
        return {"ok": True, "required": False}

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()  # type: ignore[attr-defined]
