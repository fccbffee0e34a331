"""Rollups of the library: exact integer sums grouped in SQL.

Rules:
- Only live top-level projects count (not deleted; a programme's children are inside their
  parent's amount, so they are not added again).
- Grouping by ``county`` reads ``project_share``: each project's money split over its
  ``county_shares`` by the largest-remainder rule (integers, summing to the project's
  amount). A project is counted once in ``project_count`` (and ``status_counts``,
  ``over_budget``) of its managing county. The answer says ``"split": "shares"``.
- ``totals`` is the sum of the rows, so rows always add up to it, whatever the grouping.
- ``completion_rate`` = completed / total investment (0 when the total is 0), 4 decimals.
- Source: the maintained ``rollup_cell`` aggregates (:mod:`services.projects.aggregates`)
  answer every grouping and the county, sector, status and start-year filters in constant
  time; a name search or an amount filter falls back to grouping the projects. Both give
  the same numbers (a test checks it after random writes).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, case, cast, func, select
from sqlmodel import Session, col

from services.common.errors import FieldError, ValidationFailed
from services.common.i18n import Msg
from services.projects import aggregates
from services.projects.aggregates import RollupCell
from services.projects.models import Project, ProjectShare
from services.projects.reference import STATUS_ORDER
from services.projects.service import ProjectFilters

DIMENSIONS = ("county", "sector", "sector_group", "status", "start_year")


def parse_by(by: str) -> list[str]:
    dims = [d.strip() for d in by.split(",") if d.strip()]
    listed = ", ".join(DIMENSIONS)
    problems = [d for d in dims if d not in DIMENSIONS]
    if not dims or len(dims) > 2 or problems or len(set(dims)) != len(dims):
        raise ValidationFailed(
            Msg(
                f"by 应为 1 到 2 个不重复的维度，可选：{listed}",
                f"by takes one or two distinct dimensions of: {listed}",
            ),
            errors=[FieldError(["query", "by"], Msg(f"可选：{listed}", f"allowed: {listed}"))],
        )
    return dims


def empty_measures() -> dict[str, Any]:
    return {
        "project_count": 0,
        "total_investment_wan": 0,
        "completed_investment_wan": 0,
        "completion_rate": 0.0,
        "status_counts": {status: 0 for status in STATUS_ORDER},
        "over_budget": 0,
    }


def completion_rate(completed: int, total: int) -> float:
    return round(completed / total, 4) if total else 0.0


def answerable_from_cells(filters: ProjectFilters) -> bool:
    """The maintained cells know county, sector, status and start year, not names or amounts."""
    return not (filters.q or filters.min_investment_wan is not None or filters.max_investment_wan is not None)


def _cells_query(by: list[str], filters: ProjectFilters) -> Any:
    """Group the maintained cells (a few hundred rows, whatever the library's size)."""
    keys = [getattr(RollupCell, d) for d in by]
    clauses: list[Any] = [col(RollupCell.member_rows) > 0]
    for name, column in (
        ("county", RollupCell.managing_county),
        ("sector", RollupCell.sector),
        ("sector_group", RollupCell.sector_group),
        ("status", RollupCell.status),
    ):
        if getattr(filters, name):
            clauses.append(col(column).in_(getattr(filters, name)))
    if filters.start_year is not None:
        clauses.append(col(RollupCell.start_year) == filters.start_year)
    # bigint sums: PostgreSQL's sum of bigint is numeric, slow to decode (a cell's sums stay far
    # below 2**63 even for a country's portfolio in 万元)
    measures = [
        cast(func.sum(col(RollupCell.total_investment_wan)), BigInteger),
        cast(func.sum(col(RollupCell.completed_investment_wan)), BigInteger),
        cast(func.sum(col(RollupCell.project_count)), BigInteger),
        cast(func.sum(col(RollupCell.over_budget)), BigInteger),
    ]
    return (
        select(*keys, col(RollupCell.status), *measures)
        .where(*clauses)
        .group_by(*keys, col(RollupCell.status))
    )


def _rows_query(by: list[str], filters: ProjectFilters) -> Any:
    """Group the projects themselves (needed for name and amount filters)."""
    clauses = [*filters.clauses(), col(Project.parent_id).is_(None)]
    over_budget = col(Project.completed_investment_wan) > col(Project.total_investment_wan)
    if "county" in by:
        managing = col(ProjectShare.is_managing)
        keys = [col(ProjectShare.county) if d == "county" else getattr(Project, d) for d in by]
        measures: list[Any] = [
            func.sum(col(ProjectShare.total_investment_wan)),
            func.sum(col(ProjectShare.completed_investment_wan)),
            func.sum(case((managing, 1), else_=0)),
            func.sum(case((managing & over_budget, 1), else_=0)),
        ]
        source = select(*keys, col(Project.status), *measures).select_from(ProjectShare)
        source = source.join(Project, col(Project.id) == col(ProjectShare.project_id))
    else:
        keys = [getattr(Project, d) for d in by]
        measures = [
            func.sum(col(Project.total_investment_wan)),
            func.sum(col(Project.completed_investment_wan)),
            func.count(),
            func.sum(case((over_budget, 1), else_=0)),
        ]
        source = select(*keys, col(Project.status), *measures).select_from(Project)
    return source.where(*clauses).group_by(*keys, col(Project.status))


def rollup(
    session: Session, by: list[str], filters: ProjectFilters, *, use_cells: bool | None = None
) -> dict[str, Any]:
    filters.validate()
    if use_cells is None:
        # stale projects exist only while a release that predates the cells is still writing
        use_cells = answerable_from_cells(filters) and not aggregates.any_stale(session)
    query = _cells_query(by, filters) if use_cells else _rows_query(by, filters)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    # Core, not the ORM: plain tuples, no per-row entity machinery
    for record in session.connection().execute(query):
        key = tuple(record[: len(by)])
        status, total, done, count_, over_ = record[len(by) :]
        row = rows.get(key)
        if row is None:
            row = rows[key] = empty_measures()
        row["total_investment_wan"] += int(total or 0)
        row["completed_investment_wan"] += int(done or 0)
        row["project_count"] += int(count_ or 0)
        row["status_counts"][status] = row["status_counts"].get(status, 0) + int(count_ or 0)
        row["over_budget"] += int(over_ or 0)
    out_rows = []
    totals = empty_measures()
    for key in sorted(rows, key=lambda k: tuple(str(part) for part in k)):
        row = rows[key]
        row["completion_rate"] = completion_rate(row["completed_investment_wan"], row["total_investment_wan"])
        for measure in ("project_count", "total_investment_wan", "completed_investment_wan", "over_budget"):
            totals[measure] += row[measure]
        for status, n in row["status_counts"].items():
            totals["status_counts"][status] = totals["status_counts"].get(status, 0) + n
        out_rows.append({**dict(zip(by, key, strict=True)), **row})
    totals["completion_rate"] = completion_rate(
        totals["completed_investment_wan"], totals["total_investment_wan"]
    )
    return {"by": by, "rows": out_rows, "totals": totals, "split": "shares" if "county" in by else "none"}
