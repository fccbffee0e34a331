"""Which projects look stalled, for the county page (a view, not a rule of the library).

A project is stalled when
- it is suspended (停缓建), or
- it is under construction and has never been reported, or
- it is not finished (not completed or cancelled) and its last monthly report is older
  than three months: the report period is before the month three months before this one
  (in March 2025, a last report of 2024-11 is stalled, 2024-12 is not).
"""

from __future__ import annotations

from datetime import date
from typing import Any

FINAL = frozenset({"completed", "cancelled"})
STALE_MONTHS = 3


def month_index(period: str) -> int:
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


def stalled_reason(project: dict[str, Any], today: date) -> tuple[str, str | None] | None:
    """``(reason, last_period)`` when the project is stalled, else ``None``; reasons:
    ``suspended``, ``never`` (under construction, no report) and ``old``."""
    status = project.get("status")
    last = project.get("last_report_period")
    if status == "suspended":
        return ("suspended", last)
    if status in FINAL:
        return None
    if not last:
        return ("never", None) if status == "under_construction" else None
    now = today.year * 12 + today.month - 1
    if month_index(last) < now - STALE_MONTHS:
        return ("old", last)
    return None


def stalled_projects(
    projects: list[dict[str, Any]], today: date
) -> list[tuple[dict[str, Any], str, str | None]]:
    found = []
    for project in projects:
        reason = stalled_reason(project, today)
        if reason:
            found.append((project, reason[0], reason[1]))
    return found
