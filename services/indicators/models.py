"""Tables of the indicators service (its own registry, metadata and Alembic history).

- ``indicator``: what the plan promises, with the texts as written; ``version`` moves on
  every write, an observation included (optimistic concurrency, ETag).
- ``observation``: yearly values. A correction never overwrites: the current row of an
  indicator and year gets ``superseded_at`` and a new row with the next ``revision`` becomes
  current. A partial unique index keeps exactly one current row per indicator and year
  (``superseded_at IS NULL``) and ``(indicator_id, year, revision)`` is unique, so two
  concurrent corrections cannot both win.
- ``indicator_change``: append-only audit, one row per write (before and after).
- ``outbox`` and ``idempotency_key``: the shared mechanisms of ``services.common``.

Values are exact decimals: ``NUMERIC(20, 6)`` on both backends (see :class:`ExactDecimal`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, Numeric, UniqueConstraint, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

from services.common.jsonio import dumps, loads
from services.common.models import (
    AuditFields,
    IdempotencyKeyFields,
    OutboxEventFields,
    TimestampField,
    UTCDateTime,
)


class _SqliteNumericAsIs(Numeric[Decimal]):
    """NUMERIC without SQLAlchemy's float conversions: the driver's value passes as is."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class ExactDecimal(TypeDecorator[Decimal]):
    """``NUMERIC(20, 6)`` that stays exact on SQLite too.

    SQLAlchemy's ``Numeric`` on SQLite converts through ``float`` and pads to the scale. This
    binds the decimal's text instead (SQLite's NUMERIC affinity stores an integer or a real)
    and reads a real back through its shortest repr, so a value of up to 15 significant
    digits (the schemas' limit) comes back as the same ``Decimal``. PostgreSQL stores it
    natively.
    """

    impl = Numeric(20, 6)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteNumericAsIs(20, 6))
        return dialect.type_descriptor(Numeric(20, 6))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return str(value if isinstance(value, Decimal) else Decimal(str(value)))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


class IndicatorsModel(SQLModel, registry=registry()):
    """Base of every table of this service."""


class Indicator(IndicatorsModel, table=True):
    __tablename__ = "indicator"
    __table_args__ = (
        Index("ix_indicator_scope", "scope"),
        Index("ix_indicator_category", "category"),
        Index("ix_indicator_target_kind", "target_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=300)
    name_en: str | None = Field(default=None, max_length=300)
    category: str = Field(max_length=40)
    unit: str = Field(default="", max_length=40)
    scope: str = Field(default="city", max_length=20)
    direction: str = Field(max_length=10)
    baseline_year: int | None = None
    baseline_value: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    baseline_text: str | None = Field(default=None, max_length=200)
    target_year: int
    target_value: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    target_text: str | None = Field(default=None, max_length=200)
    target_growth_pct: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    growth_text: str | None = Field(default=None, max_length=200)
    target_kind: str = Field(max_length=16)
    attribute: str | None = Field(default=None, max_length=10)
    period_start: int
    period_end: int
    source: str | None = Field(default=None, max_length=200)
    plan_line: int | None = None
    quote: str | None = None
    at_risk_band_pts: Decimal = Field(default=Decimal(10), sa_type=ExactDecimal)
    version: int = 1
    created_at: datetime = TimestampField()
    updated_at: datetime = TimestampField()


class Observation(IndicatorsModel, table=True):
    """One recorded value of an indicator for a year; current while ``superseded_at`` is
    null. Rows are only ever inserted, and superseded once."""

    __tablename__ = "observation"
    __table_args__ = (
        UniqueConstraint("indicator_id", "year", "revision", name="uq_observation_revision"),
        Index(
            "uq_observation_current",
            "indicator_id",
            "year",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(sa_column=Column(Integer, ForeignKey("indicator.id"), nullable=False))
    year: int
    value: Decimal = Field(sa_type=ExactDecimal)
    value_text: str | None = Field(default=None, max_length=200)
    note: str | None = None
    source: str | None = Field(default=None, max_length=200)
    plan_line: int | None = None
    revision: int = 1
    actor: str = Field(max_length=200)
    recorded_at: datetime = TimestampField()
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None


class IndicatorChange(AuditFields, IndicatorsModel, table=True):
    __tablename__ = "indicator_change"
    __table_args__ = (Index("ix_indicator_change_indicator", "indicator_id", "id"),)

    indicator_id: int = Field(sa_column=Column(Integer, ForeignKey("indicator.id"), nullable=False))


class OutboxEvent(OutboxEventFields, IndicatorsModel, table=True):
    __tablename__ = "outbox"


class IdempotencyKey(IdempotencyKeyFields, IndicatorsModel, table=True):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)


def json_safe(value: Any) -> Any:
    """Plain JSON values (decimals as numbers, datetimes as ISO text) for JSON columns."""
    return loads(dumps(value))


def snapshot(indicator: Indicator) -> dict[str, Any]:
    """The indicator's fields as plain JSON values, for audit before/after."""
    return json_safe(indicator.model_dump(exclude={"created_at", "updated_at"}))


def observation_snapshot(observation: Observation) -> dict[str, Any]:
    return json_safe(
        observation.model_dump(
            include={"id", "year", "value", "value_text", "note", "source", "plan_line", "revision"}
        )
    )
