"""Reference codes of the indicators service: scopes, target kinds, categories, statuses.

- Scope: ``city`` (the whole city) or one of the nine county codes of ARCHITECTURE.md. The
  county list is the projects service's (``services.projects.reference``), so both services
  name counties alike; ``citywide`` (市本级) is refused here because ``city`` already says it.
- Target kinds are the values of ``services.indicators.progress.TargetKind``; which of them
  progress can measure is written in that module's docstring.
- Categories are free text as the plan writes them (经济发展, 创新能力 …); the ones below
  have an English name, any other shows its Chinese name in both languages.
"""

from __future__ import annotations

from typing import get_args

from services.common.i18n import Msg
from services.indicators.progress import STATUS_ZH, TargetKind
from services.projects.reference import COUNTIES, Code

CITY = "city"
CITY_NAME = Msg("全市", "City")
COUNTY_SCOPES: tuple[Code, ...] = tuple(c for c in COUNTIES if c.code != "citywide")
SCOPE_CODES: frozenset[str] = frozenset({CITY} | {c.code for c in COUNTY_SCOPES})
SCOPE_ORDER: tuple[str, ...] = (CITY, *(c.code for c in COUNTY_SCOPES))

TARGET_KINDS: tuple[Code, ...] = (
    Code("absolute", "绝对值", "Absolute value"),
    Code("approximately", "左右", "Approximately"),
    Code("at_least", "不低于", "At least"),
    Code("at_most", "不高于", "At most"),
    Code("cumulative", "累计", "Cumulative over the period"),
    Code("ratio", "比例结构", "Ratio or structure"),
    Code("qualitative", "定性", "Qualitative"),
    Code("pending", "待定", "Pending"),
)
TARGET_KIND_CODES: tuple[str, ...] = get_args(TargetKind)
NOT_MEASURABLE_KINDS: frozenset[str] = frozenset({"ratio", "qualitative", "pending"})

ATTRIBUTES: tuple[Code, ...] = (
    Code("预期性", "预期性", "Anticipatory"),
    Code("约束性", "约束性", "Binding"),
)

CATEGORY_EN: dict[str, str] = {
    "经济发展": "Economic development",
    "创新能力": "Innovation",
    "创新驱动": "Innovation",
    "民生福祉": "People's well-being",
    "生态环境": "Ecology and environment",
    "生态文明": "Ecological civilisation",
    "绿色生态": "Green development",
    "社会文明": "Social civility",
    "安全保障": "Security",
}

PROGRESS_STATUSES: tuple[str, ...] = tuple(STATUS_ZH)


def scope_name(scope: str) -> Msg:
    if scope == CITY:
        return CITY_NAME
    county = next((c for c in COUNTY_SCOPES if c.code == scope), None)
    return Msg(county.zh, county.en) if county else Msg(scope, scope)


def category_en(category: str) -> str:
    return CATEGORY_EN.get(category, category)
