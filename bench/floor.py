"""The floor of P2: the least an HTTP server must do to answer the cached county rollup.

A bare ASGI app (no framework, no authentication, no rate limit, no middleware) that, for
every request, reads the gateway's cached ``/api/v1/rollups/counties`` answer from Redis
with the gateway's own read script (the current generation and the hash field in one round
trip, :mod:`services.gateway.cache`) and returns those bytes. The suite serves it with
uvicorn exactly like ``portfolio serve`` serves the gateway (same host, same number of
workers), so P2's ratio is what the gateway's own work costs on top of Redis and HTTP.

    REDIS_URL=redis://127.0.0.1:6379/12 python -m uvicorn bench.floor:create_app --factory

``GET /health`` answers ``ok`` (readiness); any other path answers the cached bytes, or
404 while nothing is cached.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from services.gateway.cache import _GET as CACHE_READ  # the gateway's own read: same work in Redis
from services.gateway.cache import ROLLUPS, cache_field

COUNTY_ROLLUP_FIELD = cache_field("/api/v1/rollups/counties", "")
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
JSON_HEADERS = [(b"content-type", b"application/json")]
TEXT_HEADERS = [(b"content-type", b"text/plain")]


def create_app(redis_url: str | None = None) -> Callable[[dict[str, Any], Receive, Send], Awaitable[None]]:
    client = aioredis.Redis.from_url(redis_url or os.environ["REDIS_URL"])
    keys = [f"gw:cache:{ROLLUPS}:gen", f"gw:cache:{ROLLUPS}:"]
    read = client.register_script(CACHE_READ)  # by its SHA, as the gateway runs it (RedisLink.script)

    async def answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await client.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["path"] == "/health":
            await answer(send, 200, TEXT_HEADERS, b"ok")
            return
        _generation, cached = await read(keys=keys, args=[COUNTY_ROLLUP_FIELD], client=client)
        if cached is None:
            await answer(send, 404, TEXT_HEADERS, b"not cached")
        else:
            await answer(send, 200, JSON_HEADERS, bytes(cached))

    return app
