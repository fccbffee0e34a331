"""Request and response shapes of the projects API (one model per purpose).

Unknown fields are refused (``extra="forbid"``); codes are checked against the reference
lists and the message names the allowed values. Messages that a person reads carry both
languages as ``"zh | en"``; the error handler picks the request's language.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.common.models import ChangeFields
from services.projects.reference import COUNTY_CODES, SECTOR_CODES, STATUS_CODES

MAX_WAN = 10**12  # 1 亿亿元: far above any real project, far below 64-bit overflow
Year = Annotated[int, Field(ge=2000, le=2100)]
Wan = Annotated[int, Field(ge=0, le=MAX_WAN)]
PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _check_code(value: str | None, allowed: frozenset[str], zh: str, en: str) -> str | None:
    if value is None or value in allowed:
        return value
    listed = ", ".join(sorted(allowed))
    raise ValueError(f"{zh}“{value}”不存在，可选：{listed} | Unknown {en} '{value}'; allowed: {listed}")


def check_county(value: str | None) -> str | None:
    return _check_code(value, COUNTY_CODES, "区县代码", "county")


def check_sector(value: str | None) -> str | None:
    return _check_code(value, SECTOR_CODES, "行业代码", "sector")


def check_status(value: str | None) -> str | None:
    return _check_code(value, STATUS_CODES, "状态", "status")


def check_shares(shares: dict[str, int] | None) -> dict[str, int] | None:
    if shares is None:
        return None
    for county, pct in shares.items():
        check_county(county)
        if not isinstance(pct, int) or isinstance(pct, bool) or not 1 <= pct <= 100:
            raise ValueError(
                f"“{county}”的比例应为 1 到 100 的整数 | The share of '{county}' must be a whole percentage 1-100"
            )
    total = sum(shares.values())
    if total != 100:
        raise ValueError(f"各区县比例之和应为 100，现为 {total} | Shares must sum to 100, got {total}")
    return shares


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProjectFields(Strict):
    name_en: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=5000)
    zone: str | None = Field(None, max_length=200)
    owner_org: str | None = Field(None, max_length=200)
    county_shares: dict[str, int] | None = None
    status_note: str | None = Field(None, max_length=2000)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    tags: list[Annotated[str, Field(max_length=50)]] | None = Field(None, max_length=30)
    plan_section: str | None = Field(None, max_length=200)
    plan_category: str | None = Field(None, max_length=100)
    plan_line: int | None = Field(None, ge=1)

    _shares = field_validator("county_shares")(check_shares)


class ProjectCreate(ProjectFields):
    code: str | None = Field(None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    name: str = Field(min_length=1, max_length=300)
    sector: str
    county: str
    total_investment_wan: Wan
    completed_investment_wan: Wan = 0
    start_year: Year
    end_year: Year
    status: str = "planned"
    parent_code: str | None = Field(None, max_length=40)

    _county = field_validator("county")(check_county)
    _sector = field_validator("sector")(check_sector)
    _status = field_validator("status")(check_status)

    @model_validator(mode="after")
    def _years_in_order(self) -> ProjectCreate:
        if self.start_year > self.end_year:
            raise ValueError(
                f"开工年份 {self.start_year} 晚于完工年份 {self.end_year} | "
                f"start_year {self.start_year} is after end_year {self.end_year}"
            )
        return self


class ProjectUpdate(ProjectFields):
    """Partial update: only the fields sent change. ``status`` goes through the transition
    rule exactly as ``POST /status`` does."""

    name: str | None = Field(None, min_length=1, max_length=300)
    sector: str | None = None
    county: str | None = None
    total_investment_wan: Wan | None = None
    completed_investment_wan: Wan | None = None
    start_year: Year | None = None
    end_year: Year | None = None
    status: str | None = None
    note: str | None = Field(None, max_length=2000)

    _county = field_validator("county")(check_county)
    _sector = field_validator("sector")(check_sector)
    _status = field_validator("status")(check_status)


class StatusChange(Strict):
    status: str
    note: str | None = Field(None, max_length=2000)

    _status = field_validator("status")(check_status)


class ReportCreate(Strict):
    period: str = Field(description="YYYY-MM", examples=["2025-03"])
    status: str | None = None
    investment_this_period_wan: Wan = 0
    physical_progress_pct: int = Field(ge=0, le=100)
    issues: str | None = Field(None, max_length=5000)
    next_steps: str | None = Field(None, max_length=5000)

    _status = field_validator("status")(check_status)

    @field_validator("period")
    @classmethod
    def _period_format(cls, value: str) -> str:
        if not PERIOD_RE.match(value):
            raise ValueError(
                f"月份应写成 YYYY-MM，如 2025-03，收到“{value}” | period must be YYYY-MM, got '{value}'"
            )
        if not 2000 <= int(value[:4]) <= 2100:
            raise ValueError("年份应在 2000 到 2100 之间 | the year must be within 2000-2100")
        return value


class ProjectRead(BaseModel):
    id: int
    code: str
    name: str
    name_en: str | None
    description: str | None
    sector: str
    sector_group: str
    county: str
    zone: str | None
    owner_org: str | None
    total_investment_wan: int
    completed_investment_wan: int
    county_shares: dict[str, int] | None
    start_year: int
    end_year: int
    status: str
    status_note: str | None
    status_changed_at: datetime | None
    physical_progress_pct: int
    last_report_period: str | None
    over_budget: bool
    lat: float | None
    lon: float | None
    tags: list[str]
    plan_section: str | None
    plan_category: str | None
    plan_line: int | None
    parent_id: int | None
    parent_code: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime
    allowed_transitions: list[str] = []
    can_edit: bool = False


class ProjectList(BaseModel):
    items: list[ProjectRead]
    next_cursor: str | None
    total: int


class ReportRead(BaseModel):
    id: int
    project_id: int
    period: str
    status: str
    investment_this_period_wan: int
    physical_progress_pct: int
    issues: str | None
    next_steps: str | None
    actor: str
    created_at: datetime


class ChangeRead(ChangeFields):
    project_id: int


class RollupMeasures(BaseModel):
    project_count: int
    total_investment_wan: int
    completed_investment_wan: int
    completion_rate: float
    status_counts: dict[str, int]
    over_budget: int


class Rollup(BaseModel):
    by: list[str]
    rows: list[dict[str, Any]]
    totals: RollupMeasures
    split: Literal["shares", "none"]


class ImportProblem(BaseModel):
    """One problem of an import file: the row (1 = the header), the column as the file
    names it, the value found there, and what to do, in the request's language."""

    row: int
    column: str | None
    value: Any = None
    message: str
    loc: list[str | int]


class ImportReport(BaseModel):
    """What an import did (or, with ``dry_run``, would do): counts of rows created,
    updated and unchanged, and the first problems found (``error_count`` counts all)."""

    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    error_count: int
    errors: list[ImportProblem]
