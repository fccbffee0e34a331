"""指标 Indicators: every indicator grouped by category, with baseline, target, latest
value, progress against the expected path, status colour and the service's explanation;
one indicator's observations against the path to its target; and, for users the gateway
lets record (``can_record``: admins, and county managers for their counties' indicators),
a form to record a year's value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import streamlit as st

from frontend import charts, data
from frontend.api import ApiError
from frontend.format import PROGRESS_ORDER, number, pct_points, progress_badges, progress_label
from frontend.i18n import t
from frontend.shell import run_page
from frontend.tables import indicator_table
from frontend.ui import Names, choice, flash, lang, names, report_failure, show_flashes, widget_key


def indicator_filters(language: str, nm: Names) -> dict[str, Any]:
    left, middle, right = st.columns([2, 2, 3])
    scopes = [None, "city", *[c for c in nm.counties if c != "citywide"]]
    scope = choice(
        left.selectbox,
        t("indicators.scope", language),
        scopes,
        format_func=lambda s: t("common.all", language) if s is None else nm.county(s),
        key="if_scope",
    )
    status = choice(
        middle.multiselect,
        t("ind.status", language),
        PROGRESS_ORDER,
        format_func=lambda s: progress_label(s, language),
        key="if_status",
        placeholder=t("common.all", language),
    )
    q = right.text_input(t("common.search", language), key="if_q")
    return {"scope": scope, "status": status, "q": q.strip() or None}


def by_category(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(item.get("category") or "—", []).append(item)
    return groups


def record_form(indicator: dict[str, Any], language: str) -> None:
    indicator_id = int(indicator["id"])
    latest = (indicator.get("progress") or {}).get("latest_year")
    first_year = int(indicator.get("period_start") or 2000)
    last_year = int(indicator.get("period_end") or indicator.get("target_year") or 2100)
    default = int(latest) + 1 if latest else date.today().year - 1
    with st.form(f"observation_{indicator_id}"):
        st.markdown(f"**{t('ind.record', language)}**")
        left, middle = st.columns(2)
        year = left.number_input(
            t("ind.year", language),
            min_value=first_year,
            max_value=last_year,
            value=min(max(default, first_year), last_year),
            step=1,
            key=f"obs:{indicator_id}:year",
        )
        unit = indicator.get("unit") or ""
        value_text = middle.text_input(
            f"{t('ind.value', language)}{f'（{unit}）' if unit else ''}", key=f"obs:{indicator_id}:value"
        )
        note = st.text_input(t("common.note", language), key=f"obs:{indicator_id}:note")
        submitted = st.form_submit_button(t("ind.record_submit", language), type="primary")
    if not submitted:
        return
    try:
        value = Decimal(value_text.strip().replace(",", ""))
        if not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        st.error(t("error.field", language, field=t("ind.value", language), message=value_text or "—"))
        return
    try:
        result = data.gateway().record_observation(indicator_id, int(year), str(value), note)
    except ApiError as error:
        report_failure(error)
        return
    data.invalidate()
    for suffix in ("value", "note"):
        st.session_state.pop(f"obs:{indicator_id}:{suffix}", None)
    flash(
        "success", t("ind.recorded" if result.get("created") else "ind.unchanged", language, year=int(year))
    )
    st.rerun()


def indicator_detail(indicator_id: int, language: str, nm: Names) -> None:
    indicator = data.indicator(indicator_id)
    progress = indicator.get("progress") or {}
    name = (indicator.get("name_en") or indicator["name"]) if language == "en" else indicator["name"]
    st.markdown(f"#### {name} · {nm.county(indicator.get('scope'))}")
    badges_html = progress_badges({progress.get("status", "no_data"): 1}, language).replace(" 1<", "<")
    st.markdown(badges_html, unsafe_allow_html=True)
    st.write(progress.get("explanation") or "")
    unit = indicator.get("unit")
    cells = st.columns(5)
    cells[0].metric(
        t("ind.baseline", language),
        number(indicator.get("baseline_value"), unit),
        str(indicator.get("baseline_year") or ""),
        delta_color="off",
    )
    cells[1].metric(
        t("ind.target", language),
        number(indicator.get("target_value"), unit)
        if indicator.get("target_value") is not None
        else (indicator.get("target_text") or "—"),
        str(indicator.get("target_year") or ""),
        delta_color="off",
    )
    cells[2].metric(
        t("ind.latest", language),
        number(progress.get("latest_value"), unit),
        str(progress.get("latest_year") or ""),
        delta_color="off",
    )
    cells[3].metric(t("ind.progress", language), pct_points(progress.get("progress_pct")))
    cells[4].metric(t("ind.expected", language), pct_points(progress.get("expected_pct")))
    if progress.get("progress_pct") is not None:
        st.progress(min(max(float(progress["progress_pct"]), 0.0), 100.0) / 100)
    if indicator.get("target_kind") == "cumulative":
        st.caption(t("ind.cumulative_note", language))
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(
            charts.observation_chart(indicator, language), width="stretch", key=f"obs_chart_{indicator_id}"
        )
    with right:
        st.markdown(f"**{t('ind.observations', language)}**")
        observations = sorted(
            (o for o in indicator.get("observations") or [] if o.get("is_current", True)),
            key=lambda o: o["year"],
        )
        st.dataframe(
            {
                t("ind.year", language): [str(o["year"]) for o in observations],
                t("ind.value", language): [number(o["value"], unit) for o in observations],
                t("common.note", language): [o.get("note") or "" for o in observations],
            },
            hide_index=True,
            width="stretch",
        )
        if indicator.get("can_record"):
            record_form(indicator, language)


def choose(indicator_id: int | None) -> None:
    st.session_state["indicator_id"] = indicator_id


def render() -> None:
    language = lang()
    nm = names()
    st.title(t("indicators.title", language))
    show_flashes()
    filters = indicator_filters(language, nm)
    items = data.indicators(filters).get("items", [])
    counts: dict[str, int] = {}
    for item in items:
        status = (item.get("progress") or {}).get("status", "no_data")
        counts[status] = counts.get(status, 0) + 1
    st.caption(t("indicators.count", language, count=len(items)))
    st.markdown(progress_badges(counts, language), unsafe_allow_html=True)
    labels = {i["id"]: f"{nm.category(i.get('category') or '')} · {i['name']}" for i in items}
    current = st.session_state.get("indicator_id")
    st.session_state[widget_key("indicator_pick")] = current if current in labels else None
    st.selectbox(
        t("indicators.pick", language),
        [None, *labels],
        format_func=lambda i: t("indicators.pick_hint", language) if i is None else labels[i],
        key=widget_key("indicator_pick"),
        on_change=lambda: choose(st.session_state.get(widget_key("indicator_pick"))),
        placeholder=t("indicators.pick_hint", language),
    )
    shown = st.session_state.get(widget_key("indicator_pick"))
    for category, members in by_category(items).items():
        st.subheader(nm.category(category))
        indicator_table(members, language, nm, key=f"ind_table_{category}", on_pick=choose)
        if shown is not None and any(m["id"] == shown for m in members):
            with st.container(border=True):
                indicator_detail(int(shown), language, nm)


run_page(render)
