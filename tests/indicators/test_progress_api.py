"""Progress as the API shows it, per target kind, on the plan's own rows; and the
summary by scope that the gateway's county rollup reads."""

from __future__ import annotations

from typing import Any, get_args

from fastapi.testclient import TestClient

from services.indicators import reference
from services.indicators.progress import TargetKind
from tests.indicators.conftest import ADMIN_EN, COUNTY, PM25, new_indicator, observe


def _progress(client: TestClient, indicator_id: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return client.get(f"/api/v1/indicators/{indicator_id}", headers=headers).json()["progress"]  # type: ignore[no-any-return]


def test_gdp_1074_to_1500_approximately_in_2023_is_off_track(client: TestClient) -> None:
    gdp = new_indicator(client)
    observe(client, gdp["id"], 2021, 1120)
    observe(client, gdp["id"], 2023, 1210)

    progress = _progress(client, gdp["id"])

    # (1210 - 1074) / (1500 - 1074) = 31.9%; the straight path is at 3/5 = 60% in 2023
    assert progress == {
        "latest_year": 2023,
        "latest_value": 1210,
        "progress_pct": 31.9,
        "expected_pct": 60,
        "required_annual_growth_pct": 11.3,
        "status": "off_track",
        "explanation": "2023年：1,210亿元，完成目标进程31.9%，按直线路径应达60%：滞后",
        "explanation_zh": "2023年：1,210亿元，完成目标进程31.9%，按直线路径应达60%：滞后",
        "explanation_en": "2023: 1,210 亿元, 31.9% of the way to 1,500; a straight path would be at 60%: off track",
    }


def test_explanation_follows_accept_language(client: TestClient) -> None:
    gdp = new_indicator(client)
    observe(client, gdp["id"], 2023, 1210)

    listed = client.get("/api/v1/indicators", headers=ADMIN_EN).json()["items"][0]["progress"]

    assert listed["explanation"] == listed["explanation_en"]
    assert listed["explanation"].startswith("2023: 1,210 亿元")


def test_gdp_within_two_pct_of_1500_is_achieved(client: TestClient) -> None:
    gdp = new_indicator(client)
    observe(client, gdp["id"], 2025, 1475)

    assert _progress(client, gdp["id"])["status"] == "achieved"


def test_pm25_46_to_35_falling_to_40_is_at_risk(client: TestClient) -> None:
    pm25 = new_indicator(client, **PM25)
    observe(client, pm25["id"], 2023, 40)

    progress = _progress(client, pm25["id"])

    # (40 - 46) / (35 - 46) = 54.5%, 5.5 points behind the straight path's 60%
    assert (progress["progress_pct"], progress["expected_pct"], progress["status"]) == (54.5, 60, "at_risk")
    assert progress["required_annual_growth_pct"] == -6.5


def test_pm25_at_35_is_achieved(client: TestClient) -> None:
    pm25 = new_indicator(client, **PM25)
    observe(client, pm25["id"], 2024, 35)

    assert _progress(client, pm25["id"])["status"] == "achieved"


def test_growth_rate_only_follows_the_geometric_path(client: TestClient) -> None:
    gdp = new_indicator(client, target_value=None, target_text="6.5左右")
    observe(client, gdp["id"], 2022, "1218.2")  # 1074 * 1.065^2 = 1218.2

    progress = _progress(client, gdp["id"], ADMIN_EN)

    assert progress["status"] == "on_track"
    assert "6.5%/yr" in progress["explanation"]


def test_cumulative_sums_the_plan_years(client: TestClient) -> None:
    investment = new_indicator(
        client,
        code="FYP14-03",
        name="固定资产投资",
        target_kind="cumulative",
        baseline_value="360.3",
        target_value=2440,
        target_text="2440(累计)",
        target_growth_pct=10,
    )
    for year, value in ((2021, 400), (2022, 450), (2023, 500)):
        observe(client, investment["id"], year, value)

    progress = _progress(client, investment["id"])

    # 1350 / 2440 = 55.3% after 3 of 5 years (60%)
    assert (progress["progress_pct"], progress["expected_pct"], progress["status"]) == (55.3, 60, "at_risk")


def test_at_most_unemployment_within_six_pct_is_achieved(client: TestClient) -> None:
    unemployment = new_indicator(
        client,
        code="FYP14-11",
        name="城镇登记失业率",
        unit="%",
        direction="decrease",
        baseline_value="4.8",
        target_value=6,
        target_text="6 以内",
        target_kind="at_most",
        target_growth_pct=None,
    )
    observe(client, unemployment["id"], 2022, "5.1")

    progress = _progress(client, unemployment["id"])

    assert (progress["status"], progress["progress_pct"]) == ("achieved", None)


def test_at_least_below_the_bound_is_off_track(client: TestClient) -> None:
    share = new_indicator(
        client,
        code="TXT-003",
        name="滨海新区经济总量占全市比重",
        unit="%",
        scope="binhai",
        baseline_value=None,
        target_value=10,
        target_text="10%以上",
        target_kind="at_least",
        target_growth_pct=None,
    )
    observe(client, share["id"], 2022, "8.5")

    assert _progress(client, share["id"])["status"] == "off_track"


def test_ratio_and_qualitative_targets_are_not_measurable(client: TestClient) -> None:
    structure = new_indicator(
        client, code="FYP14-05", target_kind="ratio", target_value=None, target_text="14:39:47"
    )
    revenue = new_indicator(
        client,
        code="FYP14-02",
        target_kind="qualitative",
        target_value=None,
        target_text="不低于沿海六市平均水平",
    )

    assert _progress(client, structure["id"])["status"] == "not_measurable"
    assert _progress(client, revenue["id"])["explanation_zh"] == "目标“不低于沿海六市平均水平”：不可量化"


def test_at_risk_band_is_per_indicator(client: TestClient) -> None:
    pm25 = new_indicator(client, **{**PM25, "at_risk_band_pts": 5})
    observe(client, pm25["id"], 2023, 40)  # 5.5 points behind: beyond a 5-point band

    assert _progress(client, pm25["id"])["status"] == "off_track"


# --------------------------------------------------------------------------- summary


def test_summary_by_scope_counts_indicators_by_status(client: TestClient) -> None:
    gdp = new_indicator(client)
    pm25 = new_indicator(client, **PM25)
    county = new_indicator(client, **COUNTY)
    new_indicator(client, **{**COUNTY, "code": "T-HEISHAN-2"})
    observe(client, gdp["id"], 2023, 1210)  # off track
    observe(client, pm25["id"], 2024, 35)  # achieved
    observe(client, county["id"], 2023, 17)  # 70% of the way at 60%: on track

    summary = client.get("/api/v1/summary", params={"by": "scope"}).json()

    assert summary["by"] == ["scope"]
    zero = {"achieved": 0, "on_track": 0, "at_risk": 0, "off_track": 0, "no_data": 0, "not_measurable": 0}
    assert summary["rows"] == [
        {"scope": "city", "indicator_count": 2, "status_counts": {**zero, "achieved": 1, "off_track": 1}},
        {"scope": "heishan", "indicator_count": 2, "status_counts": {**zero, "on_track": 1, "no_data": 1}},
    ]
    assert summary["totals"] == {
        "indicator_count": 4,
        "status_counts": {**zero, "achieved": 1, "off_track": 1, "on_track": 1, "no_data": 1},
    }


def test_summary_rows_sum_to_totals_by_category_with_filters(client: TestClient) -> None:
    new_indicator(client)
    new_indicator(client, **PM25)
    new_indicator(client, **COUNTY)

    summary = client.get("/api/v1/summary", params={"by": "category", "scope": "city"}).json()

    assert [(r["category"], r["indicator_count"]) for r in summary["rows"]] == [
        ("生态环境", 1),
        ("经济发展", 1),
    ]
    assert summary["totals"]["indicator_count"] == 2


def test_summary_by_an_unknown_dimension_is_422(client: TestClient) -> None:
    assert client.get("/api/v1/summary", params={"by": "county"}).status_code == 422


# --------------------------------------------------------------------------- reference


def test_categories_lists_the_ones_present_in_both_languages(client: TestClient) -> None:
    new_indicator(client)
    new_indicator(client, **PM25)
    new_indicator(client, **COUNTY)

    items = client.get("/api/v1/reference/indicator-categories").json()["items"]

    assert [(i["zh"], i["en"], i["indicator_count"]) for i in items] == [
        ("生态环境", "Ecology and environment", 1),
        ("经济发展", "Economic development", 2),
    ]


def test_target_kinds_say_which_are_measurable(client: TestClient) -> None:
    items = client.get("/api/v1/reference/target-kinds").json()["items"]

    assert [i["code"] for i in items if not i["measurable"]] == ["ratio", "qualitative", "pending"]
    assert len(items) == 8


def test_target_kinds_match_the_progress_rules() -> None:
    assert [k.code for k in reference.TARGET_KINDS] == list(get_args(TargetKind))
