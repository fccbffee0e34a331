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
- Sources, all exact (:func:`rollup` picks one; a test checks that the three give the
  same numbers after random writes), from the smallest that can answer:
  ``wide``: ``rollup_county_sector``, one row per county and sector with the statuses side
  by side (a few hundred rows whatever the library's size), for any grouping and the
  sector, sector group and status filters; ``cells``: the ``rollup_cell`` aggregates
  (:mod:`services.projects.aggregates`, thousands of rows), which add the start year and
  the (managing) county filter; ``rows``: the projects themselves, for a name search or an
  amount filter, and while a project is stale (a rolling upgrade from a release without
  the cells).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache, reduce
from operator import itemgetter
from typing import Any, Literal

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
#: (group key, status, total, completed, project count, over budget): what every source gives
Record = tuple[tuple[Any, ...], str, Any, Any, Any, Any]


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


Source = Literal["wide", "cells", "rows"]


def answerable_from_wide(by: list[str], filters: ProjectFilters) -> bool:
    """``rollup_county_sector`` has no managing county and no start year: any grouping and
    filter but those two (and the row-only filters)."""
    return "start_year" not in by and not filters.county and filters.start_year is None


def _cells_or_rows(session: Session, filters: ProjectFilters) -> Source:
    """The source when ``rollup_county_sector`` did not answer: the cells, unless the
    filters need the projects themselves or a project is stale (stale projects exist only
    while a release that predates the cells is still writing)."""
    if not filters.cells_know() or aggregates.any_stale(session):
        return "rows"
    return "cells"


def _from_wide(
    session: Session, by: list[str], filters: ProjectFilters, *, checked: bool
) -> list[Any] | None:
    """The answer rows from ``rollup_county_sector``. With ``checked`` (the source is not
    forced), None when the table cannot answer these filters or while a project is stale:
    then another source must answer. The stale check rides along as the statement's last
    column (one round trip, not two); an empty answer asks it on its own."""
    if checked and not (filters.cells_know() and answerable_from_wide(by, filters)):
        return None
    records = session.connection().execute(_wide_query(by, filters, _statuses(filters))).all()
    if checked and (records[0][-1] is not None if records else aggregates.any_stale(session)):
        return None
    return (
        _group(by, _wide_records(by, filters, records))
        if "status" in by
        else _wide_rows(by, filters, records)
    )


def _statuses(filters: ProjectFilters) -> list[str]:
    return [s for s in STATUS_ORDER if not filters.status or s in filters.status]


def _wide_query(by: list[str], filters: ProjectFilters, statuses: Sequence[str]) -> Any:
    """The statement, built once per shape and filter (building one costs more than running it)."""
    return _wide_statement(tuple(by), tuple(statuses), tuple(filters.sector), tuple(filters.sector_group))


@lru_cache(maxsize=512)
def _wide_statement(
    by: tuple[str, ...], statuses: tuple[str, ...], sectors: tuple[str, ...], groups: tuple[str, ...]
) -> Any:
    """Grouped by status: the keys, then each status's measures (:data:`aggregates.MEASURES`).
    Otherwise one answer row per record: the keys, the member rows, money and over-budget
    count summed over the statuses in SQL, then each status's project count."""
    wide = aggregates.rollup_county_sector
    keys = [wide.c[d] for d in by if d != "status"]
    clauses: list[Any] = [wide.c.member_rows > 0]
    if sectors:
        clauses.append(wide.c.sector.in_(sectors))
    if groups:
        clauses.append(wide.c.sector_group.in_(groups))

    def column(measure: str, status: str) -> Any:
        return wide.c[aggregates.wide_column(measure, status)]

    if "status" in by:
        columns = [column(m, s) for s in statuses for m in aggregates.MEASURES]
    else:
        across = ("member_rows", "total_investment_wan", "completed_investment_wan", "over_budget")
        columns = [reduce(operator.add, (column(m, s) for s in statuses)) for m in across]
        columns += [column("project_count", s) for s in statuses]
    stale = aggregates.first_stale()  # the last column: see _from_wide
    if {d for d in by if d != "status"} == {"county", "sector"}:  # the table's own rows
        return select(*keys, *columns, stale).where(*clauses)
    sums = (cast(func.sum(c), BigInteger) for c in columns)
    return select(*keys, *sums, stale).where(*clauses).group_by(*keys)


def _wide_records(by: list[str], filters: ProjectFilters, result: Sequence[Any]) -> Iterator[Record]:
    """The wide rows turned into the records the cells give: (keys…, status, measures)."""
    statuses = _statuses(filters)
    width = len(aggregates.MEASURES)
    plain = [d for d in by if d != "status"]
    status_at = by.index("status") if "status" in by else None
    for record in result:
        keys = tuple(record[: len(plain)])
        values = record[len(plain) : -1]
        for i, status in enumerate(statuses):
            members, count_, total, done, over_ = values[i * width : (i + 1) * width]
            if members:
                key = keys if status_at is None else (*keys[:status_at], status, *keys[status_at:])
                yield key, status, total, done, count_, over_


def _cells_query(by: list[str], filters: ProjectFilters) -> Any:
    """Group the maintained cells (thousands of rows at most, whatever the library's size)."""
    keys = [getattr(RollupCell, d) for d in by]
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
        .where(*filters.cell_clauses())
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
    session: Session, by: list[str], filters: ProjectFilters, *, source: Source | None = None
) -> dict[str, Any]:
    filters.validate()
    rows = _from_wide(session, by, filters, checked=source is None) if source in (None, "wide") else None
    if rows is None:
        source = source or _cells_or_rows(session, filters)
        query = _cells_query(by, filters) if source == "cells" else _rows_query(by, filters)
        # Core, not the ORM: plain tuples, no per-row entity machinery
        result = session.connection().execute(query).all()
        rows = _group(by, ((tuple(r[: len(by)]), *r[len(by) :]) for r in result))
    return _answer(by, rows)


def _group(by: list[str], records: Iterable[Record]) -> list[dict[str, Any]]:
    """Sum the records of each group key into an answer row (keys first, then measures)."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for key, status, total, done, count_, over_ in records:
        row = rows.get(key)
        if row is None:
            row = rows[key] = {**dict(zip(by, key, strict=True)), **empty_measures()}
        row["total_investment_wan"] += int(total or 0)
        row["completed_investment_wan"] += int(done or 0)
        row["project_count"] += int(count_ or 0)
        row["status_counts"][status] = row["status_counts"].get(status, 0) + int(count_ or 0)
        row["over_budget"] += int(over_ or 0)
    for row in rows.values():
        row["completion_rate"] = completion_rate(row["completed_investment_wan"], row["total_investment_wan"])
    return list(rows.values())


def _wide_rows(by: list[str], filters: ProjectFilters, result: Sequence[Any]) -> list[dict[str, Any]]:
    """Without status in the grouping, a wide record is a whole answer row (one dict built
    per row: this loop is most of a rollup's time in Python; its shape measured fastest)."""
    statuses = _statuses(filters)
    every_status = statuses == list(STATUS_ORDER)
    zeros = dict.fromkeys(STATUS_ORDER, 0)
    keys = len(by)
    first_count = keys + 4  # the keys, member rows, total, completed, over budget; the counts
    rows = []
    for record in result:
        if not record[keys]:  # no member in these statuses: no row, as with the cells
            continue
        counts = record[first_count:-1]
        if every_status:
            status_counts = dict(zip(STATUS_ORDER, counts, strict=False))
        else:
            status_counts = zeros.copy()
            status_counts.update(zip(statuses, counts, strict=True))
        total, done = int(record[keys + 1]), int(record[keys + 2])
        row = dict(zip(by, record, strict=False))
        row["project_count"] = sum(counts)
        row["total_investment_wan"] = total
        row["completed_investment_wan"] = done
        row["completion_rate"] = completion_rate(done, total)
        row["status_counts"] = status_counts
        row["over_budget"] = int(record[keys + 3])
        rows.append(row)
    return rows


def _answer(by: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows in key order, and the totals: the sum of the rows."""
    if "start_year" in by:  # a number among the keys: compare every key as text
        rows.sort(key=lambda row: tuple(str(row[d]) for d in by))
    else:
        rows.sort(key=itemgetter(*by))
    totals = empty_measures()
    for measure in ("project_count", "total_investment_wan", "completed_investment_wan", "over_budget"):
        totals[measure] = sum(map(itemgetter(measure), rows))
    counts = [row["status_counts"] for row in rows]  # each holds every status of STATUS_ORDER
    status_totals = {status: sum(map(itemgetter(status), counts)) for status in STATUS_ORDER}
    for row_counts in counts:
        if len(row_counts) > len(STATUS_ORDER):  # and one this release does not know
            for status, n in row_counts.items():
                if status not in STATUS_ORDER:
                    status_totals[status] = status_totals.get(status, 0) + n
    totals["status_counts"] = status_totals
    totals["completion_rate"] = completion_rate(
        totals["completed_investment_wan"], totals["total_investment_wan"]
    )
    return {"by": by, "rows": rows, "totals": totals, "split": "shares" if "county" in by else "none"}
