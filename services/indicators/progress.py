"""Progress of a plan indicator towards its target: the pure rules, no I/O.

``compute_progress(target, observations) -> Progress`` is the one entry point. All
arithmetic is exact ``Decimal``; percentages are rounded at the end to one decimal place
(ROUND_HALF_UP). The rules, in the order they are applied:

1. Counted observations. Only observations with ``period_start <= year <= target_year``
   count; one value per year (if a year is given twice, the last one given wins). The
   latest observation is the counted one with the greatest year. Its year and value are
   reported for every kind, ``not_measurable`` included.

2. Not measurable. ``ratio``, ``qualitative`` and ``pending`` targets are
   ``not_measurable``, and so is a measurable kind that lacks the numbers it needs (e.g.
   ``absolute`` without a baseline) or whose numbers contradict each other (e.g. an
   ``increase`` indicator whose target is not above its baseline, a growth rate of the
   wrong sign, a baseline year not before the target year). The explanation shows the
   target text as written in the plan, and the reason when there is one.

3. No data. A measurable target without counted observations is ``no_data``.

4. Straight path (``absolute``, ``approximately`` with a target value; baseline year and
   value known)::

       progress_pct = (latest - baseline) / (target - baseline) * 100
       expected_pct = (latest_year - baseline_year) / (target_year - baseline_year) * 100,
                      clamped to 0..100

   The formula serves ``decrease`` indicators too, since both differences change sign.
   progress_pct is not clamped: it is negative when the indicator moved the wrong way and
   above 100 past the target. ``absolute`` is achieved when the latest value reaches the
   target or passes it in the indicator's direction; ``approximately`` also when
   ``|latest - target| <= 2% of |target|``.

   4b. Without a baseline (the 13th plan's table gives only the target and the 2020
   result): once the target year is observed, ``achieved`` when the result reaches the
   target as above, ``off_track`` when it falls short; before the target year the pace
   cannot be judged and the target is ``not_measurable``. progress_pct and expected_pct
   are None: there is no way to measure "of the way" without a start.

5. Geometric path (``absolute``, ``approximately`` with only an annual growth rate ``g``
   = target_growth_pct / 100; baseline year and value known, baseline > 0)::

       implied_target = baseline * (1 + g) ** (target_year - baseline_year)
       progress_pct   = (latest - baseline) / (implied_target - baseline) * 100
       expected_pct   = (baseline * (1 + g) ** (latest_year - baseline_year) - baseline)
                        / (implied_target - baseline) * 100, clamped to 0..100

   Achieved only once the latest value reaches the implied target (or passes it in the
   indicator's direction); no ±2% tolerance, even for ``approximately``. The actual
   compound annual growth ``(latest / baseline) ** (1 / (latest_year - baseline_year)) - 1``
   is shown in the explanation next to the target rate.

6. Pace (straight and geometric paths, cumulative), when not achieved, compared on the
   rounded percentages that are shown: ``on_track`` if progress_pct >= expected_pct;
   ``at_risk`` if it is behind by less than ``at_risk_band_pts`` percentage points;
   ``off_track`` if further behind (exactly ``at_risk_band_pts`` behind is off track).

7. Bounds (``at_most``, ``at_least``; target value known): achieved when the latest value
   is ``<=`` (at_most) or ``>=`` (at_least) the target, ``off_track`` otherwise.
   progress_pct and expected_pct are None.

8. Cumulative (``cumulative``; target value > 0): the counted observations with
   ``year <= period_end`` are summed exactly::

       progress_pct = sum / target * 100
       expected_pct = (latest_year - period_start + 1) / (period_end - period_start + 1) * 100,
                      clamped to 0..100

   Achieved when the sum reaches the target; otherwise the pace rule (6) applies.

9. Required annual growth (straight and geometric paths only), when the latest value and
   the (implied) target are > 0 and latest_year < target_year::

       required_annual_growth_pct = ((target / latest) ** (1 / (target_year - latest_year)) - 1) * 100

   None otherwise. It is negative when the indicator may fall and still meet the target.

10. The status is never ``achieved`` before the target is actually met as defined above.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Literal, get_args

Direction = Literal["increase", "decrease"]
TargetKind = Literal[
    "absolute", "approximately", "at_least", "at_most", "cumulative", "ratio", "qualitative", "pending"
]
Status = Literal["achieved", "on_track", "at_risk", "off_track", "no_data", "not_measurable"]
Number = Decimal | int | str | float

STATUS_ZH: dict[str, str] = {
    "achieved": "已实现",
    "on_track": "正常推进",
    "at_risk": "有风险",
    "off_track": "滞后",
    "no_data": "暂无数据",
    "not_measurable": "不可量化",
}
STATUS_EN: dict[str, str] = {
    "achieved": "achieved",
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "no_data": "no data",
    "not_measurable": "not measurable",
}

APPROXIMATELY_TOLERANCE = Decimal("0.02")
_HUNDRED = Decimal(100)
_ONE_DECIMAL = Decimal("0.1")
_PRECISION = 40


def to_decimal(value: Number) -> Decimal:
    """Decimal from a number or numeric string; floats go through their shortest repr."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _optional_decimal(value: Number | None) -> Decimal | None:
    return None if value is None else to_decimal(value)


@dataclass(frozen=True, kw_only=True)
class IndicatorTarget:
    """What the plan promises for one indicator; the numbers are as written in the plan."""

    direction: Direction
    target_kind: TargetKind
    target_year: int
    period_start: int
    period_end: int
    unit: str
    baseline_year: int | None = None
    baseline_value: Decimal | None = None
    target_value: Decimal | None = None
    target_growth_pct: Decimal | None = None
    at_risk_band_pts: Decimal = Decimal(10)
    target_text: str | None = None

    def __post_init__(self) -> None:
        if self.direction not in get_args(Direction):
            raise ValueError(f"unknown direction {self.direction!r}")
        if self.target_kind not in get_args(TargetKind):
            raise ValueError(f"unknown target kind {self.target_kind!r}")
        if self.period_start > self.period_end:
            raise ValueError("period_start is after period_end")
        if self.at_risk_band_pts < 0:
            raise ValueError("at_risk_band_pts is negative")

    @classmethod
    def build(
        cls,
        *,
        direction: Direction,
        target_kind: TargetKind,
        target_year: int,
        period_start: int,
        period_end: int,
        unit: str,
        baseline_year: int | None = None,
        baseline_value: Number | None = None,
        target_value: Number | None = None,
        target_growth_pct: Number | None = None,
        at_risk_band_pts: Number = 10,
        target_text: str | None = None,
    ) -> IndicatorTarget:
        """Build from plain values: numbers and numeric strings become Decimal."""
        return cls(
            direction=direction,
            target_kind=target_kind,
            target_year=target_year,
            period_start=period_start,
            period_end=period_end,
            unit=unit,
            baseline_year=baseline_year,
            baseline_value=_optional_decimal(baseline_value),
            target_value=_optional_decimal(target_value),
            target_growth_pct=_optional_decimal(target_growth_pct),
            at_risk_band_pts=to_decimal(at_risk_band_pts),
            target_text=target_text,
        )


@dataclass(frozen=True)
class Observation:
    year: int
    value: Decimal

    @classmethod
    def of(cls, year: int, value: Number) -> Observation:
        return cls(year, to_decimal(value))


@dataclass(frozen=True)
class Progress:
    latest_year: int | None
    latest_value: Decimal | None
    progress_pct: Decimal | None
    expected_pct: Decimal | None
    required_annual_growth_pct: Decimal | None
    status: Status
    explanation_zh: str
    explanation_en: str


class _NotMeasurable(Exception):
    """A measurable kind lacks or contradicts the numbers it needs; carries the reason."""

    def __init__(self, reason_zh: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.reason_zh = reason_zh
        self.reason_en = reason_en


def compute_progress(target: IndicatorTarget, observations: Iterable[Observation]) -> Progress:
    """Progress of ``target`` given its yearly ``observations``, by the module's rules."""
    counted = _counted_observations(target, observations)
    latest = counted[-1] if counted else None
    try:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            return _progress_by_kind(target, counted, latest)
    except _NotMeasurable as reason:
        return _not_measurable(target, latest, reason)


def _progress_by_kind(
    target: IndicatorTarget, counted: list[Observation], latest: Observation | None
) -> Progress:
    kind = target.target_kind
    if kind in ("ratio", "qualitative", "pending"):
        raise _NotMeasurable("", "")
    if kind in ("at_most", "at_least"):
        bound = _required(target.target_value, "缺少目标值", "no target value")
        return _progress_bound(target, bound, latest)
    if kind == "cumulative":
        total_target = _required(target.target_value, "缺少目标值", "no target value")
        if total_target <= 0:
            raise _NotMeasurable("累计目标不为正", "cumulative target is not positive")
        return _progress_cumulative(target, total_target, counted, latest)
    if target.target_value is not None:
        return _progress_straight(target, target.target_value, latest)
    if target.target_growth_pct is not None:
        return _progress_geometric(target, target.target_growth_pct, latest)
    raise _NotMeasurable("缺少目标值和增速", "no target value or growth rate")


def _counted_observations(target: IndicatorTarget, observations: Iterable[Observation]) -> list[Observation]:
    by_year = {o.year: o for o in observations if target.period_start <= o.year <= target.target_year}
    return [by_year[year] for year in sorted(by_year)]


def _required(value: Decimal | None, reason_zh: str, reason_en: str) -> Decimal:
    if value is None:
        raise _NotMeasurable(reason_zh, reason_en)
    return value


def _baseline(target: IndicatorTarget) -> tuple[int, Decimal]:
    if target.baseline_year is None or target.baseline_value is None:
        raise _NotMeasurable("缺少基期值", "no baseline")
    if target.baseline_year >= target.target_year:
        raise _NotMeasurable("基期不早于目标年", "baseline year is not before the target year")
    return target.baseline_year, target.baseline_value


def _check_direction(target: IndicatorTarget, baseline: Decimal, goal: Decimal) -> None:
    if target.direction == "increase" and goal <= baseline:
        raise _NotMeasurable("增长型指标目标不高于基期值", "target not above the baseline of an increase")
    if target.direction == "decrease" and goal >= baseline:
        raise _NotMeasurable("下降型指标目标不低于基期值", "target not below the baseline of a decrease")


def _reached(target: IndicatorTarget, value: Decimal, goal: Decimal) -> bool:
    return value >= goal if target.direction == "increase" else value <= goal


# --- one function per kind ------------------------------------------------------------------


def _progress_straight(target: IndicatorTarget, goal: Decimal, latest: Observation | None) -> Progress:
    if (target.baseline_year is None or target.baseline_value is None) and latest is not None:
        return _progress_goal_only(target, goal, latest)
    baseline_year, baseline = _baseline(target)
    _check_direction(target, baseline, goal)
    if latest is None:
        return _no_data(target)
    progress = (latest.value - baseline) / (goal - baseline) * _HUNDRED
    expected = _clamp_pct(
        Decimal(latest.year - baseline_year) / Decimal(target.target_year - baseline_year) * _HUNDRED
    )
    achieved = _achieved_straight(target, latest.value, goal)
    progress_pct, expected_pct = _round_pct(progress), _round_pct(expected)
    status = _status(achieved, progress_pct, expected_pct, target.at_risk_band_pts)
    value_en, value_zh = _value_en(latest.value, target.unit), _value_zh(latest.value, target.unit)
    goal_text = _fmt_number(goal)
    return Progress(
        latest_year=latest.year,
        latest_value=latest.value,
        progress_pct=progress_pct,
        expected_pct=expected_pct,
        required_annual_growth_pct=_required_annual_growth(goal, latest, target.target_year),
        status=status,
        explanation_zh=(
            f"{latest.year}年：{value_zh}，完成目标进程{_fmt_pct(progress_pct)}，"
            f"按直线路径应达{_fmt_pct(expected_pct)}：{STATUS_ZH[status]}"
        ),
        explanation_en=(
            f"{latest.year}: {value_en}, {_fmt_pct(progress_pct)} of the way to {goal_text}; "
            f"a straight path would be at {_fmt_pct(expected_pct)}: {STATUS_EN[status]}"
        ),
    )


def _achieved_straight(target: IndicatorTarget, value: Decimal, goal: Decimal) -> bool:
    return _reached(target, value, goal) or (
        target.target_kind == "approximately" and abs(value - goal) <= APPROXIMATELY_TOLERANCE * abs(goal)
    )


def _progress_goal_only(target: IndicatorTarget, goal: Decimal, latest: Observation) -> Progress:
    """Rule 4b: a target value and a result but no baseline (the 13th plan's table)."""
    achieved = _achieved_straight(target, latest.value, goal)
    if not achieved and latest.year < target.target_year:
        raise _NotMeasurable(
            "缺少基期值，目标年之前无法判断进度",
            "no baseline: the pace cannot be judged before the target year",
        )
    goal_zh, goal_en = _value_zh(goal, target.unit), _value_en(goal, target.unit)
    return _judged(
        target,
        latest,
        achieved,
        f"{'已达到' if achieved else '未达到'}目标{goal_zh}（无基期值，只比较结果）",
        f"{'reaching' if achieved else 'short of'} the target of {goal_en} "
        "(no baseline, so the result alone is compared)",
    )


def _judged(
    target: IndicatorTarget, latest: Observation, achieved: bool, goal_zh: str, goal_en: str
) -> Progress:
    """A result compared with its goal, no path to measure against: achieved or off track,
    and no percentages (rules 4b and 7)."""
    status: Status = "achieved" if achieved else "off_track"
    return Progress(
        latest_year=latest.year,
        latest_value=latest.value,
        progress_pct=None,
        expected_pct=None,
        required_annual_growth_pct=None,
        status=status,
        explanation_zh=f"{latest.year}年：{_value_zh(latest.value, target.unit)}，{goal_zh}：{STATUS_ZH[status]}",
        explanation_en=f"{latest.year}: {_value_en(latest.value, target.unit)}, {goal_en}: {STATUS_EN[status]}",
    )


def _progress_geometric(target: IndicatorTarget, growth_pct: Decimal, latest: Observation | None) -> Progress:
    baseline_year, baseline = _baseline(target)
    factor = 1 + growth_pct / _HUNDRED
    if baseline <= 0 or factor <= 0:
        raise _NotMeasurable("基期值或增速无法复利计算", "baseline or growth rate cannot compound")
    implied_goal = baseline * factor ** (target.target_year - baseline_year)
    _check_direction(target, baseline, implied_goal)
    if latest is None:
        return _no_data(target)
    span = implied_goal - baseline
    progress = (latest.value - baseline) / span * _HUNDRED
    expected = _clamp_pct((baseline * factor ** (latest.year - baseline_year) - baseline) / span * _HUNDRED)
    progress_pct, expected_pct = _round_pct(progress), _round_pct(expected)
    achieved = _reached(target, latest.value, implied_goal)
    status = _status(achieved, progress_pct, expected_pct, target.at_risk_band_pts)
    actual = _compound_growth_pct(baseline, latest.value, latest.year - baseline_year)
    rate, goal_text = _fmt_pct(growth_pct), _fmt_number(implied_goal)
    actual_en = f"; actual growth {_fmt_pct(actual)}/yr" if actual is not None else ""
    actual_zh = f"，实际年均增长{_fmt_pct(actual)}" if actual is not None else ""
    return Progress(
        latest_year=latest.year,
        latest_value=latest.value,
        progress_pct=progress_pct,
        expected_pct=expected_pct,
        required_annual_growth_pct=_required_annual_growth(implied_goal, latest, target.target_year),
        status=status,
        explanation_zh=(
            f"{latest.year}年：{_value_zh(latest.value, target.unit)}，完成目标进程{_fmt_pct(progress_pct)}"
            f"（年均增长{rate}，{target.target_year}年应达{_value_zh(implied_goal, target.unit)}），"
            f"按年均增长{rate}路径应达{_fmt_pct(expected_pct)}{actual_zh}：{STATUS_ZH[status]}"
        ),
        explanation_en=(
            f"{latest.year}: {_value_en(latest.value, target.unit)}, {_fmt_pct(progress_pct)} of the way to "
            f"{goal_text} ({rate}/yr to {target.target_year}); the {rate}/yr path would be at "
            f"{_fmt_pct(expected_pct)}{actual_en}: {STATUS_EN[status]}"
        ),
    )


def _progress_bound(target: IndicatorTarget, bound: Decimal, latest: Observation | None) -> Progress:
    if latest is None:
        return _no_data(target)
    at_most = target.target_kind == "at_most"
    achieved = latest.value <= bound if at_most else latest.value >= bound
    bound_zh = f"{'不高于' if at_most else '不低于'}{_value_zh(bound, target.unit)}"
    bound_en = f"{'at most' if at_most else 'at least'} {_value_en(bound, target.unit)}"
    return _judged(target, latest, achieved, f"目标{bound_zh}", f"target {bound_en}")


def _progress_cumulative(
    target: IndicatorTarget, total_target: Decimal, counted: list[Observation], latest: Observation | None
) -> Progress:
    if latest is None:
        return _no_data(target)
    total = sum((o.value for o in counted if o.year <= target.period_end), Decimal(0))
    progress = total / total_target * _HUNDRED
    period_years = target.period_end - target.period_start + 1
    expected = _clamp_pct(Decimal(latest.year - target.period_start + 1) / Decimal(period_years) * _HUNDRED)
    progress_pct, expected_pct = _round_pct(progress), _round_pct(expected)
    status = _status(total >= total_target, progress_pct, expected_pct, target.at_risk_band_pts)
    last_year = min(latest.year, target.period_end)
    return Progress(
        latest_year=latest.year,
        latest_value=latest.value,
        progress_pct=progress_pct,
        expected_pct=expected_pct,
        required_annual_growth_pct=None,
        status=status,
        explanation_zh=(
            f"{target.period_start}–{last_year}年累计：{_value_zh(total, target.unit)}，"
            f"完成累计目标{_value_zh(total_target, target.unit)}的{_fmt_pct(progress_pct)}，"
            f"按时间进度应达{_fmt_pct(expected_pct)}：{STATUS_ZH[status]}"
        ),
        explanation_en=(
            f"{target.period_start}–{last_year} cumulative: {_value_en(total, target.unit)}, "
            f"{_fmt_pct(progress_pct)} of {_fmt_number(total_target)}; "
            f"the elapsed-time share is {_fmt_pct(expected_pct)}: {STATUS_EN[status]}"
        ),
    )


def _no_data(target: IndicatorTarget) -> Progress:
    period = f"{target.period_start}–{target.target_year}"
    goal = _goal_text(target)
    return Progress(
        latest_year=None,
        latest_value=None,
        progress_pct=None,
        expected_pct=None,
        required_annual_growth_pct=None,
        status="no_data",
        explanation_zh=f"{period}年尚无观测值（目标：{goal}）：{STATUS_ZH['no_data']}",
        explanation_en=f"no observation for {period} (target: {goal}): {STATUS_EN['no_data']}",
    )


def _not_measurable(target: IndicatorTarget, latest: Observation | None, reason: _NotMeasurable) -> Progress:
    goal = _goal_text(target)
    why_zh = f"（{reason.reason_zh}）" if reason.reason_zh else ""
    why_en = f" ({reason.reason_en})" if reason.reason_en else ""
    return Progress(
        latest_year=latest.year if latest else None,
        latest_value=latest.value if latest else None,
        progress_pct=None,
        expected_pct=None,
        required_annual_growth_pct=None,
        status="not_measurable",
        explanation_zh=f"目标“{goal}”：{STATUS_ZH['not_measurable']}{why_zh}",
        explanation_en=f"target “{goal}”: {STATUS_EN['not_measurable']}{why_en}",
    )


def _goal_text(target: IndicatorTarget) -> str:
    """The target as written in the plan, else as numbers."""
    if target.target_text:
        return target.target_text
    if target.target_value is not None:
        return _value_zh(target.target_value, target.unit)
    if target.target_growth_pct is not None:
        return f"年均增长{_fmt_pct(target.target_growth_pct)}"
    return "—"


# --- arithmetic ------------------------------------------------------------------------------


def _status(achieved: bool, progress_pct: Decimal, expected_pct: Decimal, band_pts: Decimal) -> Status:
    if achieved:
        return "achieved"
    if progress_pct >= expected_pct:
        return "on_track"
    if expected_pct - progress_pct < band_pts:
        return "at_risk"
    return "off_track"


def _compound_growth_pct(start: Decimal, end: Decimal, years: int) -> Decimal | None:
    """((end / start) ** (1 / years) - 1) in %, rounded; None where it is undefined."""
    if years <= 0 or start <= 0 or end <= 0:
        return None
    return _round_pct(((end / start) ** (Decimal(1) / Decimal(years)) - 1) * _HUNDRED)


def _required_annual_growth(goal: Decimal, latest: Observation, target_year: int) -> Decimal | None:
    return _compound_growth_pct(latest.value, goal, target_year - latest.year)


def _clamp_pct(value: Decimal) -> Decimal:
    return min(max(value, Decimal(0)), _HUNDRED)


def _round_pct(value: Decimal) -> Decimal:
    return value.quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP) + 0  # + 0 turns -0.0 into 0.0


# --- formatting ------------------------------------------------------------------------------


def _fmt_number(value: Decimal) -> str:
    """Thousands separators, at most two decimals, no trailing zeros: 1,210 / 1,471.5 / 0.05."""
    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole = rounded == rounded.to_integral_value()
    shown = rounded.quantize(Decimal(1)) if whole else rounded.normalize()
    return format(shown + 0, ",f")  # + 0 turns -0 into 0


def _fmt_pct(value: Decimal) -> str:
    return f"{_fmt_number(value)}%"


def _value_zh(value: Decimal, unit: str) -> str:
    return f"{_fmt_number(value)}{unit}"


def _value_en(value: Decimal, unit: str) -> str:
    if not unit or unit == "%":
        return f"{_fmt_number(value)}{unit}"
    return f"{_fmt_number(value)} {unit}"
