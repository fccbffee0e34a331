"""Tables of the projects service (its own registry, metadata and Alembic history).

- ``project``: the library. Money is integer 万元; ``version`` moves on every write
  (optimistic concurrency); ``deleted_at`` marks a soft delete.
- ``project_share``: the project's money per county, kept in step with the project on every
  write (largest-remainder split of ``county_shares``). Rollups by county group this table,
  so every county row is an integer and the rows sum exactly to the totals.
- ``project_change``: append-only audit, one row per write (before and after).
- ``progress_report``: one per project and month.
- ``outbox`` and ``idempotency_key``: the shared mechanisms of ``services.common``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.models import (
    AuditFields,
    IdempotencyKeyFields,
    JSONType,
    OutboxEventFields,
    TimestampField,
    UTCDateTime,
)


class ProjectsModel(SQLModel, registry=registry()):
    """Base of every table of this service."""


class Project(ProjectsModel, table=True):
    __tablename__ = "project"
    __table_args__ = (
        # live projects by county and status, in investment order: the list's total and its
        # most common page (migration 0003)
        Index(
            "ix_project_live_county_status",
            "county",
            "status",
            "total_investment_wan",
            "id",
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
        Index("ix_project_sector", "sector"),
        Index("ix_project_sector_group", "sector_group"),
        Index("ix_project_invest_id", "total_investment_wan", "id"),
        Index("ix_project_start_year", "start_year"),
        Index("ix_project_parent", "parent_id"),
        Index(
            "ix_project_cells_stale",
            "id",
            postgresql_where=text("cells_version IS NULL OR cells_version <> version"),
            sqlite_where=text("cells_version IS NULL OR cells_version <> version"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=300, index=True)
    name_en: str | None = Field(default=None, max_length=300)
    description: str | None = None
    sector: str = Field(max_length=40)
    sector_group: str = Field(max_length=40)
    county: str = Field(max_length=20)
    zone: str | None = Field(default=None, max_length=200)
    owner_org: str | None = Field(default=None, max_length=200)
    total_investment_wan: int = Field(default=0, sa_type=BigInteger)
    completed_investment_wan: int = Field(default=0, sa_type=BigInteger)
    county_shares: dict[str, int] | None = Field(default=None, sa_type=JSONType)
    start_year: int
    end_year: int
    status: str = Field(default="planned", max_length=24)
    status_note: str | None = None
    status_changed_at: datetime | None = TimestampField(nullable=True)
    physical_progress_pct: int = 0
    last_report_period: str | None = Field(default=None, max_length=7)
    lat: float | None = None
    lon: float | None = None
    tags: list[str] = Field(default_factory=list, sa_type=JSONType)
    plan_section: str | None = Field(default=None, max_length=200)
    plan_category: str | None = Field(default=None, max_length=100)
    plan_line: int | None = None
    parent_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("project.id"), nullable=True)
    )
    version: int = 1
    #: the version whose contribution the rollup cells hold (see services.projects.aggregates)
    cells_version: int | None = None
    created_at: datetime = TimestampField()
    updated_at: datetime = TimestampField()
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ProjectShare(ProjectsModel, table=True):
    """A project's money in one county. The managing county always has a row (possibly
    0%) so that it carries the project's count and status in county rollups."""

    __tablename__ = "project_share"
    __table_args__ = (Index("ix_project_share_county", "county", "project_id"),)

    project_id: int = Field(
        sa_column=Column(Integer, ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    )
    county: str = Field(max_length=20, primary_key=True)
    pct: int
    is_managing: bool = False
    total_investment_wan: int = Field(default=0, sa_type=BigInteger)
    completed_investment_wan: int = Field(default=0, sa_type=BigInteger)


class ProjectChange(AuditFields, ProjectsModel, table=True):
    __tablename__ = "project_change"
    __table_args__ = (Index("ix_project_change_project", "project_id", "id"),)

    project_id: int = Field(sa_column=Column(Integer, ForeignKey("project.id"), nullable=False))


class ProgressReport(ProjectsModel, table=True):
    __tablename__ = "progress_report"
    __table_args__ = (UniqueConstraint("project_id", "period", name="uq_progress_report_project_period"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(sa_column=Column(Integer, ForeignKey("project.id"), nullable=False))
    period: str = Field(max_length=7)
    status: str = Field(max_length=24)
    investment_this_period_wan: int = Field(default=0, sa_type=BigInteger)
    physical_progress_pct: int = 0
    issues: str | None = None
    next_steps: str | None = None
    actor: str = Field(max_length=200)
    created_at: datetime = TimestampField()


class OutboxEvent(OutboxEventFields, ProjectsModel, table=True):
    __tablename__ = "outbox"


class IdempotencyKey(IdempotencyKeyFields, ProjectsModel, table=True):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)


def snapshot(project: Project) -> dict[str, Any]:
    """The project's fields as plain JSON values, for audit before/after."""
    data = project.model_dump(
        exclude={"created_at", "updated_at", "deleted_at", "status_changed_at", "cells_version"}
    )
    return data
