"""Reading the event stream ``portfolio:events`` with a consumer group.

Each gateway process runs two consumers: ``gateway-cache`` (a change by any writer makes
the next rollup read fresh) and ``gateway-webhooks`` (queues deliveries). In a group, each
entry goes to one replica, which is enough: the cache and the delivery table are shared.
An entry is acknowledged (XACK) only after its handler succeeded; entries a dead replica
left pending are claimed after a minute (XAUTOCLAIM). Delivery is at least once and the
handlers are idempotent by ``event_id`` (bumping a cache generation twice is harmless; a
delivery row is unique per webhook and event). Groups start at the stream's end (``$``):
events from before the gateway first ran are history, not news. A group that disappears
while the gateway runs (Redis restarted without its data) is made again from the stream's
start (``0``): every entry of the new stream came after the loss, and the relays publish
the outbox backlog the moment Redis is back, usually before a consumer notices. With Redis
down the consumers wait and retry; nothing else is held up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from services.common.jsonio import loads
from services.common.outbox import STREAM
from services.gateway.redislink import connect

log = logging.getLogger("portfolio.gateway.events")

Handler = Callable[[list[dict[str, Any]]], Awaitable[None]]
CLAIM_IDLE_MS = 60_000
CLAIM_EVERY_S = 30.0


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def parse_entry(fields: dict[bytes, bytes]) -> dict[str, Any] | None:
    try:
        event = loads(fields[b"event"])
    except (KeyError, ValueError):
        return None
    return event if isinstance(event, dict) and event.get("event_id") else None


def _raise_if_cancelled() -> None:
    """The Redis client may turn a cancellation into its own error: never swallow a stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class StreamConsumer:
    def __init__(
        self,
        redis_url: str,
        group: str,
        consumer: str,
        handle: Handler,
        counter: Counter,
        block_ms: int = 1000,
        batch: int = 100,
    ) -> None:
        self.redis: Redis = connect(redis_url, timeout_s=block_ms / 1000 + 3)
        self.group = group
        self.consumer = consumer
        self.handle = handle
        self.counter = counter
        self.block_ms = block_ms
        self.batch = batch
        self.last_error: str | None = None
        self.stopped = False
        self._group_seen = False

    async def run(self) -> None:
        backoff = 0.5
        pending = True  # first re-read what this consumer was given but did not acknowledge
        last_claim = 0.0
        while not self.stopped:
            try:
                await self._ensure_group()
                if time.monotonic() - last_claim > CLAIM_EVERY_S:
                    last_claim = time.monotonic()
                    await self._claim_abandoned()
                count = await self._read_once("0" if pending else ">")
                pending = pending and count > 0
                backoff = 0.5
                if self.last_error:
                    log.info("%s: stream reachable again", self.group)
                    self.last_error = None
            except (RedisError, OSError) as exc:
                _raise_if_cancelled()
                if self.last_error is None:
                    log.warning("%s: cannot read %s, retrying: %s", self.group, STREAM, exc)
                self.last_error = str(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception:  # a handler failed: the entries stay pending and come back
                _raise_if_cancelled()
                log.exception("%s: handling events failed; they will be retried", self.group)
                pending = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(
                STREAM, self.group, id="0" if self._group_seen else "$", mkstream=True
            )
            if self._group_seen:
                log.warning(
                    "%s: the consumer group was gone (Redis lost its data); reading the stream anew",
                    self.group,
                )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_seen = True

    async def _read_once(self, start: str) -> int:
        try:
            answer = await self.redis.xreadgroup(
                self.group,
                self.consumer,
                {STREAM: start},
                count=self.batch,
                block=None if start == "0" else self.block_ms,
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # the stream or group was deleted: make it again
                return 0
            raise
        entries = [entry for _stream, stream_entries in answer or [] for entry in stream_entries]
        await self._process(entries)
        return len(entries)

    async def _process(self, entries: list[Any]) -> None:
        if not entries:
            return
        events = [event for _id, fields in entries if fields and (event := parse_entry(fields)) is not None]
        if events:
            await self.handle(events)
        await self.redis.xack(STREAM, self.group, *[entry_id for entry_id, _ in entries])
        self.counter.labels(self.group).inc(len(events))

    async def _claim_abandoned(self) -> None:
        try:
            result = await self.redis.xautoclaim(
                STREAM, self.group, self.consumer, CLAIM_IDLE_MS, "0-0", count=self.batch
            )
        except ResponseError:
            return
        await self._process(result[1] if len(result) > 1 else [])

    async def close(self) -> None:
        self.stopped = True
        await self.redis.aclose()  # type: ignore[attr-defined]
