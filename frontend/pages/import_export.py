"""导入导出 Import and export.

Import (admins and county managers): upload CSV or XLSX; the gateway checks it first
(``dry_run=true``: nothing is written) and the per-row errors are shown as a table; once
the check passes, the same file is imported (all rows or none). Export: the project list
with the chosen filters as CSV or XLSX. A gateway without these endpoints (404) gets a
plain sentence, not an error."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import streamlit as st

from frontend import data
from frontend.api import ApiError
from frontend.format import STATUS_ORDER, status_label
from frontend.i18n import t
from frontend.shell import run_page
from frontend.ui import Names, choice, lang, may_write, names, report_failure

SUMMARY_KEYS = ("created", "updated", "unchanged")


def call(action: Any, what: str, language: str) -> Any:
    """Run an import/export call; ``None`` after showing why it failed."""
    try:
        return action()
    except ApiError as error:
        if endpoint_missing(error):
            st.info(t("io.unavailable", language, what=t(what, language)))
        elif error.row_errors:
            row_errors(error.row_errors, language, len(error.row_errors))
        else:
            report_failure(error)
    return None


def endpoint_missing(error: ApiError) -> bool:
    """404/405, or the 422 a gateway without the route gives (``/projects/export`` read as
    ``/projects/{id}``: "export" is no id, ``format`` no parameter of it)."""
    if error.status in (404, 405):
        return True
    locations = [tuple(e.get("loc") or ()) for e in error.errors if isinstance(e, dict)]
    return error.status == 422 and any(
        loc[-1:] == ("project_id",) or loc == ("query", "format") for loc in locations
    )


def summary(report: dict[str, Any], language: str) -> str:
    parts = []
    rows = report.get("rows", report.get("total"))
    if isinstance(rows, int):
        parts.append(t("io.rows", language, count=rows))
    elif isinstance(rows, list):
        parts.append(t("io.rows", language, count=len(rows)))
    for key in SUMMARY_KEYS:
        value = report.get(key)
        if isinstance(value, list):
            value = len(value)
        if isinstance(value, int):
            parts.append(t(f"io.summary.{key}", language, count=value))
    return "，".join(parts) if language != "en" else ", ".join(parts)


def row_errors(errors: list[dict[str, Any]], language: str, total: int) -> None:
    st.error(t("io.errors", language, count=total))
    st.dataframe(
        pd.DataFrame(
            {
                t("io.row", language): [str(e.get("row", "")) for e in errors],
                t("io.column", language): [str(e.get("column") or "") for e in errors],
                t("io.value", language): ["" if e.get("value") is None else str(e["value"]) for e in errors],
                t("io.message", language): [str(e.get("message") or "") for e in errors],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    if total > len(errors):
        st.caption(t("io.more_errors", language, shown=len(errors), total=total))


def template_download(language: str) -> None:
    left, right = st.columns([1, 3])
    fmt = left.radio(
        t("io.template", language), ["xlsx", "csv"], format_func=str.upper, horizontal=True, key="io_tpl_fmt"
    )
    if right.button(t("io.template_get", language), key="io_template"):
        template = call(lambda: data.gateway().import_template(str(fmt)), "io.what_import", language)
        st.session_state["io_template_file"] = template
    template = st.session_state.get("io_template_file")
    if template is not None:
        st.download_button(
            t("io.download", language, name=template.filename),
            data=template.content,
            file_name=template.filename,
            mime=template.media_type,
            key="io_template_button",
        )


def import_section(language: str) -> None:
    st.subheader(t("io.import", language))
    if not may_write():
        st.info(t("io.no_permission", language))
        return
    st.caption(t("io.import_help", language))
    template_download(language)
    upload = st.file_uploader(t("io.file", language), type=["csv", "xlsx"], key="io_file")
    if upload is None:
        return
    content = upload.getvalue()
    digest = hashlib.sha256(content).hexdigest()
    checked = st.session_state.get("io_checked")
    if st.button(t("io.check", language), key="io_check"):
        report = call(
            lambda: data.gateway().import_projects(upload.name, content, True), "io.what_import", language
        )
        st.session_state["io_checked"] = checked = (digest, report) if report is not None else None
        if report is not None and (report.get("errors") or report.get("error_count")):
            st.session_state["io_checked"] = checked = None
            row_errors(
                report.get("errors") or [], language, int(report.get("error_count") or len(report["errors"]))
            )
    if not checked or checked[0] != digest:
        return
    st.success(t("io.ok", language, summary=summary(checked[1], language)))
    if st.button(t("io.commit", language), key="io_commit", type="primary"):
        report = call(
            lambda: data.gateway().import_projects(upload.name, content, False), "io.what_import", language
        )
        if report is not None:
            data.invalidate()
            st.session_state.pop("io_checked", None)
            st.success(t("io.done", language, summary=summary(report, language)))


def export_section(language: str, nm: Names) -> None:
    st.subheader(t("io.export", language))
    first, second, third, fourth = st.columns(4)
    county = choice(
        first.multiselect,
        t("common.county", language),
        list(nm.counties),
        format_func=nm.county,
        key="io_county",
        placeholder=t("common.all", language),
    )
    groups = choice(
        second.multiselect,
        t("common.sector_group", language),
        list(nm.groups),
        format_func=nm.group,
        key="io_group",
        placeholder=t("common.all", language),
    )
    status = choice(
        third.multiselect,
        t("common.status", language),
        STATUS_ORDER,
        format_func=lambda s: status_label(s, language),
        key="io_status",
        placeholder=t("common.all", language),
    )
    fmt = fourth.radio(
        t("io.format", language), ["xlsx", "csv"], format_func=str.upper, horizontal=True, key="io_fmt"
    )
    q = st.text_input(t("common.search", language), key="io_q")
    filters = {"county": county, "sector_group": groups, "status": status, "q": q.strip() or None}
    if st.button(t("io.prepare", language), key="io_prepare"):
        download = call(lambda: data.gateway().export_projects(str(fmt), filters), "io.what_export", language)
        st.session_state["io_download"] = download
    download = st.session_state.get("io_download")
    if download is not None:
        size = f"{len(download.content) / 1024:,.1f} KB"
        st.caption(t("io.ready", language, size=size))
        st.download_button(
            t("io.download", language, name=download.filename),
            data=download.content,
            file_name=download.filename,
            mime=download.media_type,
            key="io_download_button",
        )


def render() -> None:
    language = lang()
    nm = names()
    st.title(t("io.title", language))
    import_section(language)
    st.divider()
    export_section(language, nm)


run_page(render)
