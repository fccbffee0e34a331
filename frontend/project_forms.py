"""Changing a project: its status (only the moves the gateway allows this user:
``allowed_transitions``), its fields, and a monthly progress report.

Concurrency: every change sends the ``ETag`` of the version the user looked at. On 412
(someone else saved in between) nothing is lost: the project and its history are read
again, the warning says who changed it when and what, the form keeps what the user typed
(form values live in ``st.session_state`` under the form's keys and are only reset after a
successful save), and the next submit goes against the new version.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import streamlit as st

from frontend import data
from frontend.api import ApiError, GatewayDown
from frontend.format import conflict_time, status_label
from frontend.i18n import t
from frontend.project_view import change_lines
from frontend.ui import ICON_CONFLICT, Names, choice, flash, report_failure

EDIT_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "text"),
    ("owner_org", "text"),
    ("zone", "text"),
    ("total_investment_wan", "wan"),
    ("completed_investment_wan", "wan"),
    ("start_year", "year"),
    ("end_year", "year"),
    ("description", "area"),
)


def _key(form: str, project_id: int, name: str) -> str:
    return f"{form}:{project_id}:{name}"


def _seed(key: str, value: Any) -> None:
    """Start a form field at the project's value, unless the user's input is there."""
    if key not in st.session_state:
        st.session_state[key] = value


def _forget(form: str, project_id: int) -> None:
    prefix = f"{form}:{project_id}:"
    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        del st.session_state[key]


# --------------------------------------------------------------------------- writes


def attempt(write: Callable[[], object], project: dict[str, Any], form: str, done: str) -> None:
    """Run a write; on success clear the caches and the form, on 412 record the conflict."""
    project_id = int(project["id"])
    try:
        write()
    except ApiError as error:
        if error.status == 412 and not isinstance(error, GatewayDown):
            if form == "edit":
                reseed_untouched(project)
            remember_conflict(project)
            st.rerun()
        report_failure(error)
        return
    data.invalidate()
    st.session_state.pop(f"conflict:{project_id}", None)
    _forget(form, project_id)
    flash("success", done)
    st.rerun()


def reseed_untouched(project: dict[str, Any]) -> None:
    """Fields the user did not touch follow the newer version (so saving again cannot undo
    someone else's change); the fields the user typed in are kept."""
    project_id = int(project["id"])
    for name, kind in EDIT_FIELDS:
        key = _key("edit", project_id, name)
        seen = int(project.get(name) or 0) if kind in ("wan", "year") else (project.get(name) or "")
        if key in st.session_state and _normal(st.session_state[key]) == _normal(seen):
            del st.session_state[key]


def remember_conflict(project: dict[str, Any]) -> None:
    """Read the project and its history again; keep what changed since the user's version."""
    project_id = int(project["id"])
    seen = int(project.get("version") or 0)
    data.fresh_project(project_id)
    later = [h for h in data.history(project_id) if int(h.get("version") or 0) > seen]
    data.invalidate()
    st.session_state[f"conflict:{project_id}"] = {"since": seen, "changes": later}


def conflict_notice(project_id: int, language: str, nm: Names) -> None:
    conflict = st.session_state.get(f"conflict:{project_id}")
    if not conflict:
        return
    changes = conflict.get("changes") or []
    last = changes[-1] if changes else {}
    st.warning(
        t(
            "conflict.title",
            language,
            actor=last.get("actor") or t("conflict.someone", language),
            time=conflict_time(last.get("at")),
        ),
        icon=ICON_CONFLICT,
    )
    lines: list[str] = []
    for change in changes:
        lines += change_lines(change.get("changed") or {}, language, nm)
        if change.get("note"):
            lines.append(f"<i>{change['note']}</i>")
    body = "".join(f"<li>{line}</li>" for line in lines) or f"<li>{t('conflict.no_details', language)}</li>"
    st.markdown(f"<ul>{body}</ul>", unsafe_allow_html=True)


# --------------------------------------------------------------------------- forms


def status_form(project: dict[str, Any], etag: str | None, language: str) -> None:
    project_id = int(project["id"])
    allowed = list(project.get("allowed_transitions") or [])
    st.markdown(f"**{t('form.status', language)}**")
    if not allowed:
        st.caption(t("detail.final", language))
        return
    status_key, note_key = _key("status", project_id, "status"), _key("status", project_id, "note")
    if st.session_state.get(status_key) not in allowed:
        st.session_state.pop(status_key, None)
    with st.form(f"status_form_{project_id}"):
        new_status = choice(
            st.selectbox,
            t("form.new_status", language),
            allowed,
            format_func=lambda s: status_label(s, language),
            key=status_key,
        )
        note = st.text_input(t("common.note", language), key=note_key)
        submitted = st.form_submit_button(t("form.status_submit", language), type="primary")
    if submitted:
        attempt(
            lambda: data.gateway().change_status(project_id, etag, new_status, note),
            project,
            "status",
            t("form.status_done", language, status=status_label(new_status, language)),
        )


def _edit_widget(kind: str, label: str, key: str, language: str) -> None:
    if kind == "wan":
        unit = "（万元）" if language != "en" else " (万元)"
        st.number_input(label + unit, min_value=0, step=100, key=key, help=t("form.wan_help", language))
    elif kind == "year":
        st.number_input(label, min_value=2000, max_value=2100, step=1, key=key)
    elif kind == "area":
        st.text_area(label, key=key, height=100)
    else:
        st.text_input(label, key=key)


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


def edit_form(project: dict[str, Any], etag: str | None, language: str) -> None:
    project_id = int(project["id"])
    for name, kind in EDIT_FIELDS:
        value = project.get(name)
        _seed(_key("edit", project_id, name), int(value or 0) if kind in ("wan", "year") else (value or ""))
    with st.form(f"edit_form_{project_id}"):
        st.markdown(f"**{t('form.edit', language)}**")
        left, right = st.columns(2)
        for index, (name, kind) in enumerate(EDIT_FIELDS):
            with left if index % 2 == 0 or kind == "area" else right:
                _edit_widget(kind, t(f"field.{name}", language), _key("edit", project_id, name), language)
        note = st.text_input(t("form.change_note", language), key=_key("edit", project_id, "note"))
        submitted = st.form_submit_button(t("form.edit_submit", language), type="primary")
    if not submitted:
        return
    changes = {}
    for name, _kind in EDIT_FIELDS:
        typed = _normal(st.session_state.get(_key("edit", project_id, name)))
        if typed != _normal(project.get(name)):
            changes[name] = typed
    if not changes:
        st.info(t("form.nothing_changed", language))
        return
    if note:
        changes["note"] = note
    attempt(
        lambda: data.gateway().update_project(project_id, etag, changes),
        project,
        "edit",
        t("common.saved", language),
    )


def this_month() -> str:
    today = date.today()
    return f"{today.year:04d}-{today.month:02d}"


def report_form(project: dict[str, Any], language: str) -> None:
    project_id = int(project["id"])
    current = str(project.get("status"))
    statuses = [current, *[s for s in project.get("allowed_transitions") or [] if s != current]]
    _seed(_key("report", project_id, "period"), this_month())
    _seed(_key("report", project_id, "invest"), 0)
    _seed(_key("report", project_id, "progress"), int(project.get("physical_progress_pct") or 0))
    _seed(_key("report", project_id, "idem"), uuid.uuid4().hex)
    with st.form(f"report_form_{project_id}"):
        st.markdown(f"**{t('form.report', language)}**")
        left, right = st.columns(2)
        period = left.text_input(t("form.period", language), key=_key("report", project_id, "period"))
        status = choice(
            right.selectbox,
            t("form.report_status", language),
            statuses,
            format_func=lambda s: status_label(s, language),
            key=_key("report", project_id, "status"),
        )
        invest = left.number_input(
            t("form.investment_this_period", language),
            min_value=0,
            step=100,
            key=_key("report", project_id, "invest"),
            help=t("form.wan_help", language),
        )
        progress = right.slider(
            t("form.progress", language), 0, 100, key=_key("report", project_id, "progress")
        )
        issues = st.text_area(t("form.issues", language), key=_key("report", project_id, "issues"), height=80)
        next_steps = st.text_area(
            t("form.next_steps", language), key=_key("report", project_id, "next"), height=80
        )
        submitted = st.form_submit_button(t("form.report_submit", language), type="primary")
    if not submitted:
        return
    report = {
        "period": period.strip(),
        "status": status,
        "investment_this_period_wan": int(invest),
        "physical_progress_pct": int(progress),
        "issues": issues.strip() or None,
        "next_steps": next_steps.strip() or None,
    }
    idempotency_key = st.session_state[_key("report", project_id, "idem")]
    attempt(
        lambda: data.gateway().submit_report(project_id, report, idempotency_key),
        project,
        "report",
        t("form.report_done", language, period=report["period"]),
    )
