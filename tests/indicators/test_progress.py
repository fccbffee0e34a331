"""Progress rules of services.indicators.progress, worked on the plan's own indicator rows.

Rows are from 专栏："十四五"时期经济社会发展主要指标 (baseline 2020预计, target 2025),
period 2021–2025, unless a test says otherwise.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.indicators.progress import (
    Direction,
    IndicatorTarget,
    Observation,
    TargetKind,
    compute_progress,
)

D = Decimal
PLAN = {"target_year": 2025, "period_start": 2021, "period_end": 2025}


def row(**fields: Any) -> IndicatorTarget:
    return IndicatorTarget.build(**{**PLAN, **fields})


def obs(*pairs: tuple[int, Any]) -> list[Observation]:
    return [Observation.of(year, value) for year, value in pairs]


def gdp(**overrides: Any) -> IndicatorTarget:
    """1.地区生产总值: 1074 亿元 → 1500左右."""
    fields: dict[str, Any] = {
        "direction": "increase",
        "target_kind": "approximately",
        "baseline_year": 2020,
        "baseline_value": 1074,
        "target_value": 1500,
        "unit": "亿元",
        "target_text": "1500左右",
    }
    return row(**{**fields, **overrides})


def gdp_growth_only() -> IndicatorTarget:
    """1.地区生产总值 by its growth column only: 1074 亿元, 年均增长6.5左右."""
    return gdp(target_value=None, target_growth_pct="6.5", target_text="6.5左右")


def pm25(**overrides: Any) -> IndicatorTarget:
    """18.城市空气指数 (PM2.5): 46 → 35 μg/m³, lower is better."""
    fields: dict[str, Any] = {
        "direction": "decrease",
        "target_kind": "absolute",
        "baseline_year": 2020,
        "baseline_value": 46,
        "target_value": 35,
        "unit": "μg/m³",
        "target_text": "35",
    }
    return row(**{**fields, **overrides})


def fixed_asset_investment(**overrides: Any) -> IndicatorTarget:
    """3.固定资产投资: 2440 亿元 (累计) over 2021–2025."""
    fields: dict[str, Any] = {
        "direction": "increase",
        "target_kind": "cumulative",
        "baseline_year": 2020,
        "baseline_value": "360.3",
        "target_value": 2440,
        "unit": "亿元",
        "target_text": "2440(累计)",
    }
    return row(**{**fields, **overrides})


def unemployment() -> IndicatorTarget:
    """11.城镇登记失业率: 6 以内."""
    return row(
        direction="decrease",
        target_kind="at_most",
        baseline_year=2020,
        baseline_value="4.8",
        target_value=6,
        unit="%",
        target_text="6 以内",
    )


def straight(band: Any = 10) -> IndicatorTarget:
    """A plain 0 → 100 indicator over 2020–2030: the straight path is at 50% in 2025."""
    return IndicatorTarget.build(
        direction="increase",
        target_kind="absolute",
        baseline_year=2020,
        baseline_value=0,
        target_year=2030,
        target_value=100,
        period_start=2021,
        period_end=2030,
        unit="",
        at_risk_band_pts=band,
    )


# --- straight path: absolute and approximately -------------------------------------------------


def test_gdp_2023_is_a_third_of_the_way_and_off_track() -> None:
    progress = compute_progress(gdp(), obs((2021, 1120), (2023, 1210)))

    # (1210 - 1074) / (1500 - 1074) = 136 / 426 = 31.92%; straight path 3/5 = 60%.
    assert progress.latest_year == 2023
    assert progress.latest_value == D(1210)
    assert progress.progress_pct == D("31.9")
    assert progress.expected_pct == D("60.0")
    assert progress.status == "off_track"


def test_gdp_explanation_reads_in_both_languages() -> None:
    progress = compute_progress(gdp(), obs((2023, 1210)))

    assert progress.explanation_en == (
        "2023: 1,210 亿元, 31.9% of the way to 1,500; a straight path would be at 60%: off track"
    )
    assert progress.explanation_zh == "2023年：1,210亿元，完成目标进程31.9%，按直线路径应达60%：滞后"


def test_required_annual_growth_is_the_rate_still_needed_from_the_latest_value() -> None:
    progress = compute_progress(gdp(), obs((2023, 1210)))

    # (1500 / 1210) ** (1 / 2) - 1 = 11.34%
    assert progress.required_annual_growth_pct == D("11.3")


def test_required_annual_growth_is_none_in_the_target_year() -> None:
    progress = compute_progress(gdp(), obs((2025, 1400)))

    assert progress.required_annual_growth_pct is None


def test_pm25_decrease_counts_the_fall_as_progress() -> None:
    progress = compute_progress(pm25(), obs((2023, 40)))

    # (40 - 46) / (35 - 46) = 6 / 11 = 54.5%, 5.5 points behind 60%.
    assert progress.progress_pct == D("54.5")
    assert progress.expected_pct == D("60.0")
    assert progress.status == "at_risk"
    assert progress.required_annual_growth_pct == D("-6.5")


def test_pm25_ahead_of_the_straight_path_is_on_track() -> None:
    progress = compute_progress(pm25(), obs((2023, 38)))

    assert progress.progress_pct == D("72.7")
    assert progress.status == "on_track"


def test_pm25_rising_again_gives_negative_progress() -> None:
    progress = compute_progress(pm25(), obs((2022, 48)))

    assert progress.progress_pct == D("-18.2")
    assert progress.status == "off_track"


@pytest.mark.parametrize("value", [35, 34])
def test_absolute_decrease_is_achieved_at_or_below_the_target(value: int) -> None:
    assert compute_progress(pm25(), obs((2024, value))).status == "achieved"


def test_absolute_is_not_achieved_one_step_short_of_the_target() -> None:
    industry = row(
        direction="increase",
        target_kind="absolute",
        baseline_year=2020,
        baseline_value=800,
        target_value=1600,
        unit="亿元",
    )  # 4.工业总产值

    progress = compute_progress(industry, obs((2025, 1599)))

    assert progress.progress_pct == D("99.9")
    assert progress.status == "at_risk"


@pytest.mark.parametrize("value", ["1470", "1530", "1600"])
def test_approximately_within_two_pct_or_beyond_is_achieved(value: str) -> None:
    assert compute_progress(gdp(), obs((2024, value))).status == "achieved"


def test_approximately_just_outside_two_pct_is_not_achieved() -> None:
    progress = compute_progress(gdp(), obs((2025, "1469.99")))

    assert progress.status != "achieved"


def test_absolute_has_no_two_pct_tolerance() -> None:
    progress = compute_progress(gdp(target_kind="absolute"), obs((2025, 1470)))

    assert progress.status == "at_risk"


def test_on_track_when_progress_equals_the_straight_path() -> None:
    assert compute_progress(straight(), obs((2025, 50))).status == "on_track"


def test_at_risk_when_behind_by_less_than_the_band() -> None:
    progress = compute_progress(straight(), obs((2025, "40.1")))

    assert (progress.progress_pct, progress.expected_pct) == (D("40.1"), D("50.0"))
    assert progress.status == "at_risk"


def test_off_track_when_behind_by_exactly_the_band() -> None:
    assert compute_progress(straight(), obs((2025, 40))).status == "off_track"


def test_the_at_risk_band_is_per_indicator() -> None:
    assert compute_progress(straight(band=5), obs((2025, "45.1"))).status == "at_risk"
    assert compute_progress(straight(band=5), obs((2025, 45))).status == "off_track"


def test_percentages_round_half_up() -> None:
    quarter = IndicatorTarget.build(
        direction="increase",
        target_kind="absolute",
        baseline_year=2020,
        baseline_value=0,
        target_year=2025,
        target_value=400,
        period_start=2021,
        period_end=2025,
        unit="",
    )

    assert compute_progress(quarter, obs((2021, 49))).progress_pct == D("12.3")  # 12.25


# --- growth rate only: geometric path ----------------------------------------------------------


def test_growth_rate_only_measures_against_the_geometric_path() -> None:
    progress = compute_progress(gdp_growth_only(), obs((2023, 1210)))

    # implied 2025 target 1074 * 1.065**5 = 1471.47; 136 / 397.47 = 34.2%;
    # the geometric path in 2023: 1074 * (1.065**3 - 1) / 397.47 = 56.2%.
    assert progress.progress_pct == D("34.2")
    assert progress.expected_pct == D("56.2")
    assert progress.status == "off_track"
    assert progress.required_annual_growth_pct == D("10.3")


def test_growth_rate_only_explanation_shows_the_actual_growth() -> None:
    progress = compute_progress(gdp_growth_only(), obs((2023, 1210)))

    # (1210 / 1074) ** (1 / 3) - 1 = 4.05%
    assert "actual growth 4.1%/yr" in progress.explanation_en
    assert "实际年均增长4.1%" in progress.explanation_zh
    assert "1,471.47" in progress.explanation_en


def test_growth_rate_only_on_the_path_is_on_track() -> None:
    on_path = D(1074) * D("1.065") ** 2  # 1218.14...

    progress = compute_progress(gdp_growth_only(), obs((2022, on_path)))

    assert progress.progress_pct == progress.expected_pct
    assert progress.status == "on_track"


def test_growth_rate_only_is_achieved_only_at_the_implied_target() -> None:
    assert compute_progress(gdp_growth_only(), obs((2025, 1471))).status != "achieved"
    assert compute_progress(gdp_growth_only(), obs((2025, 1472))).status == "achieved"


def test_growth_rate_only_decrease_follows_a_falling_path() -> None:
    water = row(
        direction="decrease",
        target_kind="absolute",
        baseline_year=2020,
        baseline_value=48,
        target_growth_pct="-3.2",
        unit="立方米",
    )  # 万元地区生产总值用水量, 年均 -3.2%

    progress = compute_progress(water, obs((2023, "44.5")))

    # implied 48 * 0.968**5 = 40.80; (44.5 - 48) / (40.80 - 48) = 48.6%;
    # the path in 2023: 48 * (0.968**3 - 1) / (40.80 - 48) = 61.9%.
    assert progress.progress_pct == D("48.6")
    assert progress.expected_pct == D("61.9")
    assert progress.status == "off_track"


# --- bounds: at_most / at_least ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["4.5", "6"])
def test_at_most_within_the_bound_is_achieved(value: str) -> None:
    progress = compute_progress(unemployment(), obs((2023, value)))

    assert progress.status == "achieved"
    assert progress.progress_pct is None
    assert progress.expected_pct is None


def test_at_most_above_the_bound_is_off_track() -> None:
    progress = compute_progress(unemployment(), obs((2023, "6.3")))

    assert progress.status == "off_track"
    assert progress.explanation_zh == "2023年：6.3%，目标不高于6%：滞后"
    assert progress.explanation_en == "2023: 6.3%, target at most 6%: off track"


def test_at_least_below_the_bound_is_off_track_and_at_or_above_achieved() -> None:
    grain = row(
        direction="increase", target_kind="at_least", target_value=40, unit="亿斤"
    )  # 19.粮食综合生产能力

    assert compute_progress(grain, obs((2023, 39))).status == "off_track"
    assert compute_progress(grain, obs((2023, 40))).status == "achieved"


# --- cumulative --------------------------------------------------------------------------------


def test_cumulative_sums_the_plan_years_against_the_target() -> None:
    progress = compute_progress(fixed_asset_investment(), obs((2021, 400), (2022, 450), (2023, 500)))

    # 1350 / 2440 = 55.3%; three of five years elapsed = 60%.
    assert progress.progress_pct == D("55.3")
    assert progress.expected_pct == D("60.0")
    assert progress.status == "at_risk"
    assert progress.required_annual_growth_pct is None
    assert progress.explanation_zh.startswith("2021–2023年累计：1,350亿元")


def test_cumulative_is_achieved_when_the_sum_reaches_the_target() -> None:
    progress = compute_progress(fixed_asset_investment(), obs((2021, 800), (2022, 820), (2023, 820)))

    assert progress.progress_pct == D("100.0")
    assert progress.status == "achieved"


def test_cumulative_ignores_years_outside_the_plan_period() -> None:
    progress = compute_progress(fixed_asset_investment(), obs((2020, "360.3"), (2021, 400), (2026, 900)))

    assert progress.latest_year == 2021
    assert progress.progress_pct == D("16.4")  # 400 / 2440
    assert progress.expected_pct == D("20.0")


# --- not measurable, no data -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("ratio", "14:39:47"),  # 5.三次产业结构
        ("qualitative", "不低于沿海六市平均水平"),  # 2.一般公共预算收入
        ("pending", "待省反馈"),  # 单位地区生产总值能耗降低 (十三五)
    ],
)
def test_ratio_qualitative_and_pending_are_not_measurable(kind: str, text: str) -> None:
    target = row(direction="increase", target_kind=kind, unit="%", target_text=text)

    progress = compute_progress(target, obs((2023, 50)))

    assert progress.status == "not_measurable"
    assert progress.progress_pct is None
    assert text in progress.explanation_zh
    assert text in progress.explanation_en
    assert "不可量化" in progress.explanation_zh


def test_absolute_without_a_baseline_is_not_measurable() -> None:
    progress = compute_progress(gdp(baseline_value=None), obs((2023, 1210)))

    assert progress.status == "not_measurable"
    assert "1500左右" in progress.explanation_en


def test_increase_target_below_its_baseline_is_not_measurable() -> None:
    grain = row(
        direction="increase",
        target_kind="absolute",
        baseline_year=2020,
        baseline_value=46,
        target_value=40,
        unit="亿斤",
    )

    assert compute_progress(grain, obs((2023, 44))).status == "not_measurable"


def test_no_observations_is_no_data() -> None:
    progress = compute_progress(gdp(), [])

    assert progress.status == "no_data"
    assert progress.latest_year is None
    assert progress.progress_pct is None
    assert progress.explanation_zh.endswith("暂无数据")


def test_only_observations_outside_the_period_is_no_data() -> None:
    progress = compute_progress(gdp(), obs((2020, 1074), (2026, 1600)))

    assert progress.status == "no_data"


# --- which observations count ------------------------------------------------------------------


def test_observations_outside_the_period_are_ignored() -> None:
    progress = compute_progress(gdp(), obs((2019, 1100), (2020, 1074), (2023, 1210), (2026, 1600)))

    assert progress.latest_year == 2023
    assert progress.progress_pct == D("31.9")


def test_latest_is_the_greatest_year_whatever_the_order() -> None:
    progress = compute_progress(gdp(), obs((2023, 1210), (2021, 1120), (2022, 1160)))

    assert progress.latest_year == 2023


def test_a_year_given_twice_keeps_the_last_value() -> None:
    progress = compute_progress(fixed_asset_investment(), obs((2021, 400), (2021, 488)))

    assert progress.progress_pct == D("20.0")  # 488 / 2440, not (400 + 488) / 2440


# --- building targets --------------------------------------------------------------------------


def test_build_turns_numbers_and_strings_into_decimals() -> None:
    target = gdp(baseline_value=1074.1, target_value="1500", at_risk_band_pts=5)

    assert target.baseline_value == D("1074.1")
    assert target.target_value == D("1500")
    assert target.at_risk_band_pts == D(5)
    assert Observation.of(2023, 0.1).value == D("0.1")


def test_unknown_target_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="target kind"):
        gdp(target_kind="roughly")


# --- properties --------------------------------------------------------------------------------

amounts = st.decimals(min_value=-10_000, max_value=10_000, places=2, allow_nan=False, allow_infinity=False)
positive_amounts = st.decimals(min_value=D("0.01"), max_value=10_000, places=2)
growth_rates = st.decimals(min_value=D("-30"), max_value=D("30"), places=1).filter(lambda g: g != 0)


@st.composite
def path_targets(draw: st.DrawFn, direction: Direction) -> IndicatorTarget:
    """A measurable straight or geometric target whose numbers agree with its direction."""
    baseline_year = draw(st.integers(2015, 2024))
    target_year = draw(st.integers(baseline_year + 1, 2035))
    kind: TargetKind = draw(st.sampled_from(["absolute", "approximately"]))
    baseline = draw(positive_amounts)
    sign = 1 if direction == "increase" else -1
    if draw(st.booleans()):
        growth = abs(draw(growth_rates)) * sign
        return IndicatorTarget.build(
            direction=direction,
            target_kind=kind,
            baseline_year=baseline_year,
            baseline_value=baseline,
            target_year=target_year,
            target_growth_pct=growth,
            period_start=baseline_year + 1,
            period_end=target_year,
            unit="",
        )
    goal = baseline + sign * draw(positive_amounts)
    return IndicatorTarget.build(
        direction=direction,
        target_kind=kind,
        baseline_year=baseline_year,
        baseline_value=baseline,
        target_year=target_year,
        target_value=goal,
        period_start=baseline_year + 1,
        period_end=target_year,
        unit="",
    )


@st.composite
def two_readings(draw: st.DrawFn, target: IndicatorTarget) -> tuple[int, Decimal, Decimal]:
    """One year in the plan period and two values for it, low <= high."""
    year = draw(st.integers(target.period_start, target.target_year))
    low, high = sorted([draw(amounts), draw(amounts)])
    return year, low, high


@given(st.data())
def test_progress_never_falls_as_an_increase_indicator_rises(data: st.DataObject) -> None:
    target = data.draw(path_targets("increase"))
    year, low, high = data.draw(two_readings(target))

    at_low = compute_progress(target, [Observation(year, low)]).progress_pct
    at_high = compute_progress(target, [Observation(year, high)]).progress_pct

    assert at_low is not None and at_high is not None
    assert at_low <= at_high


@given(st.data())
def test_progress_never_falls_as_a_decrease_indicator_falls(data: st.DataObject) -> None:
    target = data.draw(path_targets("decrease"))
    year, low, high = data.draw(two_readings(target))

    at_low = compute_progress(target, [Observation(year, low)]).progress_pct
    at_high = compute_progress(target, [Observation(year, high)]).progress_pct

    assert at_low is not None and at_high is not None
    assert at_low >= at_high


@st.composite
def any_measurable_target(draw: st.DrawFn) -> IndicatorTarget:
    direction: Direction = draw(st.sampled_from(["increase", "decrease"]))
    if draw(st.booleans()):
        return draw(path_targets(direction))
    kind: TargetKind = draw(st.sampled_from(["at_most", "at_least", "cumulative"]))
    return IndicatorTarget.build(
        direction=direction,
        target_kind=kind,
        target_year=2025,
        period_start=2021,
        period_end=2025,
        target_value=draw(positive_amounts),
        unit="",
    )


def target_is_met(target: IndicatorTarget, observations: list[Observation]) -> bool:
    """The definition of 'met', computed independently with exact fractions."""
    counted = {o.year: o.value for o in observations if target.period_start <= o.year <= target.target_year}
    latest = Fraction(counted[max(counted)])
    rising = target.direction == "increase"
    if target.target_kind == "cumulative":
        assert target.target_value is not None
        in_period = [v for y, v in counted.items() if y <= target.period_end]
        return sum(map(Fraction, in_period)) >= Fraction(target.target_value)
    if target.target_kind in ("at_most", "at_least"):
        assert target.target_value is not None
        bound = Fraction(target.target_value)
        return latest <= bound if target.target_kind == "at_most" else latest >= bound
    assert target.baseline_value is not None and target.baseline_year is not None
    if target.target_value is None:
        assert target.target_growth_pct is not None
        factor = 1 + Fraction(target.target_growth_pct) / 100
        goal = Fraction(target.baseline_value) * factor ** (target.target_year - target.baseline_year)
        return latest >= goal if rising else latest <= goal
    goal = Fraction(target.target_value)
    if target.target_kind == "approximately" and abs(latest - goal) <= abs(goal) / 50:
        return True
    return latest >= goal if rising else latest <= goal


@given(
    any_measurable_target(),
    st.lists(st.tuples(st.integers(2010, 2040), amounts), min_size=1, max_size=8),
)
def test_status_is_never_achieved_unless_the_target_is_met(
    target: IndicatorTarget, readings: list[tuple[int, Decimal]]
) -> None:
    observations = [Observation(year, value) for year, value in readings]
    assume(any(target.period_start <= o.year <= target.target_year for o in observations))

    progress = compute_progress(target, observations)

    assert (progress.status == "achieved") == target_is_met(target, observations)


@given(
    st.lists(
        st.decimals(min_value=D("0.01"), max_value=D("999999.99"), places=2),
        min_size=1,
        max_size=5,
    )
)
def test_cumulative_sums_decimals_exactly(amounts_by_year: list[Decimal]) -> None:
    observations = [Observation(2021 + i, value) for i, value in enumerate(amounts_by_year)]
    exact_sum = sum(amounts_by_year, D(0))

    reached = compute_progress(fixed_asset_investment(target_value=exact_sum), observations)
    one_cent_short = compute_progress(
        fixed_asset_investment(target_value=exact_sum + D("0.01")), observations
    )

    assert reached.status == "achieved"
    assert reached.progress_pct == D("100.0")
    assert one_cent_short.status != "achieved"


# --- 专栏："十三五"时期主要指标预计完成情况: a target and the 2020 result, no baseline ---------

FYP13 = {"target_year": 2020, "period_start": 2016, "period_end": 2020}


def fyp13(**fields: Any) -> IndicatorTarget:
    return IndicatorTarget.build(**{**FYP13, **fields})


def test_thirteenth_plan_result_past_its_target_is_achieved() -> None:
    """16.城镇棚户区住房改造: target 3878 套, 2020: 12558 套."""
    target = fyp13(direction="increase", target_kind="absolute", target_value=3878, unit="套")
    result = compute_progress(target, obs((2020, 12558)))
    assert result.status == "achieved" and result.progress_pct is None
    assert "12,558套" in result.explanation_zh and "目标3,878套" in result.explanation_zh


def test_thirteenth_plan_result_short_of_its_target_is_off_track() -> None:
    """6.研究与试验发展经费 (share of GDP): target 2 %, 2020: 1.1 %."""
    target = fyp13(direction="increase", target_kind="absolute", target_value=2, unit="%")
    result = compute_progress(target, obs((2020, "1.1")))
    assert result.status == "off_track"
    assert "short of the target of 2%" in result.explanation_en


def test_thirteenth_plan_decrease_below_its_target_is_achieved() -> None:
    """19.万元地区生产总值用水量: at most 49.3 立方米 by 2020, 2020: 48."""
    target = fyp13(direction="decrease", target_kind="absolute", target_value="49.3", unit="立方米")
    assert compute_progress(target, obs((2020, 48))).status == "achieved"
    assert compute_progress(target, obs((2020, 50))).status == "off_track"


def test_without_a_baseline_the_pace_is_not_judged_before_the_target_year() -> None:
    target = fyp13(direction="increase", target_kind="absolute", target_value=3878, unit="套")
    assert compute_progress(target, obs((2018, 1000))).status == "not_measurable"
    assert compute_progress(target, obs((2018, 4000))).status == "achieved"  # already there
    assert compute_progress(target, []).status == "not_measurable"
