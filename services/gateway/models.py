"""Tables of the gateway (its own registry, metadata and Alembic history).

- ``user``: people; argon2 password hash, role, counties, ``active`` (deleting deactivates,
  so the audit keeps its names). ``password_changed_at`` refuses tokens issued before it.
- ``api_key``: systems; only the SHA-256 of the key is kept, and its prefix to show admins.
- ``webhook`` and ``webhook_delivery``: one delivery row per webhook and event (unique, so a
  re-delivered stream entry adds nothing); ``attempt`` counts the tries made.
- ``admin_audit``: who changed which user, key or webhook, before and after; never a
  password, a hash or a key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.models import AuditFields, JSONType, TimestampField, UTCDateTime


class GatewayModel(SQLModel, registry=registry()):
    """Base of every table of this service."""


class User(GatewayModel, table=True):
    __tablename__ = "user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=20)
    counties: list[str] = Field(default_factory=list, sa_type=JSONType)
    active: bool = True
    password_changed_at: datetime = TimestampField()
    created_at: datetime = TimestampField()
    updated_at: datetime = TimestampField()


class ApiKey(GatewayModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=20)
    counties: list[str] = Field(default_factory=list, sa_type=JSONType)
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=20)
    created_at: datetime = TimestampField()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class Webhook(GatewayModel, table=True):
    __tablename__ = "webhook"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list, sa_type=JSONType)
    secret: str = Field(max_length=200)
    active: bool = True
    created_at: datetime = TimestampField()


class WebhookDelivery(GatewayModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_delivery_event"),
        Index("ix_webhook_delivery_due", "delivered_at", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(
        sa_column=Column(Integer, ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False)
    )
    event_id: str = Field(max_length=36)
    event_type: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    attempt: int = 0
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime | None = TimestampField(nullable=True)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    created_at: datetime = TimestampField()


class AdminAudit(AuditFields, GatewayModel, table=True):
    __tablename__ = "admin_audit"
    __table_args__ = (Index("ix_admin_audit_entity", "entity_type", "entity_id"),)

    entity_type: str = Field(max_length=20)
    entity_id: int
