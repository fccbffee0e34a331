"""The project and indicator tables (``st.dataframe`` with ``column_config``), shared by
the county, projects and indicators pages: money in the table unit with thousands
separators, statuses as coloured labels, progress as bars."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from frontend.format import (
    PROGRESS_COLORS,
    PROGRESS_ORDER,
    STATUS_COLORS,
    STATUS_ORDER,
    number,
    progress_label,
    status_label,
    table_money,
    table_money_format,
)
from frontend.i18n import t
from frontend.ui import Names


def status_column(label: str, language: str) -> Any:
    return st.column_config.MultiselectColumn(
        label,
        options=list(STATUS_ORDER),
        color=[STATUS_COLORS[s] for s in STATUS_ORDER],
        format_func=lambda s: status_label(s, language),
        width="small",
    )


def progress_status_column(label: str, language: str) -> Any:
    return st.column_config.MultiselectColumn(
        label,
        options=list(PROGRESS_ORDER),
        color=[PROGRESS_COLORS[s] for s in PROGRESS_ORDER],
        format_func=lambda s: progress_label(s, language),
        width="small",
    )


def project_frame(items: list[dict[str, Any]], language: str, nm: Names) -> pd.DataFrame:
    rows = []
    for p in items:
        total = int(p.get("total_investment_wan") or 0)
        done = int(p.get("completed_investment_wan") or 0)
        rows.append(
            {
                "id": p["id"],
                "code": p["code"],
                "name": (p.get("name_en") or p["name"]) if language == "en" else p["name"],
                "county": nm.county(p.get("county")),
                "sector": nm.sector(p.get("sector")),
                "status": [p.get("status")],
                "total": table_money(total, language),
                "completed": table_money(done, language),
                "rate": round(done / total * 100, 1) if total else 0.0,
                "progress": int(p.get("physical_progress_pct") or 0),
                "last_report": p.get("last_report_period") or "",
                "years": f"{p.get('start_year')}–{p.get('end_year')}",
            }
        )
    columns = ["id", "code", "name", "county", "sector", "status", "total", "completed", "rate", "progress"]
    return pd.DataFrame(rows, columns=[*columns, "last_report", "years"])


def project_columns(language: str) -> dict[str, Any]:
    money_format = table_money_format(language)
    return {
        "id": None,
        "code": st.column_config.TextColumn(t("col.code", language), width="small"),
        "name": st.column_config.TextColumn(t("col.name", language), width="large"),
        "county": st.column_config.TextColumn(t("common.county", language), width="small"),
        "sector": st.column_config.TextColumn(t("common.sector", language)),
        "status": status_column(t("common.status", language), language),
        "total": st.column_config.NumberColumn(t("col.total", language), format=money_format),
        "completed": st.column_config.NumberColumn(t("col.completed", language), format=money_format),
        "rate": st.column_config.ProgressColumn(
            t("col.rate", language), format="%.1f%%", min_value=0, max_value=100
        ),
        "progress": st.column_config.ProgressColumn(
            t("col.progress", language), format="%d%%", min_value=0, max_value=100
        ),
        "last_report": st.column_config.TextColumn(t("col.last_report", language), width="small"),
        "years": st.column_config.TextColumn(t("col.years", language), width="small"),
    }


Pick = Callable[[int], None]


def picker(key: str, ids: list[int], on_pick: Pick) -> Callable[[], None]:
    """The ``on_select`` callback of a table: the id of the row the user selected goes to
    ``on_pick`` before the rerun, so the whole page already shows it."""

    def selected() -> None:
        state: Any = st.session_state.get(key) or {}
        rows = list((state.get("selection") or {}).get("rows") or [])
        if rows and rows[0] < len(ids):
            on_pick(ids[rows[0]])

    return selected


def project_table(
    items: list[dict[str, Any]],
    language: str,
    nm: Names,
    key: str,
    on_pick: Pick,
    extra: dict[str, list[Any]] | None = None,
) -> None:
    """Show the projects; selecting a row hands its id to ``on_pick``."""
    frame = project_frame(items, language, nm)
    config = project_columns(language)
    for column, values in (extra or {}).items():
        frame[column] = values
        config[column] = st.column_config.TextColumn(t(f"col.{column}", language))
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config=config,
        on_select=picker(key, [int(i) for i in frame["id"]], on_pick),
        selection_mode="single-row",
        key=key,
        height=min(38 + 35 * max(len(frame), 1), 600),
    )


# --------------------------------------------------------------------------- indicators


def _at(year: Any, value: Any, unit: str | None, text: str | None = None) -> str:
    if value is None:
        return text or "—"
    shown = number(float(value), unit)
    return f"{year}: {shown}" if year else shown


def indicator_frame(items: list[dict[str, Any]], language: str, nm: Names) -> pd.DataFrame:
    rows = []
    for item in items:
        progress = item.get("progress") or {}
        unit = item.get("unit")
        rows.append(
            {
                "id": item["id"],
                "name": (item.get("name_en") or item["name"]) if language == "en" else item["name"],
                "scope": nm.county(item.get("scope")),
                "baseline": _at(
                    item.get("baseline_year"), item.get("baseline_value"), unit, item.get("baseline_text")
                ),
                "target": _at(
                    item.get("target_year"), item.get("target_value"), unit, item.get("target_text")
                ),
                "latest": _at(progress.get("latest_year"), progress.get("latest_value"), unit),
                "progress": _float(progress.get("progress_pct")),
                "expected": _float(progress.get("expected_pct")),
                "status": [progress.get("status", "no_data")],
                "explanation": progress.get("explanation") or "",
            }
        )
    columns = ["id", "name", "scope", "baseline", "target", "latest", "progress", "expected", "status"]
    return pd.DataFrame(rows, columns=[*columns, "explanation"])


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def indicator_table(items: list[dict[str, Any]], language: str, nm: Names, key: str, on_pick: Pick) -> None:
    frame = indicator_frame(items, language, nm)
    config = {
        "id": None,
        "name": st.column_config.TextColumn(t("ind.name", language), width="medium"),
        "scope": st.column_config.TextColumn(t("ind.scope", language), width="small"),
        "baseline": st.column_config.TextColumn(t("ind.baseline", language)),
        "target": st.column_config.TextColumn(t("ind.target", language)),
        "latest": st.column_config.TextColumn(t("ind.latest", language)),
        "progress": st.column_config.ProgressColumn(
            t("ind.progress", language), format="%.1f%%", min_value=0, max_value=100
        ),
        "expected": st.column_config.ProgressColumn(
            t("ind.expected", language), format="%.1f%%", min_value=0, max_value=100
        ),
        "status": progress_status_column(t("ind.status", language), language),
        "explanation": st.column_config.TextColumn(t("ind.explanation", language), width="large"),
    }
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config=config,
        on_select=picker(key, [int(i) for i in frame["id"]], on_pick),
        selection_mode="single-row",
        key=key,
    )
