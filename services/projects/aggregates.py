"""Rollup aggregates maintained in the same transaction as every write.

``rollup_cell`` holds, per (county where the money is, managing county, sector, status,
start year), the sums the rollups need. Every write of a project applies the difference
between the project's contribution before and after (:func:`apply_change`), with
``INSERT … ON CONFLICT DO UPDATE SET x = x + delta`` in a fixed key order, so the cells are
exact at every commit (no periodic refresh, nothing stale). A rollup then groups cells
instead of projects.

The cells still grow with the library (3,400 at 10,000 projects, 19,000 at a million), so
``rollup_county_sector`` sums them once more per (county, sector), every status's measures
side by side: a few hundred rows whatever the size, which answer the dashboard's rollups
(services.projects.rollups picks the smallest source that can answer). A database trigger
on ``rollup_cell`` (migration 0004) adds each cell's change to it in the same statement, so
any writer of the cells keeps it exact. Lock order: :func:`apply_deltas` first locks the
(county, sector) rows it will touch, in key order, then the cells in key order; so
concurrent writers cannot deadlock on either table (a test crosses 60 moves at once).

A project contributes only when it is live and top-level (not deleted, no ``parent_id``),
exactly like the row-level rollup. ``member_rows`` counts the (project, county) pairs in a
cell, so an empty cell is recognised and left out.

Rolling upgrades: ``project.cells_version`` records which version of a project the cells
hold. A release that predates the cells (or any writer that does not maintain them) moves
``version`` without it, and such a project is *stale*. :func:`any_stale` finds one through a
partial index in constant time, and then rollups group the rows instead (exact, slower);
:func:`catch_up` and :func:`reconcile` bring the cells up to date from the audit trail (the
``after`` snapshot of the version the cells hold), after which the cells serve again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    cast,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, col

from services.common.money import largest_remainder_split
from services.projects.models import Project, ProjectChange, ProjectsModel, snapshot
from services.projects.reference import STATUS_ORDER

CellKey = tuple[
    str, str, str, str, str, int
]  # county, managing_county, sector, sector_group, status, start_year
MEASURES = ("member_rows", "project_count", "total_investment_wan", "completed_investment_wan", "over_budget")
MONEY = ("total_investment_wan", "completed_investment_wan")


class RollupCell(ProjectsModel, table=True):
    __tablename__ = "rollup_cell"
    __table_args__ = (Index("ix_rollup_cell_managing_status", "managing_county", "status"),)

    county: str = Field(max_length=20, primary_key=True)
    managing_county: str = Field(max_length=20, primary_key=True)
    sector: str = Field(max_length=40, primary_key=True)
    sector_group: str = Field(max_length=40)
    status: str = Field(max_length=24, primary_key=True)
    start_year: int = Field(primary_key=True)
    member_rows: int = 0
    project_count: int = 0
    total_investment_wan: int = Field(default=0, sa_type=BigInteger)
    completed_investment_wan: int = Field(default=0, sa_type=BigInteger)
    over_budget: int = 0


def wide_column(measure: str, status: str) -> str:
    """A column of ``rollup_county_sector``: one of :data:`MEASURES` for one status."""
    return f"{measure}_{status}"


#: The cells summed over managing county and start year, one row per (county, sector) with
#: every status's measures side by side (``project_count_planned`` …): at most ten counties
#: x the sectors, a few hundred rows at any library size, so the dashboard's rollups (by
#: county, sector, sector group, status, or two of them, filtered by sector or status) read
#: one row per answer row instead of grouping thousands of cells. It is kept by a database
#: trigger on ``rollup_cell`` (migration 0004), in the same transaction as the cell, so it
#: is exactly as current as the cells whoever writes them, a previous release included.
rollup_county_sector = Table(
    "rollup_county_sector",
    ProjectsModel.metadata,
    Column("county", String(20), primary_key=True),
    Column("sector", String(40), primary_key=True),
    Column("sector_group", String(40), nullable=False),
    Column("member_rows", Integer, nullable=False, server_default=text("0")),
    *(
        Column(
            wide_column(measure, status),
            BigInteger if measure in MONEY else Integer,
            nullable=False,
            server_default=text("0"),
        )
        for status in STATUS_ORDER
        for measure in MEASURES
    ),
)


@dataclass(frozen=True)
class SharePart:
    county: str
    pct: int
    is_managing: bool
    total_investment_wan: int
    completed_investment_wan: int


def share_parts(county: str, shares: dict[str, int] | None, total: int, completed: int) -> list[SharePart]:
    """The project's money per county (largest remainder); the managing county always has a
    part, with 0% when the shares leave it out, so it carries the project's count."""
    split = shares or {county: 100}
    totals = largest_remainder_split(total, split)
    done = largest_remainder_split(completed, split)
    parts = [SharePart(c, pct, c == county, totals[c], done[c]) for c, pct in split.items()]
    if county not in split:
        parts.append(SharePart(county, 0, True, 0, 0))
    return parts


def state_parts(state: dict[str, Any]) -> list[SharePart]:
    """``share_parts`` of a project held as a snapshot dict."""
    return share_parts(
        state["county"],
        state.get("county_shares"),
        state["total_investment_wan"],
        state["completed_investment_wan"],
    )


def contribution(
    state: dict[str, Any] | None, parts: list[SharePart] | None = None
) -> dict[CellKey, tuple[int, ...]]:
    """What one project (a snapshot dict, or None) adds to the cells; ``parts``: its
    ``state_parts`` when the caller has them already."""
    if not state or state.get("parent_id") or state.get("deleted_at"):
        return {}
    over = int(state["completed_investment_wan"] > state["total_investment_wan"])
    cells: dict[CellKey, tuple[int, ...]] = {}
    for part in state_parts(state) if parts is None else parts:
        key = (
            part.county,
            state["county"],
            state["sector"],
            state["sector_group"],
            state["status"],
            state["start_year"],
        )
        managing = int(part.is_managing)
        cells[key] = (1, managing, part.total_investment_wan, part.completed_investment_wan, over * managing)
    return cells


def deltas(
    before: dict[str, Any] | None, after: dict[str, Any] | None, after_parts: list[SharePart] | None = None
) -> dict[CellKey, tuple[int, ...]]:
    """What a write from ``before`` to ``after`` changes in the cells."""
    old, new = contribution(before), contribution(after, after_parts)
    if not old:
        return new  # every cell of a contribution counts a member row: none is all zeros
    changes: dict[CellKey, tuple[int, ...]] = {}
    for key in old.keys() | new.keys():
        a, b = old.get(key, (0,) * len(MEASURES)), new.get(key, (0,) * len(MEASURES))
        diff = tuple(y - x for x, y in zip(a, b, strict=True))
        if any(diff):
            changes[key] = diff
    return changes


def apply_deltas(session: Session, changes: dict[CellKey, tuple[int, ...]]) -> None:
    """Add ``changes`` to the cells, in key order (the same lock order for every writer).

    The triggers of ``rollup_cell`` then add them to ``rollup_county_sector`` too. Those rows
    are locked first, all of them and in key order, by an upsert that changes nothing: the
    trigger would otherwise lock a (county, sector) row after the first of its cells, and two
    writers sharing two cells of one row could each hold what the other waits for.

    On PostgreSQL each of the two is one statement over arrays (``unnest``), so the
    statement triggers of migration 0005 run once for all the cells of a write, or of a
    whole import; on SQLite, one statement per row (row triggers)."""
    if not changes:
        return
    pairs = {(key[0], key[2]): key[3] for key in changes}
    locks = [
        {"county": county, "sector": sector, "sector_group": group}
        for (county, sector), group in sorted(pairs.items())
    ]
    rows = [
        {**dict(zip(CELL_KEY_COLUMNS, key, strict=True)), **dict(zip(MEASURES, values, strict=True))}
        for key, values in sorted(changes.items())
    ]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(LOCK_WIDE_ROWS, _columns(locks, ("county", "sector", "sector_group")))
        session.execute(ADD_TO_CELLS, _columns(rows, CELL_KEY_COLUMNS + MEASURES))
        return
    wide = rollup_county_sector
    lock = sqlite_insert(wide)
    lock = lock.on_conflict_do_update(
        index_elements=["county", "sector"], set_={"member_rows": wide.c.member_rows}
    )
    session.execute(lock, locks)
    table: Any = RollupCell.__table__  # type: ignore[attr-defined]
    statement = sqlite_insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(CELL_PRIMARY_KEY),
        set_={m: table.c[m] + statement.excluded[m] for m in MEASURES},
    )
    session.execute(statement, rows)


def _columns(rows: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, list[Any]]:
    """Rows as one array per column (the parameters of an ``unnest``)."""
    return {name: [row[name] for row in rows] for name in names}


def _unnest(names: tuple[str, ...]) -> str:
    types = {"start_year": "int[]", **{m: "bigint[]" for m in MEASURES}}
    return ", ".join(f"CAST(:{name} AS {types.get(name, 'text[]')})" for name in names)


#: the cell's key, as :data:`CellKey` orders it
CELL_KEY_COLUMNS = ("county", "managing_county", "sector", "sector_group", "status", "start_year")
CELL_PRIMARY_KEY = ("county", "managing_county", "sector", "status", "start_year")
LOCK_WIDE_ROWS = text(
    "INSERT INTO rollup_county_sector (county, sector, sector_group) "
    f"SELECT * FROM unnest({_unnest(('county', 'sector', 'sector_group'))}) "
    "ON CONFLICT (county, sector) DO UPDATE SET member_rows = rollup_county_sector.member_rows"
)
ADD_TO_CELLS = text(
    f"INSERT INTO rollup_cell ({', '.join(CELL_KEY_COLUMNS + MEASURES)}) "
    f"SELECT * FROM unnest({_unnest(CELL_KEY_COLUMNS + MEASURES)}) "
    f"ON CONFLICT ({', '.join(CELL_PRIMARY_KEY)}) DO UPDATE SET "
    + ", ".join(f"{m} = rollup_cell.{m} + excluded.{m}" for m in MEASURES)
)


def apply_change(session: Session, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    apply_deltas(session, deltas(before, after))


def merge(all_changes: Iterable[dict[CellKey, tuple[int, ...]]]) -> dict[CellKey, tuple[int, ...]]:
    """Sum many projects' deltas (bulk imports apply them in one statement)."""
    total: dict[CellKey, tuple[int, ...]] = {}
    for changes in all_changes:
        for key, values in changes.items():
            previous = total.get(key, (0,) * len(MEASURES))
            total[key] = tuple(a + b for a, b in zip(previous, values, strict=True))
    return {k: v for k, v in total.items() if any(v)}


def cell_clauses(
    counties: list[str], sectors: list[str], groups: list[str], statuses: list[str], start_year: int | None
) -> list[Any]:
    """The list filters on the cells (a project's county is its cells' managing county)."""
    clauses: list[Any] = [col(RollupCell.member_rows) > 0]
    for values, column in (
        (counties, RollupCell.managing_county),
        (sectors, RollupCell.sector),
        (groups, RollupCell.sector_group),
        (statuses, RollupCell.status),
    ):
        if values:
            clauses.append(col(column).in_(values))
    if start_year is not None:
        clauses.append(col(RollupCell.start_year) == start_year)
    return clauses


def top_level_count(clauses: list[Any]) -> Any:
    """Live top-level projects in the cells matching ``clauses`` (each counts in one cell),
    as a scalar subquery."""
    total = func.coalesce(cast(func.sum(col(RollupCell.project_count)), BigInteger), 0)
    return select(total).where(*clauses).scalar_subquery()


# --------------------------------------------------------------------------- rolling upgrades

STALE = or_(col(Project.cells_version).is_(None), col(Project.cells_version) != col(Project.version))
#: built once: it runs before every rollup
_FIRST_STALE = select(col(Project.id)).where(STALE).order_by(col(Project.id)).limit(1)


def first_stale() -> Any:
    """The id of a stale project, or NULL: :func:`any_stale` as a scalar subquery, to ask
    it in the same statement as what depends on it."""
    return _FIRST_STALE.scalar_subquery()


def any_stale(session: Session) -> bool:
    """Is there a project whose latest write the cells do not hold? (partial index)

    PostgreSQL cannot estimate ``cells_version <> version`` (two columns): it guesses that
    nearly every row matches, and for a bare ``LIMIT 1`` it reads the table until the first
    one (20 ms at 100,000 projects, ten times that at a million) when the partial index holds
    no row at all. Asked in ``id`` order, only the partial index gives the order without a
    sort, so the plan reads it (0.02 ms), generic plans for a prepared statement included."""
    return session.connection().execute(_FIRST_STALE).scalar() is not None


def state_at(session: Session, project_id: int, version: int | None) -> dict[str, Any] | None:
    """The project as the cells hold it: the audit snapshot of ``version`` (None: nothing)."""
    if version is None:
        return None
    query = select(col(ProjectChange.after)).where(
        col(ProjectChange.project_id) == project_id, col(ProjectChange.version) == version
    )
    after = session.scalars(query.order_by(col(ProjectChange.id).desc()).limit(1)).first()
    return dict(after) if after else None


def catch_up(
    session: Session, project_id: int, cells_version: int | None, before: dict[str, Any] | None
) -> None:
    """Before a write: if the cells hold an older version than ``before``, add the difference."""
    before_version = before["version"] if before else None
    if cells_version != before_version:
        apply_change(session, state_at(session, project_id, cells_version), before)


def mark_current(session: Session, project_id: int) -> None:
    session.execute(
        update(Project).where(col(Project.id) == project_id).values(cells_version=Project.version)
    )


def reconcile(session: Session, batch: int = 1000) -> int:
    """Bring every stale project's contribution up to date; returns how many were fixed.
    The caller commits (each batch is exact on its own)."""
    fixed = 0
    while True:
        stale = list(
            session.scalars(
                select(Project).where(STALE).order_by(col(Project.id)).limit(batch).with_for_update()
            )
        )
        if not stale:
            return fixed
        for project in stale:
            current = {**snapshot(project), "deleted_at": project.deleted_at}
            apply_change(session, state_at(session, project.id, project.cells_version), current)  # type: ignore[arg-type]
            session.execute(
                update(Project)
                .where(col(Project.id) == project.id, col(Project.version) == project.version)
                .values(cells_version=project.version)
            )
        fixed += len(stale)
        session.flush()


class CellsReconciler:
    """Background thread of the projects service: every ``interval_s`` it looks for stale
    projects (one index probe) and reconciles them, so the cells serve again soon after a
    rolling upgrade ends. Stops after its current batch."""

    def __init__(self, engine: Any, interval_s: float = 30.0) -> None:
        import threading

        self.engine = engine
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cells-reconciler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def run_once(self) -> int:
        with Session(self.engine) as session:
            if not any_stale(session):
                return 0
            fixed = reconcile(session)
            session.commit()
            return fixed

    def _run(self) -> None:
        import logging

        log = logging.getLogger("portfolio.projects.cells")
        while not self._stop.is_set():
            try:
                fixed = self.run_once()
                if fixed:
                    log.info("rollup cells caught up with %d project(s) written by another release", fixed)
            except Exception as exc:  # database away: try again next round
                log.warning("rollup cells reconcile failed: %s", exc)
            self._stop.wait(self.interval_s)
