"""Request and response shapes of the indicators API (one model per purpose).

Unknown fields are refused (``extra="forbid"``); codes are checked against the reference
lists and the message names the allowed values. Messages a person reads carry both
languages as ``"zh | en"``; the error handler picks the request's language.

A row of the plan's CSV files (``indicators.csv``, ``targets_from_text.csv``,
``indicator_observations.csv``) posts as it is: an empty text stands for "not given".
Values are exact decimals (:func:`check_exact`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from services.common.models import ChangeFields
from services.indicators.progress import Direction, TargetKind
from services.indicators.reference import CITY, SCOPE_CODES

Year = Annotated[int, Field(ge=2000, le=2100)]
MAX_VALUE = Decimal(10) ** 14


def check_exact(value: Decimal) -> Decimal:
    """What both backends store exactly: NUMERIC(20, 6) on PostgreSQL (below 10^14, six
    decimals), and 15 significant digits, which SQLite keeps exactly."""
    _sign, digits, exponent = value.normalize().as_tuple()
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if decimals > 6:
        raise ValueError(f"最多 6 位小数，收到 {value} | At most 6 decimals, got {value}")
    if abs(value) >= MAX_VALUE:
        raise ValueError(f"绝对值应小于 10^14，收到 {value} | Must be below 10^14 in size, got {value}")
    if len(digits) > 15:
        raise ValueError(f"最多 15 位有效数字，收到 {value} | At most 15 significant digits, got {value}")
    return value


Value = Annotated[Decimal, Field(allow_inf_nan=False), AfterValidator(check_exact)]
#: a decimal in a response: ``services.common.jsonio`` writes Decimals as JSON numbers, so
#: the OpenAPI document says ``number`` (pydantic would say ``string``)
JsonNumber = Annotated[Decimal, WithJsonSchema({"type": "number"}, mode="serialization")]
ShortText = Annotated[str, Field(max_length=200)]
Attribute = Literal["预期性", "约束性"]

#: fields a CSV row may leave empty ("" means not given)
BLANK_MEANS_NONE = frozenset(
    {
        "name_en",
        "unit",
        "baseline_year",
        "baseline_value",
        "baseline_text",
        "target_value",
        "target_text",
        "target_growth_pct",
        "growth_text",
        "attribute",
        "source",
        "plan_line",
        "quote",
        "note",
        "value_text",
        "period_start",
        "period_end",
    }
)


def check_scope(value: str | None) -> str | None:
    if value is None or value in SCOPE_CODES:
        return value
    listed = ", ".join(sorted(SCOPE_CODES))
    hint_zh, hint_en = (
        ("（市本级指标请用 city）", " (use city for city-level indicators)")
        if value == "citywide"
        else ("", "")
    )
    raise ValueError(
        f"范围“{value}”不存在{hint_zh}，可选：{listed} | Unknown scope '{value}'{hint_en}; allowed: {listed}"
    )


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (None if k in BLANK_MEANS_NONE and v == "" else v) for k, v in data.items()}
        return data


class IndicatorFields(Strict):
    name_en: str | None = Field(None, max_length=300)
    unit: str | None = Field(None, max_length=40)
    baseline_year: Year | None = None
    baseline_value: Value | None = None
    baseline_text: ShortText | None = None
    target_value: Value | None = None
    target_text: ShortText | None = None
    target_growth_pct: Value | None = None
    growth_text: ShortText | None = None
    attribute: Attribute | None = None
    source: ShortText | None = None
    plan_line: int | None = Field(None, ge=1)
    quote: str | None = Field(None, max_length=2000)


class IndicatorCreate(IndicatorFields):
    """A new indicator. ``period_end`` defaults to ``target_year`` and ``period_start`` to
    the year after the baseline year."""

    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    name: str = Field(min_length=1, max_length=300)
    category: str = Field(min_length=1, max_length=40)
    scope: str = CITY
    direction: Direction
    target_year: Year
    target_kind: TargetKind
    period_start: Year | None = None
    period_end: Year | None = None
    at_risk_band_pts: Decimal = Field(Decimal(10), ge=0, le=100, max_digits=8, decimal_places=2)

    _scope = field_validator("scope")(check_scope)

    @model_validator(mode="after")
    def _years_in_order(self) -> IndicatorCreate:
        if self.period_end is None:
            self.period_end = self.target_year
        if self.period_start is None:
            if self.baseline_year is None:
                raise ValueError(
                    "没有基期年份时请填写规划期起始年 period_start | period_start is required without a baseline_year"
                )
            self.period_start = self.baseline_year + 1
        check_years(self.baseline_year, self.target_year, self.period_start, self.period_end)
        return self


def check_years(baseline_year: int | None, target_year: int, period_start: int, period_end: int) -> None:
    """The plan period holds the target year; the baseline comes before the target."""
    if period_start > period_end:
        raise ValueError(
            f"规划期起始年 {period_start} 晚于结束年 {period_end} | "
            f"period_start {period_start} is after period_end {period_end}"
        )
    if not period_start <= target_year <= period_end:
        raise ValueError(
            f"目标年 {target_year} 不在规划期 {period_start}–{period_end} 内 | "
            f"target_year {target_year} is outside the period {period_start}–{period_end}"
        )
    if baseline_year is not None and baseline_year >= target_year:
        raise ValueError(
            f"基期年 {baseline_year} 应早于目标年 {target_year} | "
            f"baseline_year {baseline_year} must be before target_year {target_year}"
        )


class IndicatorUpdate(IndicatorFields):
    """Partial update: only the fields sent change; ``note`` goes to the audit trail."""

    code: str | None = Field(None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    name: str | None = Field(None, min_length=1, max_length=300)
    category: str | None = Field(None, min_length=1, max_length=40)
    scope: str | None = None
    direction: Direction | None = None
    target_year: Year | None = None
    target_kind: TargetKind | None = None
    period_start: Year | None = None
    period_end: Year | None = None
    at_risk_band_pts: Decimal | None = Field(None, ge=0, le=100, max_digits=8, decimal_places=2)
    note: str | None = Field(None, max_length=2000)

    _scope = field_validator("scope")(check_scope)


class ObservationCreate(Strict):
    """A value for a year. A second value for the same year is a correction."""

    year: Year
    value: Value
    value_text: ShortText | None = None
    note: str | None = Field(None, max_length=2000)
    source: ShortText | None = None
    plan_line: int | None = Field(None, ge=1)


class ProgressRead(BaseModel):
    latest_year: int | None
    latest_value: JsonNumber | None
    progress_pct: JsonNumber | None
    expected_pct: JsonNumber | None
    required_annual_growth_pct: JsonNumber | None
    status: str
    explanation: str
    explanation_zh: str
    explanation_en: str


class ObservationRead(BaseModel):
    id: int
    indicator_id: int
    year: int
    value: JsonNumber
    value_text: str | None
    note: str | None
    source: str | None
    plan_line: int | None
    revision: int
    is_current: bool
    actor: str
    recorded_at: datetime
    superseded_at: datetime | None


class IndicatorRead(BaseModel):
    id: int
    code: str
    name: str
    name_en: str | None
    category: str
    unit: str
    scope: str
    direction: str
    baseline_year: int | None
    baseline_value: JsonNumber | None
    baseline_text: str | None
    target_year: int
    target_value: JsonNumber | None
    target_text: str | None
    target_growth_pct: JsonNumber | None
    growth_text: str | None
    target_kind: str
    attribute: str | None
    period_start: int
    period_end: int
    source: str | None
    plan_line: int | None
    quote: str | None
    at_risk_band_pts: JsonNumber
    version: int
    created_at: datetime
    updated_at: datetime
    progress: ProgressRead
    can_edit: bool
    can_record: bool
    observations: list[ObservationRead] | None = None


class IndicatorList(BaseModel):
    items: list[IndicatorRead]
    next_cursor: str | None
    total: int


class ChangeRead(ChangeFields):
    indicator_id: int


class StatusCounts(BaseModel):
    indicator_count: int
    status_counts: dict[str, int]


class Summary(BaseModel):
    by: list[str]
    rows: list[dict[str, Any]]
    totals: StatusCounts
