"""How numbers, money, statuses and times are shown, in both languages.

Money: the API speaks integer 万元 (10,000 yuan) in every ``*_wan`` field. The UI shows
- in Chinese, 亿元 (1 亿元 = 10,000 万元) with two decimals and thousands separators,
  everywhere: ``1,389.92 亿元``;
- in English, renminbi in billions for sums of RMB 1 bn and more (``RMB 138.99 bn``;
  1 亿元 = RMB 0.1 bn) and in millions below (``RMB 450 m``, ``RMB 8.66 m``), as English
  financial writing does. Charts of aggregates use RMB bn; project tables use RMB m, so a
  column never mixes units.
Numbers are rounded for display only; sums are always computed in integer 万元.

Statuses have one colour each, used by badges, table labels and charts alike.
Times from the API are UTC; they are shown in China Standard Time (UTC+8, no DST).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta, timezone

from frontend.i18n import TEXT, t

WAN_PER_YI = 10_000
WAN_PER_BN = 100_000
WAN_PER_M = 100
CST = timezone(timedelta(hours=8), "CST")

STATUS_ORDER: tuple[str, ...] = (
    "planned",
    "preparing",
    "under_construction",
    "suspended",
    "completed",
    "cancelled",
)
STATUS_COLORS: dict[str, str] = {
    "planned": "#8c8c8c",
    "preparing": "#4e79a7",
    "under_construction": "#f28e2b",
    "suspended": "#e15759",
    "completed": "#59a14f",
    "cancelled": "#b07aa1",
}
PROGRESS_ORDER: tuple[str, ...] = (
    "achieved",
    "on_track",
    "at_risk",
    "off_track",
    "no_data",
    "not_measurable",
)
PROGRESS_COLORS: dict[str, str] = {
    "achieved": "#2e7d32",
    "on_track": "#59a14f",
    "at_risk": "#f2a93b",
    "off_track": "#e15759",
    "no_data": "#bab0ac",
    "not_measurable": "#9c9ea1",
}


# --------------------------------------------------------------------------- money


def _grouped(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def _trim(text: str) -> str:
    """``450.00`` -> ``450``; ``8.60`` -> ``8.6`` (thousands separators kept)."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(wan: int | float | None, lang: str) -> str:
    """An amount in 万元 as a person reads it: ``1,389.92 亿元`` / ``RMB 138.99 bn``."""
    if wan is None:
        return "—"
    if lang != "en":
        return f"{_grouped(wan / WAN_PER_YI, 2)} 亿元"
    if abs(wan) >= WAN_PER_BN:
        return f"RMB {_grouped(wan / WAN_PER_BN, 2)} bn"
    return f"RMB {_trim(_grouped(wan / WAN_PER_M, 2))} m"


def chart_money(wan: int | float, lang: str) -> float:
    """An aggregate in the chart unit: 亿元 (zh) or RMB bn (en)."""
    return wan / (WAN_PER_BN if lang == "en" else WAN_PER_YI)


def chart_money_unit(lang: str) -> str:
    return "RMB bn" if lang == "en" else "亿元"


def table_money(wan: int | float | None, lang: str) -> float | None:
    """A project amount in the table unit: 亿元 (zh) or RMB m (en)."""
    if wan is None:
        return None
    return wan / (WAN_PER_M if lang == "en" else WAN_PER_YI)


def table_money_format(lang: str) -> str:
    """printf format of money columns in ``st.dataframe`` (thousands separators)."""
    return "%,.2f"


def wan_from_table(value: float | None, lang: str) -> int | None:
    """A number typed in the table unit back to integer 万元 (for filters)."""
    if value is None:
        return None
    return round(value * (WAN_PER_M if lang == "en" else WAN_PER_YI))


def filter_money_unit(lang: str) -> float:
    """万元 per unit of the min/max investment filters (亿元 in zh, RMB bn in en)."""
    return WAN_PER_BN if lang == "en" else WAN_PER_YI


# --------------------------------------------------------------------------- numbers


def pct(rate: float | None, lang: str = "zh", decimals: int = 1) -> str:
    """A rate 0..1 as a percentage: ``0.375`` -> ``37.5%``."""
    if rate is None:
        return "—"
    return f"{rate * 100:.{decimals}f}%"


def pct_points(value: float | None, decimals: int = 1) -> str:
    """A value already in percent (0..100): ``35`` -> ``35%``, ``37.25`` -> ``37.3%``."""
    if value is None:
        return "—"
    return f"{_trim(f'{float(value):.{decimals}f}')}%"


def number(value: float | int | None, unit: str | None = None) -> str:
    """A measured value with its unit, thousands separators, trailing zeros dropped."""
    if value is None:
        return "—"
    text = f"{int(value):,}" if float(value).is_integer() else _trim(f"{float(value):,.4f}")
    return f"{text} {unit}".strip() if unit else text


def count(value: int, lang: str) -> str:
    return f"{value:,}" if lang == "en" else f"{value:,} 个"


# --------------------------------------------------------------------------- statuses


def status_label(status: str, lang: str) -> str:
    key = f"status.{status}"
    return t(key, lang) if key in TEXT else status


def progress_label(status: str, lang: str) -> str:
    key = f"pstatus.{status}"
    return t(key, lang) if key in TEXT else status


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, "#8c8c8c")


def progress_color(status: str) -> str:
    return PROGRESS_COLORS.get(status, "#9c9ea1")


def badge_html(label: str, color: str) -> str:
    """A coloured pill for ``st.markdown(..., unsafe_allow_html=True)``; text escaped."""
    return (
        f'<span style="background:{color};color:#fff;border-radius:0.8em;padding:0.1em 0.6em;'
        f'margin:0 0.25em 0.25em 0;display:inline-block;font-size:0.85em;white-space:nowrap">'
        f"{html.escape(label)}</span>"
    )


def status_badges(status_counts: dict[str, int], lang: str) -> str:
    """One badge per status that has projects: ``在建 12``."""
    return "".join(
        badge_html(f"{status_label(s, lang)} {status_counts[s]}", status_color(s))
        for s in STATUS_ORDER
        if status_counts.get(s)
    )


def progress_badges(status_counts: dict[str, int], lang: str) -> str:
    return "".join(
        badge_html(f"{progress_label(s, lang)} {status_counts[s]}", progress_color(s))
        for s in PROGRESS_ORDER
        if status_counts.get(s)
    )


# --------------------------------------------------------------------------- times


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_time(value: str | None, with_date: bool = True) -> str:
    """An API time (UTC) in China Standard Time: ``2025-03-05 10:42`` or ``10:42``."""
    moment = parse_time(value)
    if moment is None:
        return "—"
    moment = moment.astimezone(CST)
    return moment.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def conflict_time(value: str | None, now: datetime | None = None) -> str:
    """``10:42`` when the change was today (CST), else ``2025-03-05 10:42``."""
    moment = parse_time(value)
    if moment is None:
        return "—"
    today = (now or datetime.now(UTC)).astimezone(CST).date()
    return local_time(value, with_date=moment.astimezone(CST).date() != today)
