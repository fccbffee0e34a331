"""Formatting, texts, the stalled rule and the figures: pure functions, no gateway."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from plotly.colors import sample_colorscale

from frontend import charts
from frontend.format import (
    chart_money,
    conflict_time,
    local_time,
    money,
    number,
    pct,
    pct_points,
    status_badges,
    status_label,
    table_money,
    wan_from_table,
)
from frontend.i18n import TEXT, t
from frontend.stalled import stalled_reason
from frontend.ui import Names

PLAN_TOTAL_WAN = 13_899_222  # the plan's 179 funded rows (data/jinzhou-14th-fyp/README.md)


def test_money_in_chinese_is_yi_yuan_with_thousands_separators() -> None:
    assert money(PLAN_TOTAL_WAN, "zh") == "1,389.92 亿元"
    assert money(500, "zh") == "0.05 亿元"
    assert money(0, "zh") == "0.00 亿元"


def test_money_in_english_is_billions_from_one_billion_and_millions_below() -> None:
    assert money(PLAN_TOTAL_WAN, "en") == "RMB 138.99 bn"
    assert money(100_000, "en") == "RMB 1.00 bn"
    assert money(45_000, "en") == "RMB 450 m"
    assert money(866, "en") == "RMB 8.66 m"
    assert money(None, "en") == "—"


def test_chart_and_table_units_round_trip_to_integer_wan() -> None:
    assert chart_money(150_000, "zh") == 15.0 and chart_money(150_000, "en") == 1.5
    assert table_money(8_660, "zh") == 0.866 and table_money(8_660, "en") == 86.6
    assert wan_from_table(0.866, "zh") == 8_660 and wan_from_table(86.6, "en") == 8_660


def test_percentages_and_measured_values() -> None:
    assert pct(0.375) == "37.5%" and pct(None) == "—"
    assert pct_points(35) == "35%" and pct_points(37.26) == "37.3%"
    assert number(1074, "亿元") == "1,074 亿元" and number(46.30, "μg/m³") == "46.3 μg/m³"


def test_statuses_have_labels_in_both_languages_and_badges_escape_text() -> None:
    assert status_label("under_construction", "zh") == "在建"
    assert status_label("under_construction", "en") == "Under construction"
    assert status_label("unknown", "zh") == "unknown"
    markup = status_badges({"planned": 3, "completed": 0}, "zh")
    assert "储备 3" in markup and "竣工" not in markup


def test_every_text_has_both_languages_with_the_same_placeholders() -> None:
    for key, (zh, en) in TEXT.items():
        assert zh and en, key
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), key
    assert t("nav.overview", "zh") == "总览" and t("nav.overview", "en") == "Overview"
    assert t("no.such.key", "en") == "no.such.key"


def test_times_are_shown_in_china_standard_time() -> None:
    assert local_time("2025-03-05T02:42:00Z") == "2025-03-05 10:42"
    now = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
    assert conflict_time("2025-03-05T02:42:00+00:00", now) == "10:42"
    assert conflict_time("2025-03-01T02:42:00", now) == "2025-03-01 10:42"


@pytest.mark.parametrize(
    ("status", "last", "expected"),
    [
        ("suspended", "2025-02", "suspended"),
        ("under_construction", None, "never"),
        ("preparing", None, None),
        ("under_construction", "2024-11", "old"),
        ("under_construction", "2024-12", None),
        ("completed", "2020-01", None),
    ],
)
def test_stalled_projects(status: str, last: str | None, expected: str | None) -> None:
    found = stalled_reason({"status": status, "last_report_period": last}, date(2025, 3, 20))
    assert (found[0] if found else None) == expected


def names(lang: str = "zh") -> Names:
    counties = {
        c: {"code": c, "zh": zh, "en": c.title()}
        for c, zh in (
            ("heishan", "黑山县"),
            ("guta", "古塔区"),
            ("linghe", "凌河区"),
            ("taihe", "太和区"),
            ("binhai", "滨海新区"),
            ("songshan", "松山新区"),
        )
    }
    sectors = {"port": {"code": "port", "zh": "港口", "en": "Ports", "group": "infrastructure"}}
    groups = {"infrastructure": {"code": "infrastructure", "zh": "基础设施", "en": "Infrastructure"}}
    return Names(lang, counties, sectors, groups)


def rollup_row(county: str, total: int, done: int = 0, count: int = 1) -> dict[str, object]:
    return {
        "county": county,
        "project_count": count,
        "total_investment_wan": total,
        "completed_investment_wan": done,
        "completion_rate": round(done / total, 4) if total else 0.0,
    }


def test_the_map_draws_the_counties_as_svg_shapes_with_the_new_areas_as_points() -> None:
    nm = names()
    rows = [rollup_row("heishan", 1_469_927, 146_992, 13), rollup_row("binhai", 1_926_600, 0, 23)]
    fig = charts.county_map(rows, "investment", "zh", nm.county)
    *shapes, labels, points = fig.data
    assert len(shapes) == 7 and all(s.type == "scatter" and s.fill == "toself" for s in shapes)
    heishan = next(s for s in shapes if s.name == "heishan")
    assert "黑山县" in heishan.text and "146.99 亿元" in heishan.text and heishan.hoveron == "fills"
    # the colour scale runs to the largest value (binhai's point): heishan at 146.99 / 192.66
    assert heishan.fillcolor == sample_colorscale("Blues", [146.9927 / 192.66])[0]
    assert next(s for s in shapes if s.name == "yixian").fillcolor == sample_colorscale("Blues", [0.0])[0]
    # a MultiPolygon's pieces are one trace, a gap (None) between them
    taihe = next(s for s in shapes if s.name == "taihe")
    pieces = next(f for f in charts.counties_geojson()["features"] if f["id"] == "taihe")["geometry"]
    assert pieces["type"] == "MultiPolygon" and list(taihe.x).count(None) == len(pieces["coordinates"]) - 1
    # names on the map: on the shapes, the two small districts beside theirs on a line
    assert labels.mode == "text" and "黑山县" in labels.text and "古塔区" not in labels.text
    assert {a.text for a in fig.layout.annotations} == {"古塔区", "凌河区"}
    assert points.type == "scatter" and len(points.x) == 2 and points.marker.showscale
    assert any("滨海新区" in text and "192.66 亿元" in text for text in points.hovertext)
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == pytest.approx(
        1.335, abs=0.01
    )
    rate = charts.county_map(rows, "completion_rate", "en", nm.county)
    rate_heishan = next(s for s in rate.data if s.name == "heishan")
    assert "Completion rate: 10.0%" in rate_heishan.text and rate.data[-1].marker.cmax == pytest.approx(10.0)


def test_target_paths_follow_the_progress_rules() -> None:
    straight = {"baseline_year": 2020, "baseline_value": 46, "target_year": 2025, "target_value": 35}
    assert charts.target_path(straight) == [(2020, 46.0), (2025, 35.0)]
    growth = {"baseline_year": 2020, "baseline_value": 1074, "target_year": 2022, "target_growth_pct": 10}
    assert charts.target_path(growth) == [
        (2020, 1074.0),
        (2021, pytest.approx(1181.4)),
        (2022, pytest.approx(1299.54)),
    ]
    cumulative = {"target_kind": "cumulative", "period_start": 2021, "target_year": 2025, "target_value": 100}
    assert charts.target_path(cumulative) == [(2020, 0.0), (2025, 100.0)]
    assert charts.target_path({"target_year": 2025, "target_kind": "qualitative"}) == []


def test_the_observation_chart_shows_the_path_and_the_values() -> None:
    indicator = {
        "baseline_year": 2020, "baseline_value": 46, "target_year": 2025, "target_value": 35, "unit": "μg/m³",
        "observations": [{"year": 2022, "value": 40, "is_current": True}, {"year": 2021, "value": 43}],
        "progress": {"status": "on_track"},
    }  # fmt: skip
    fig = charts.observation_chart(indicator, "zh")
    path, target, observed = fig.data
    assert list(path.x) == [2020, 2025] and list(observed.x) == [2021, 2022] and list(observed.y) == [43, 40]
    assert observed.name == "实际值" and target.name == "目标"


def test_heatmap_and_sector_charts_use_names_and_the_chart_unit() -> None:
    nm = names("en")
    rows = [{"county": "binhai", "sector": "port", "sector_group": "infrastructure", "project_count": 15,
             "total_investment_wan": 1_295_000, "completed_investment_wan": 0}]  # fmt: skip
    heat = charts.county_sector_heatmap(rows, "en", nm)
    assert list(heat.data[0].x) == ["Binhai"] and list(heat.data[0].y) == ["Ports"]
    assert heat.data[0].z[0][0] == pytest.approx(12.95)
    bar = charts.group_bar(rows, "en", nm)
    assert list(bar.data[0].y) == ["Infrastructure"] and bar.data[0].text[0] == "RMB 12.95 bn"
    tree = charts.sector_treemap(rows, "en", nm)
    assert list(tree.data[0].parents) == ["", "infrastructure"]
