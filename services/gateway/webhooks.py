"""Webhook deliveries: events POSTed to the receivers admins registered.

- Queue: for each event from the stream, one ``webhook_delivery`` row per active webhook
  whose event patterns match (``project.created``, ``project.*``, ``*``); the row is unique
  per webhook and event, so a re-delivered stream entry queues nothing twice.
- Send: the body is the event as JSON, with ``X-Portfolio-Event-Id``,
  ``X-Portfolio-Event-Type`` and ``X-Portfolio-Signature: sha256=<hex HMAC-SHA256 of the
  body with the webhook's secret>``. A 2xx answer is delivered; anything else (an error
  status, a timeout, no connection) is retried after ``base * 2^(attempt-1)`` seconds
  (capped at an hour) until ``WEBHOOK_MAX_ATTEMPTS``, then given up (``next_attempt_at``
  null, no ``delivered_at``).
- Never blocking: deliveries run concurrently (``WEBHOOK_CONCURRENCY``) with a short
  timeout each, and at most ``WEBHOOK_CONCURRENCY_PER_RECEIVER`` to one webhook, so a
  receiver that hangs holds a few slots, never all of them, and the others' events still
  go out at once. A due row is claimed by moving its ``next_attempt_at`` forward (a lease)
  with a conditional UPDATE, so replicas do not send the same attempt twice, and a replica
  that dies mid-send leaves the row to be retried when the lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

import httpx
from fastapi.concurrency import run_in_threadpool
from httpx_aiohttp import AiohttpTransport
from prometheus_client import Counter
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from services.common.db import Database
from services.common.jsonio import dumps
from services.common.models import utcnow
from services.gateway.auth import signature
from services.gateway.models import Webhook, WebhookDelivery
from services.gateway.settings import GatewaySettings

log = logging.getLogger("portfolio.gateway.webhooks")
MAX_BACKOFF_S = 3600.0


def matches(patterns: list[str], event_type: str) -> bool:
    return any(fnmatchcase(event_type, pattern) for pattern in patterns)


def backoff_s(base: float, attempt: int) -> float:
    """Wait after the ``attempt``-th failed try: base, 2 base, 4 base … capped at an hour."""
    return float(min(base * 2 ** (attempt - 1), MAX_BACKOFF_S))


class WebhookDispatcher:
    def __init__(self, db: Database, settings: GatewaySettings, outcomes: Counter) -> None:
        self.db = db
        self.settings = settings
        self.outcomes = outcomes
        self.client = httpx.AsyncClient(transport=AiohttpTransport(), timeout=settings.webhook_timeout_s)
        self.wake = asyncio.Event()
        self.slots = asyncio.Semaphore(settings.webhook_concurrency)
        self.lease = timedelta(seconds=settings.webhook_timeout_s + 30)
        self.poll_s = min(1.0, settings.webhook_retry_base_s / 2)
        self._tasks: set[asyncio.Task[None]] = set()
        self.in_flight: dict[int, int] = {}  # webhook id -> deliveries being sent
        self.stopped = False

    # ---------------------------------------------------------------- queue

    async def enqueue(self, events: list[dict[str, Any]]) -> None:
        queued = await run_in_threadpool(self._enqueue, events)
        if queued:
            self.wake.set()

    def _enqueue(self, events: list[dict[str, Any]]) -> int:
        queued = 0
        with Session(self.db.writer) as session:
            hooks = list(session.scalars(select(Webhook).where(col(Webhook.active).is_(True))))
            for event in events:
                for hook in hooks:
                    if not matches(hook.events, str(event.get("type", ""))):
                        continue
                    try:
                        with session.begin_nested():
                            session.add(
                                WebhookDelivery(
                                    webhook_id=hook.id or 0,
                                    event_id=event["event_id"],
                                    event_type=event.get("type", ""),
                                    payload=event,
                                    next_attempt_at=utcnow(),
                                )
                            )
                        queued += 1
                    except IntegrityError:
                        pass  # already queued: the stream delivered this event again
            session.commit()
        return queued

    # ---------------------------------------------------------------- send

    async def run(self) -> None:
        while not self.stopped:
            room = {
                hook: self.settings.webhook_concurrency_per_receiver - n for hook, n in self.in_flight.items()
            }
            try:
                due = await run_in_threadpool(self._claim_due, self.settings.webhook_concurrency * 2, room)
            except Exception as exc:  # database busy or down: try again shortly
                log.warning("webhook queue not readable: %s", exc)
                due = []
            for item in due:
                self.in_flight[item["webhook_id"]] = self.in_flight.get(item["webhook_id"], 0) + 1
            for item in due:
                await self.slots.acquire()
                task = asyncio.create_task(self._deliver(item))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if not due:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.poll_s)
                self.wake.clear()

    def _claim_due(self, limit: int, room: dict[int, int] | None = None) -> list[dict[str, Any]]:
        """Claim up to ``limit`` due deliveries, at most ``room[hook]`` more for a webhook
        that already has deliveries on their way (none for one that has no room left)."""
        now = utcnow()
        claimed = []
        room = dict(room or {})
        full = [hook for hook, left in room.items() if left <= 0]
        with Session(self.db.writer) as session:
            rows = session.execute(
                select(WebhookDelivery, Webhook)
                .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
                .where(
                    col(WebhookDelivery.delivered_at).is_(None),
                    col(WebhookDelivery.next_attempt_at) <= now,
                    col(Webhook.active).is_(True),
                    col(WebhookDelivery.webhook_id).not_in(full),
                )
                .order_by(col(WebhookDelivery.next_attempt_at))
                .limit(limit)
            ).all()
            for delivery, hook in rows:
                left = room.get(delivery.webhook_id, self.settings.webhook_concurrency_per_receiver)
                if left <= 0:
                    continue
                room[delivery.webhook_id] = left - 1
                taken = session.execute(
                    update(WebhookDelivery)
                    .where(
                        col(WebhookDelivery.id) == delivery.id,
                        col(WebhookDelivery.next_attempt_at) == delivery.next_attempt_at,
                    )
                    .values(next_attempt_at=now + self.lease)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(
                        {
                            "id": delivery.id,
                            "webhook_id": delivery.webhook_id,
                            "url": hook.url,
                            "secret": hook.secret,
                            "payload": delivery.payload,
                            "attempt": delivery.attempt,
                            "event_id": delivery.event_id,
                            "event_type": delivery.event_type,
                        }
                    )
            session.commit()
        return claimed

    async def _deliver(self, item: dict[str, Any]) -> None:
        try:
            body = dumps(item["payload"])
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "jinzhou-portfolio-webhooks/1",
                "X-Portfolio-Event-Id": item["event_id"],
                "X-Portfolio-Event-Type": item["event_type"],
                "X-Portfolio-Delivery-Attempt": str(item["attempt"] + 1),
                "X-Portfolio-Signature": signature(item["secret"], body),
            }
            status: int | None = None
            error: str | None = None
            try:
                async with asyncio.timeout(self.settings.webhook_timeout_s):
                    response = await self.client.post(item["url"], content=body, headers=headers)
                status = response.status_code
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except (TimeoutError, httpx.TimeoutException):
                error = f"no answer within {self.settings.webhook_timeout_s:g} s"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            self.outcomes.labels("delivered" if error is None else "failed").inc()
            await run_in_threadpool(self._record, item, status, error)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", item["id"])
        finally:
            left = self.in_flight.get(item["webhook_id"], 1) - 1
            if left > 0:
                self.in_flight[item["webhook_id"]] = left
            else:
                self.in_flight.pop(item["webhook_id"], None)
            self.slots.release()

    def _record(self, item: dict[str, Any], status: int | None, error: str | None) -> None:
        attempt = item["attempt"] + 1
        now = utcnow()
        values: dict[str, Any] = {"attempt": attempt, "status_code": status, "error": error}
        if error is None:
            values.update(delivered_at=now, next_attempt_at=None)
        elif attempt >= self.settings.webhook_max_attempts:
            values.update(next_attempt_at=None)
            log.warning("webhook delivery %s given up after %s attempts: %s", item["id"], attempt, error)
        else:
            values.update(
                next_attempt_at=now
                + timedelta(seconds=backoff_s(self.settings.webhook_retry_base_s, attempt))
            )
        with Session(self.db.writer) as session:
            session.execute(
                update(WebhookDelivery).where(col(WebhookDelivery.id) == item["id"]).values(**values)
            )
            session.commit()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.client.aclose()
