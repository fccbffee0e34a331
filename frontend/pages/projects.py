"""项目 Projects: the filtered, sortable list and one project in detail (fields, history,
reports); for users the gateway lets change it (``can_edit``), the status, edit and report
forms. A viewer, or a manager looking at another county's project, sees no edit control."""

from __future__ import annotations

from typing import Any

import streamlit as st

from frontend import data, project_forms, project_view
from frontend.format import STATUS_ORDER, filter_money_unit, status_label
from frontend.i18n import t
from frontend.shell import run_page
from frontend.tables import project_table
from frontend.ui import Names, choice, lang, names, show_flashes, widget_key

SORTS = ("-total_investment_wan", "total_investment_wan", "code", "name", "-updated_at")


def list_filters(language: str, nm: Names) -> tuple[dict[str, Any], str]:
    with st.container(border=True):
        first = st.columns([3, 2, 2, 2])
        q = first[0].text_input(t("common.search", language), key="pf_q")
        county = choice(
            first[1].multiselect,
            t("common.county", language),
            list(nm.counties),
            format_func=nm.county,
            key="pf_county",
            placeholder=t("common.all", language),
        )
        groups = choice(
            first[2].multiselect,
            t("common.sector_group", language),
            list(nm.groups),
            format_func=nm.group,
            key="pf_group",
            placeholder=t("common.all", language),
        )
        sectors_in_scope = [s for s in nm.sectors if not groups or nm.group_of(s) in groups]
        sector = choice(
            first[3].multiselect,
            t("common.sector", language),
            sectors_in_scope,
            format_func=nm.sector,
            key="pf_sector",
            placeholder=t("common.all", language),
        )
        second = st.columns([2, 1, 1, 1, 2])
        status = choice(
            second[0].multiselect,
            t("common.status", language),
            STATUS_ORDER,
            format_func=lambda s: status_label(s, language),
            key="pf_status",
            placeholder=t("common.all", language),
        )
        year = second[1].number_input(
            t("common.start_year", language),
            min_value=2000,
            max_value=2100,
            value=None,
            step=1,
            key="pf_year",
        )
        low = second[2].number_input(t("projects.min", language), min_value=0.0, value=None, key="pf_min")
        high = second[3].number_input(t("projects.max", language), min_value=0.0, value=None, key="pf_max")
        sort = choice(
            second[4].selectbox,
            t("projects.sort", language),
            SORTS,
            format_func=lambda s: t(f"sort.{s}", language),
            key="pf_sort",
        )
    unit = filter_money_unit(language)
    filters = {
        "q": q.strip() or None,
        "county": county,
        "sector_group": groups,
        "sector": [s for s in sector if s in sectors_in_scope],
        "status": status,
        "start_year": int(year) if year else None,
        "min_investment_wan": round(low * unit) if low else None,
        "max_investment_wan": round(high * unit) if high else None,
    }
    return filters, str(sort)


def choose(project_id: int | None) -> None:
    st.session_state["project_id"] = project_id


def pick_project(items: list[dict[str, Any]], language: str) -> int | None:
    """The project to show: the row selected in the table, the one picked in the box, or
    the one the county page handed over."""
    current = st.session_state.get("project_id")
    labels = {p["id"]: f"{p['code']} · {p['name']}" for p in items}
    if current is not None and current not in labels:
        found = data.project(int(current)).data
        labels[current] = f"{found['code']} · {found['name']}"
    st.session_state[widget_key("project_pick")] = current
    st.selectbox(
        t("projects.open", language),
        [None, *labels],
        format_func=lambda pid: t("projects.pick_hint", language) if pid is None else labels[pid],
        key=widget_key("project_pick"),
        on_change=lambda: choose(st.session_state.get(widget_key("project_pick"))),
        placeholder=t("projects.pick_hint", language),
    )
    return int(current) if current is not None else None


def project_detail(project_id: int, language: str, nm: Names) -> None:
    found = data.project(project_id)
    project = found.data
    st.divider()
    project_view.header(project, language)
    project_forms.conflict_notice(project_id, language, nm)
    labels = [t("detail.fields", language), t("detail.history", language), t("detail.reports", language)]
    editable = bool(project.get("can_edit"))
    if editable:
        labels.append(t("form.edit", language))
    conflict = bool(st.session_state.get(f"conflict:{project_id}"))
    tabs = st.tabs(labels, default=labels[-1] if editable and conflict else None)  # back to the kept input
    with tabs[0]:
        project_view.fields_section(project, language, nm)
    with tabs[1]:
        project_view.history_section(data.history(project_id), language, nm)
    with tabs[2]:
        project_view.reports_section(data.reports(project_id), language)
    if not editable:
        st.caption(t("detail.read_only", language))
        return
    with tabs[3]:
        left, right = st.columns(2)
        with left:
            project_forms.status_form(project, found.etag, language)
            project_forms.report_form(project, language)
        with right:
            project_forms.edit_form(project, found.etag, language)


def render() -> None:
    language = lang()
    nm = names()
    st.title(t("projects.title", language))
    show_flashes()
    filters, sort = list_filters(language, nm)
    listing = data.projects(filters, sort)
    items = listing.get("items", [])
    st.caption(t("projects.count", language, total=f"{int(listing.get('total') or 0):,}"))
    if listing.get("truncated"):
        st.warning(t("projects.truncated", language, shown=len(items)))
    project_table(items, language, nm, key="projects_table", on_pick=choose)
    project_id = pick_project(items, language)
    if project_id is not None:
        project_detail(project_id, language, nm)


run_page(render)
