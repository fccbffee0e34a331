"""Request and response shapes of the gateway's own endpoints (auth, administration,
composed rollups) and the problem-details shape every error uses. The shapes of projects
and indicators are the services' own schemas, imported by the routes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.common.principal import Role
from services.projects.schemas import check_county

USERNAME_RE = re.compile(r"^[\w.@\-]{2,100}$")
EVENT_PATTERN = r"^(\*|[a-z_]+\.(\*|[a-z_]+))$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _check_counties(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    for value in values:
        check_county(value)
    return sorted(set(values))


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, Any]] | None = Field(
        None, description="per field: {loc, message} (validation only)"
    )


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")


class Me(BaseModel):
    actor: str
    kind: Literal["user", "api_key"]
    id: int
    role: Role
    counties: list[str]


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=100, examples=["heishan.manager"])
    password: str = Field(min_length=8, max_length=200, examples=["a long passphrase"])
    role: Role
    counties: list[str] = Field(default_factory=list, examples=[["heishan"]])

    _counties = field_validator("counties")(_check_counties)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not USERNAME_RE.match(value):
            raise ValueError("用户名只能含字母、数字和 . _ @ - | username: letters, digits and . _ @ - only")
        return value


class UserUpdate(Strict):
    role: Role | None = None
    counties: list[str] | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=200)

    _counties = field_validator("counties")(_check_counties)


class UserRead(BaseModel):
    id: int
    username: str
    role: Role
    counties: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class UserList(BaseModel):
    items: list[UserRead]


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=100, examples=["statistics-bureau-sync"])
    role: Role
    counties: list[str] = Field(default_factory=list)

    _counties = field_validator("counties")(_check_counties)


class ApiKeyRead(BaseModel):
    id: int
    name: str
    role: Role
    counties: list[str]
    prefix: str = Field(description="the key starts with jzp_<prefix>_")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="the key itself; shown only in this answer, store it now")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]


class WebhookCreate(Strict):
    url: str = Field(
        min_length=8, max_length=2000, pattern=r"^https?://\S+$", examples=["https://example.org/hook"]
    )
    events: list[str] = Field(
        min_length=1, max_length=50, examples=[["project.status_changed", "indicator.*"]]
    )
    secret: str = Field(min_length=16, max_length=200, description="HMAC-SHA256 key of X-Portfolio-Signature")

    @field_validator("events")
    @classmethod
    def _events(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.match(EVENT_PATTERN, value):
                raise ValueError(
                    f"事件类型“{value}”格式不对，如 project.created、project.* 或 * | "
                    f"event type '{value}' must look like project.created, project.* or *"
                )
        return sorted(set(values))


class WebhookRead(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookList(BaseModel):
    items: list[WebhookRead]


class DeliveryRead(BaseModel):
    id: int
    webhook_id: int
    event_id: str
    event_type: str
    attempt: int = Field(description="attempts made so far")
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None = Field(description="null once delivered or given up")
    delivered_at: datetime | None
    created_at: datetime


class DeliveryList(BaseModel):
    items: list[DeliveryRead]


class IndicatorCounts(BaseModel):
    indicator_count: int
    status_counts: dict[str, int]


class CountyRollupRow(BaseModel):
    county: str
    name: str
    name_en: str
    project_count: int
    total_investment_wan: int
    completed_investment_wan: int
    completion_rate: float
    status_counts: dict[str, int]
    over_budget: int
    indicators: IndicatorCounts | None = Field(description="null when the indicators service did not answer")


class UpstreamWarning(BaseModel):
    service: str
    status: int
    detail: str


class CountyRollup(BaseModel):
    by: list[str]
    rows: list[CountyRollupRow]
    totals: dict[str, Any]
    split: Literal["shares"]
    warnings: list[UpstreamWarning]


class ReferenceList(BaseModel):
    items: list[dict[str, Any]]


class ItemList(BaseModel):
    items: list[dict[str, Any]]
