"""Transactional outbox and its relay to the Redis stream ``portfolio:events``.

Every write records its event row in the same transaction as the change itself
(:func:`record_event`), so an event exists if and only if the change committed. A relay
(:class:`OutboxRelay`, one thread per service process) publishes unsent rows in id order to
the stream and marks them sent. With several replicas the rows are claimed with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL. Without Redis, events simply stay in the outbox.
Delivery is at least once (a crash between XADD and the mark re-sends a row); consumers are
idempotent by ``event_id``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from services.common.jsonio import dumps
from services.common.models import OutboxEventFields, utcnow

STREAM = "portfolio:events"
STREAM_MAXLEN = 1_000_000

log = logging.getLogger("portfolio.outbox")


def record_event(
    session: Session,
    model: type[OutboxEventFields],
    *,
    type: str,
    entity_id: str | int,
    version: int,
    actor: str,
    data: dict[str, Any],
) -> OutboxEventFields:
    event = model(
        event_id=str(uuid.uuid4()),
        type=type,
        entity_id=str(entity_id),
        version=version,
        actor=actor,
        data=data,
    )
    session.add(event)
    return event


def event_payload(row: OutboxEventFields) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "type": row.type,
        "entity_id": row.entity_id,
        "version": row.version,
        "actor": row.actor,
        "occurred_at": row.occurred_at.isoformat() if row.occurred_at else None,
        "data": row.data,
    }


def relay_once(engine: Engine, model: type[OutboxEventFields], redis_client: Any, batch: int = 200) -> int:
    """Publish up to ``batch`` unsent events; returns how many were published."""
    table: Any = model
    with Session(engine) as session:
        query = select(table).where(table.published_at.is_(None)).order_by(table.id).limit(batch)
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query))
        if not rows:
            session.rollback()
            return 0
        pipe = redis_client.pipeline(transaction=False)
        for row in rows:
            payload = event_payload(row)
            pipe.xadd(
                STREAM,
                {"event_id": row.event_id, "type": row.type, "event": dumps(payload)},
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
        pipe.execute()
        session.execute(
            update(table).where(table.id.in_([row.id for row in rows])).values(published_at=utcnow())
        )
        session.commit()
        return len(rows)


class OutboxRelay:
    """Background thread that drains the outbox to Redis; woken early by :meth:`notify`."""

    def __init__(
        self, engine: Engine, model: type[OutboxEventFields], redis_url: str, interval_s: float = 0.5
    ) -> None:
        import redis

        self.engine = engine
        self.model = model
        self.interval_s = interval_s
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current batch (graceful shutdown)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                published = relay_once(self.engine, self.model, self.redis)
                self.last_error = None
            except Exception as exc:  # Redis or database down: keep the rows, try again later
                published = 0
                if self.last_error != str(exc):
                    log.warning("outbox relay paused: %s", exc)
                self.last_error = str(exc)
            if published:
                continue
            self._wake.wait(self.interval_s)
            self._wake.clear()
