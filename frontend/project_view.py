"""One project, read-only: its fields, its status history as a timeline and its progress
reports. Values are shown as people read them (亿元, status names, county names), never
as the API's raw JSON."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import streamlit as st

from frontend.format import badge_html, local_time, money, pct_points, status_color, status_label
from frontend.i18n import TEXT, t
from frontend.tables import status_column
from frontend.ui import Names

FIELD_ORDER = (
    "code",
    "name",
    "name_en",
    "county",
    "county_shares",
    "sector_group",
    "sector",
    "zone",
    "owner_org",
    "total_investment_wan",
    "completed_investment_wan",
    "start_year",
    "end_year",
    "status",
    "status_note",
    "status_changed_at",
    "physical_progress_pct",
    "last_report_period",
    "over_budget",
    "parent_code",
    "plan_section",
    "plan_category",
    "plan_line",
    "tags",
    "description",
    "version",
    "updated_at",
)


def field_label(name: str, language: str) -> str:
    key = f"field.{name}"
    return t(key, language) if key in TEXT else name


def field_value(name: str, value: Any, language: str, nm: Names) -> str:
    """A field's value as text (any field the API may send, including history values)."""
    if value is None or value == "" or value == []:
        return "—"
    if name.endswith("_wan"):
        return money(value, language)
    if name == "status":
        return status_label(str(value), language)
    if name == "county":
        return nm.county(str(value))
    if name == "sector":
        return nm.sector(str(value))
    if name == "sector_group":
        return nm.group(str(value))
    if name == "county_shares" and isinstance(value, dict):
        return "，".join(f"{nm.county(c)} {p}%" for c, p in value.items())
    if name == "physical_progress_pct":
        return pct_points(value)
    if name.endswith("_at"):
        return local_time(str(value))
    if isinstance(value, bool):
        return t("yes" if value else "no", language)
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def fields_section(project: dict[str, Any], language: str, nm: Names) -> None:
    shown = [f for f in FIELD_ORDER if f in project and project[f] not in (None, "", [])]
    half = (len(shown) + 1) // 2
    for column, part in zip(st.columns(2), (shown[:half], shown[half:]), strict=True):
        rows = "".join(
            f'<tr><th style="text-align:left;white-space:nowrap;padding-right:1em">'
            f"{html.escape(field_label(f, language))}</th>"
            f"<td>{html.escape(field_value(f, project[f], language, nm))}</td></tr>"
            for f in part
        )
        column.markdown(f'<table style="width:100%">{rows}</table>', unsafe_allow_html=True)


def change_lines(changed: dict[str, Any], language: str, nm: Names) -> list[str]:
    """``字段：before → after`` for each changed field of a history entry (HTML-escaped)."""
    lines = []
    for name, change in changed.items():
        before = change.get("before") if isinstance(change, dict) else None
        after = change.get("after") if isinstance(change, dict) else change
        if name == "status":
            arrow = (
                badge_html(status_label(str(before), language), status_color(str(before))) + " → "
                if before
                else ""
            )
            lines.append(
                f"{html.escape(field_label(name, language))}: {arrow}"
                + badge_html(status_label(str(after), language), status_color(str(after)))
            )
            continue
        lines.append(
            html.escape(
                f"{field_label(name, language)}: {field_value(name, before, language, nm)} → "
                f"{field_value(name, after, language, nm)}"
            )
        )
    return lines


def history_entry_html(entry: dict[str, Any], language: str, nm: Names) -> str:
    kind_key = f"kind.{entry.get('kind')}"
    kind = t(kind_key, language) if kind_key in TEXT else str(entry.get("kind", ""))
    head = t(
        "history.entry", language, at=local_time(entry.get("at")), actor=entry.get("actor", ""), kind=kind
    )
    body = change_lines(entry.get("changed") or {}, language, nm) if entry.get("kind") != "create" else []
    note = entry.get("note")
    items = "".join(f"<li>{line}</li>" for line in body)
    note_html = f'<div style="color:#555;font-style:italic">{html.escape(note)}</div>' if note else ""
    return (
        '<div style="border-left:3px solid #4e79a7;padding:0.1em 0 0.6em 0.9em;margin-left:0.4em">'
        f'<div style="font-weight:600">{html.escape(head)}</div>'
        f'<ul style="margin:0.2em 0">{items}</ul>{note_html}</div>'
    )


def history_section(history: list[dict[str, Any]], language: str, nm: Names) -> None:
    if not history:
        st.info(t("common.no_data", language))
        return
    st.markdown("".join(history_entry_html(e, language, nm) for e in history), unsafe_allow_html=True)


def reports_section(reports: list[dict[str, Any]], language: str) -> None:
    if not reports:
        st.info(t("detail.no_reports", language))
        return
    rows = sorted(reports, key=lambda r: r["period"], reverse=True)
    frame = pd.DataFrame(
        {
            "period": [r["period"] for r in rows],
            "status": [[r.get("status")] for r in rows],
            "investment": [money(r.get("investment_this_period_wan") or 0, language) for r in rows],
            "progress": [int(r.get("physical_progress_pct") or 0) for r in rows],
            "issues": [r.get("issues") or "" for r in rows],
            "next_steps": [r.get("next_steps") or "" for r in rows],
            "actor": [r.get("actor") or "" for r in rows],
            "at": [local_time(r.get("created_at")) for r in rows],
        }
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "period": st.column_config.TextColumn(t("form.period", language), width="small"),
            "status": status_column(t("common.status", language), language),
            "investment": st.column_config.TextColumn(t("form.investment_this_period", language)),
            "progress": st.column_config.ProgressColumn(
                t("form.progress", language), format="%d%%", min_value=0, max_value=100
            ),
            "issues": st.column_config.TextColumn(t("form.issues", language), width="medium"),
            "next_steps": st.column_config.TextColumn(t("form.next_steps", language), width="medium"),
            "actor": st.column_config.TextColumn(t("report.actor", language), width="small"),
            "at": st.column_config.TextColumn(t("report.at", language), width="small"),
        },
    )


def header(project: dict[str, Any], language: str) -> None:
    name = (project.get("name_en") or project["name"]) if language == "en" else project["name"]
    st.subheader(f"{project['code']} · {name}")
    status = str(project.get("status"))
    st.markdown(badge_html(status_label(status, language), status_color(status)), unsafe_allow_html=True)
    first, second, third = st.columns(3)
    first.metric(
        t("field.total_investment_wan", language), money(project.get("total_investment_wan"), language)
    )
    second.metric(
        t("field.completed_investment_wan", language),
        money(project.get("completed_investment_wan"), language),
    )
    third.metric(t("field.physical_progress_pct", language), pct_points(project.get("physical_progress_pct")))
