"""区县 County: one county's KPIs (the gateway's county rollup, money split by shares),
its projects, its indicators (scope = the county) and its stalled projects."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from frontend import data
from frontend.format import money, pct, progress_badges, status_badges
from frontend.i18n import t
from frontend.shell import run_page
from frontend.stalled import stalled_projects
from frontend.tables import indicator_table, project_table
from frontend.ui import Names, badges, choice, lang, me, names

PROJECTS_PAGE = "pages/projects.py"
INDICATORS_PAGE = "pages/indicators.py"


def pick_county(language: str, nm: Names) -> str:
    codes = list(nm.counties)
    mine = [c for c in me().get("counties") or [] if c in codes]
    if "county_pick" not in st.session_state and mine:
        st.session_state["county_pick"] = mine[0]
    picked: str = choice(
        st.selectbox, t("county.pick", language), codes, format_func=nm.county, key="county_pick"
    )
    return picked


def county_kpis(row: dict[str, Any] | None, language: str) -> None:
    row = row or {}
    cells = st.columns(4)
    cells[0].metric(t("kpi.projects", language), f"{int(row.get('project_count', 0)):,}")
    cells[1].metric(t("kpi.total", language), money(row.get("total_investment_wan", 0), language))
    cells[2].metric(t("kpi.completed", language), money(row.get("completed_investment_wan", 0), language))
    cells[3].metric(t("metric.completion_rate", language), pct(row.get("completion_rate", 0), language))
    badges(status_badges(row.get("status_counts") or {}, language))
    indicators = row.get("indicators") or {}
    if indicators.get("status_counts"):
        badges(progress_badges(indicators["status_counts"], language))


def open_in_projects(project_id: int) -> None:
    """Table callback: show the picked project on the projects page."""
    st.session_state["project_id"] = project_id
    st.session_state["goto_projects"] = True


def stalled_section(items: list[dict[str, Any]], language: str, nm: Names) -> None:
    st.subheader(t("county.stalled", language), help=t("county.stalled_help", language))
    found = stalled_projects(items, date.today())
    if not found:
        st.success(t("county.no_stalled", language))
        return
    reasons = [
        t(f"county.stalled_reason.{reason}", language, period=period or "") for _p, reason, period in found
    ]
    project_table(
        [p for p, _r, _l in found],
        language,
        nm,
        key="county_stalled",
        on_pick=open_in_projects,
        extra={"reason": reasons},
    )


def open_indicator(indicator_id: int) -> None:
    st.session_state["indicator_id"] = indicator_id
    st.session_state["goto_indicators"] = True


def render() -> None:
    if st.session_state.pop("goto_projects", False):
        st.switch_page(PROJECTS_PAGE)
    if st.session_state.pop("goto_indicators", False):
        st.switch_page(INDICATORS_PAGE)
    language = lang()
    nm = names()
    st.title(t("county.title", language))
    county = pick_county(language, nm)
    rows = data.county_rollup().get("rows", [])
    county_kpis(next((r for r in rows if r["county"] == county), None), language)

    items = data.projects({"county": county}, "-total_investment_wan").get("items", [])
    tab_projects, tab_indicators, tab_stalled = st.tabs(
        [t("county.projects", language), t("county.indicators", language), t("county.stalled", language)]
    )
    with tab_projects:
        project_table(items, language, nm, key="county_projects", on_pick=open_in_projects)
    with tab_indicators:
        scope = "city" if county == "citywide" else county
        indicators = data.indicators({"scope": scope}).get("items", [])
        if indicators:
            indicator_table(indicators, language, nm, key="county_indicators", on_pick=open_indicator)
        else:
            st.info(t("common.no_data", language))
    with tab_stalled:
        stalled_section(items, language, nm)


run_page(render)
