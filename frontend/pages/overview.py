"""总览 Overview: KPIs, the county map, investment by sector group and sector, the county x
sector heatmap and the indicators at a glance. The filters (status, sector group, start
year) go to every rollup call as query parameters, so every chart answers the same
question; the numbers are the gateway's rollups, never re-added here."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from frontend import charts, data
from frontend.format import (
    STATUS_ORDER,
    money,
    pct,
    progress_badges,
    status_badges,
    status_label,
    table_money_format,
)
from frontend.i18n import t
from frontend.shell import run_page
from frontend.ui import Names, badges, choice, lang, names


def overview_filters(language: str, nm: Names) -> dict[str, Any]:
    years_rollup = data.rollup("start_year")
    years = sorted(int(r["start_year"]) for r in years_rollup.get("rows", []))
    with st.container(border=True):
        left, middle, right = st.columns(3)
        status = choice(
            left.multiselect,
            t("common.status", language),
            STATUS_ORDER,
            format_func=lambda s: status_label(s, language),
            key="ov_status",
            placeholder=t("common.all", language),
        )
        groups = choice(
            middle.multiselect,
            t("common.sector_group", language),
            list(nm.groups),
            format_func=nm.group,
            key="ov_group",
            placeholder=t("common.all", language),
        )
        year = choice(
            right.selectbox,
            t("common.start_year", language),
            [None, *years],
            format_func=lambda y: t("common.all", language) if y is None else str(y),
            key="ov_year",
        )
        st.caption(t("overview.filters_note", language))
    return {"status": status, "sector_group": groups, "start_year": year}


def kpis(totals: dict[str, Any], language: str) -> None:
    cells = st.columns([1, 1.5, 1.5, 1, 1])  # money needs the room ("RMB 136.19 bn")
    cells[0].metric(t("kpi.projects", language), f"{int(totals.get('project_count', 0)):,}")
    cells[1].metric(t("kpi.total", language), money(totals.get("total_investment_wan", 0), language))
    cells[2].metric(t("kpi.completed", language), money(totals.get("completed_investment_wan", 0), language))
    cells[3].metric(t("metric.completion_rate", language), pct(totals.get("completion_rate", 0), language))
    cells[4].metric(t("kpi.over_budget", language), f"{int(totals.get('over_budget', 0)):,}")
    st.caption(t("kpi.by_status", language))
    badges(status_badges(totals.get("status_counts") or {}, language))


def county_table(rows: list[dict[str, Any]], language: str, nm: Names) -> None:
    order = list(nm.counties)
    rows = sorted(rows, key=lambda r: order.index(r["county"]) if r["county"] in order else len(order))
    frame = pd.DataFrame(
        {
            "county": [nm.county(r["county"]) for r in rows],
            "count": [int(r["project_count"]) for r in rows],
            "total": [charts.chart_money(int(r["total_investment_wan"]), language) for r in rows],
            "rate": [float(r["completion_rate"]) * 100 for r in rows],
        }
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "county": st.column_config.TextColumn(t("common.county", language), width=140),
            "count": st.column_config.NumberColumn(t("col.count_short", language), format="%d", width=60),
            "total": st.column_config.NumberColumn(
                charts.chart_money_unit(language), format=table_money_format(language), width=90
            ),
            "rate": st.column_config.ProgressColumn(
                t("metric.completion_rate", language), format="%.1f%%", min_value=0, max_value=100
            ),
        },
    )


def map_section(filters: dict[str, Any], language: str, nm: Names) -> None:
    st.subheader(t("overview.map", language))
    # /rollups/counties takes no filters; the filtered project measures come from /rollups
    county_rows = data.rollup("county", filters).get("rows", [])
    metric = choice(
        st.radio,
        t("overview.metric", language),
        charts.METRICS,
        format_func=lambda m: t(f"metric.{m}", language),
        horizontal=True,
        key="ov_metric",
    )
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(
            charts.county_map(county_rows, metric, language, nm.county),
            width="stretch",
            config={"displaylogo": False, "scrollZoom": False},
            key="ov_map",
        )
        st.caption(t("overview.points", language))
    with right:
        county_table(county_rows, language, nm)
        citywide = next((r for r in county_rows if r["county"] == "citywide"), None)
        if citywide and citywide.get("project_count"):
            st.caption(
                t(
                    "overview.citywide",
                    language,
                    count=citywide["project_count"],
                    money=money(citywide["total_investment_wan"], language),
                )
            )


def sector_section(filters: dict[str, Any], language: str, nm: Names) -> None:
    rows = data.rollup("sector_group,sector", filters).get("rows", [])
    left, right = st.columns(2)
    with left:
        st.subheader(t("overview.by_group", language))
        if rows:
            st.plotly_chart(charts.group_bar(rows, language, nm), width="stretch", key="ov_groups")
        else:
            st.info(t("common.no_data", language))
    with right:
        st.subheader(t("overview.by_sector", language))
        if rows:
            st.plotly_chart(charts.sector_treemap(rows, language, nm), width="stretch", key="ov_sectors")
    st.subheader(t("overview.heatmap", language))
    cells = data.rollup("county,sector", filters).get("rows", [])
    if cells:
        st.plotly_chart(charts.county_sector_heatmap(cells, language, nm), width="stretch", key="ov_heatmap")
    else:
        st.info(t("common.no_data", language))


def indicator_section(language: str) -> None:
    st.subheader(t("overview.indicators", language))
    items = data.indicators().get("items", [])
    counts: dict[str, int] = {}
    for item in items:
        status = (item.get("progress") or {}).get("status", "no_data")
        counts[status] = counts.get(status, 0) + 1
    st.caption(t("overview.indicator_count", language, count=len(items)))
    badges(progress_badges(counts, language))
    if counts:
        st.plotly_chart(charts.progress_status_bar(counts, language), width="stretch", key="ov_indicators")


def render() -> None:
    language = lang()
    nm = names()
    st.title(t("overview.title", language))
    filters = overview_filters(language, nm)
    totals = data.rollup("sector_group,sector", filters).get("totals", {})
    kpis(totals, language)
    map_section(filters, language, nm)
    sector_section(filters, language, nm)
    indicator_section(language)


run_page(render)
