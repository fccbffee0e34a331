"""Column sets every service's tables share: the outbox, the audit trail, idempotency keys.

Each service owns its own SQLModel registry (its own metadata and Alembic history) and
declares concrete tables from these mixins, e.g.
``class OutboxEvent(OutboxEventFields, ProjectsModel, table=True)``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC when read back (SQLite stores no
    zone, PostgreSQL returns the session's zone); naive values are taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def TimestampField(**kwargs: Any) -> Any:  # noqa: N802 - reads like a type in models
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kwargs)  # type: ignore[call-overload]


class OutboxEventFields(SQLModel):
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, unique=True)
    type: str = Field(max_length=64)
    entity_id: str = Field(max_length=64)
    version: int = 0
    actor: str = Field(max_length=200)
    occurred_at: datetime = TimestampField()
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class AuditFields(SQLModel):
    """One append-only row per write: who, when, what kind, before and after, the note."""

    id: int | None = Field(default=None, primary_key=True)
    version: int
    actor: str = Field(max_length=200)
    at: datetime = TimestampField()
    kind: str = Field(max_length=40)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    note: str | None = None
    request_id: str | None = Field(default=None, max_length=128)


class ChangeFields(BaseModel):
    """How an audit row reads in an API answer (``ProjectChangeRead``, ``IndicatorChangeRead``
    add the id of what changed); ``changed`` is the before/after of each field that moved."""

    id: int
    version: int
    actor: str
    at: datetime
    kind: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed: dict[str, dict[str, Any]]
    note: str | None


class IdempotencyKeyFields(SQLModel):
    """A remembered response for ``Idempotency-Key``: a retry returns it unchanged."""

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=300)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    body: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    headers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = TimestampField()
