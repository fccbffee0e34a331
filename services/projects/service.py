"""The rules of the project library. Plain functions over a session; no HTTP here.

- Status: a move must be in ``reference.TRANSITIONS`` (else 409 naming the allowed next
  statuses); the same rule serves PATCH, ``/status``, progress reports and imports.
- County scope: a manager writes only projects managed in its counties, and cannot move
  one into a county it does not manage (403 naming the county); viewers never write.
- Versions: every write moves ``version`` by one with a conditional UPDATE
  (``WHERE version = <read>``), so of two writers holding the same ETag exactly one wins
  and the other gets 412, on SQLite and PostgreSQL alike.
- Every write adds its audit row (``project_change``, before and after) and its outbox
  event in the same transaction; the caller commits once.
- Money per county (``project_share``) is recomputed on every write by the
  largest-remainder rule, so county rollups are integers that sum to the totals.
- Programmes: a child project (``parent_id``) is part of its parent's amount; rollups count
  top-level projects only, so no money is counted twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, func, literal, or_, select, tuple_, update
from sqlmodel import Session, col

from services.common.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from services.common.http import stale_version
from services.common.i18n import Msg
from services.common.models import utcnow
from services.common.outbox import record_event
from services.common.principal import Principal
from services.projects import aggregates, reference
from services.projects.models import (
    OutboxEvent,
    ProgressReport,
    Project,
    ProjectChange,
    ProjectShare,
    snapshot,
)
from services.projects.schemas import ProjectCreate, ProjectUpdate, ReportCreate

# --------------------------------------------------------------------------- rules


def check_transition(current: str, target: str) -> None:
    """The one place that decides whether a status may move."""
    if target == current:
        return
    allowed = reference.allowed_transitions(current)
    if target not in allowed:
        names_zh = "、".join(_status_zh(s) for s in allowed) or "无（已是最终状态）"
        names_en = ", ".join(allowed) or "none (final status)"
        raise Conflict(
            Msg(
                f"项目状态不能从“{_status_zh(current)}”改为“{_status_zh(target)}”。可改为：{names_zh}",
                f"A project cannot move from {current} to {target}. Allowed next statuses: {names_en}",
            ),
            extra={"allowed_transitions": allowed},
        )


def _status_zh(code: str) -> str:
    return next((s.zh for s in reference.STATUSES if s.code == code), code)


def _county_zh(code: str) -> str:
    return next((c.zh for c in reference.COUNTIES if c.code == code), code)


def check_may_write(principal: Principal, county: str) -> None:
    if principal.may_write_county(county):
        return
    if principal.role == "viewer":
        raise Forbidden(Msg("只读用户不能修改项目。", "Viewers cannot change projects."))
    raise Forbidden(
        Msg(
            f"您没有{_county_zh(county)}（{county}）的项目编辑权限。",
            f"You may not edit projects of {county} ({_county_zh(county)}); it is not one of your counties.",
        )
    )


def pk(project: Project) -> int:
    """The id of a project that has been flushed (always set after insert)."""
    assert project.id is not None
    return project.id


#: the columns the API never shows
HIDDEN_COLUMNS = frozenset({"deleted_at"})
#: a project's columns as the API shows them: a list page reads these as plain rows, not
#: entities (51 ORM entities and their ``model_dump`` cost 2 ms a page)
SHOWN_COLUMNS = tuple(c for c in Project.__table__.c if c.name not in HIDDEN_COLUMNS)  # type: ignore[attr-defined]


def shown(project: Project) -> dict[str, Any]:
    """The entity as :data:`SHOWN_COLUMNS` read it."""
    return project.model_dump(exclude=set(HIDDEN_COLUMNS))


def is_over_budget(project: Mapping[str, Any]) -> bool:
    return bool(project["completed_investment_wan"] > project["total_investment_wan"])


def caller_view(project: Mapping[str, Any], principal: Principal) -> dict[str, Any]:
    """What the caller may do with this project: ``can_edit`` and ``allowed_transitions``."""
    can_edit = principal.may_write_county(project["county"])
    return {
        "can_edit": can_edit,
        "allowed_transitions": reference.allowed_transitions(project["status"]) if can_edit else [],
    }


def county_split(project: Project) -> list[ProjectShare]:
    parts = aggregates.share_parts(
        project.county, project.county_shares, project.total_investment_wan, project.completed_investment_wan
    )
    return [
        ProjectShare(
            project_id=pk(project),
            county=part.county,
            pct=part.pct,
            is_managing=part.is_managing,
            total_investment_wan=part.total_investment_wan,
            completed_investment_wan=part.completed_investment_wan,
        )
        for part in parts
    ]


# --------------------------------------------------------------------------- reads


def get_project(session: Session, project_id: int, *, include_deleted: bool = False) -> Project:
    project = session.get(Project, project_id)
    if project is None or (project.deleted_at is not None and not include_deleted):
        raise NotFound(
            Msg(f"项目 {project_id} 不存在或已删除。", f"Project {project_id} does not exist or was deleted.")
        )
    return project


def get_by_code(session: Session, code: str) -> Project | None:
    return session.scalars(select(Project).where(col(Project.code) == code)).first()


def parent_codes(session: Session, parent_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in parent_ids if i}
    if not ids:
        return {}
    return dict(
        session.execute(select(col(Project.id), col(Project.code)).where(col(Project.id).in_(ids))).all()
    )


@dataclass
class ProjectFilters:
    county: list[str] = field(default_factory=list)
    sector: list[str] = field(default_factory=list)
    sector_group: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    q: str | None = None
    start_year: int | None = None
    min_investment_wan: int | None = None
    max_investment_wan: int | None = None

    def validate(self) -> None:
        errors: list[FieldError] = []
        for name, allowed in (
            ("county", reference.COUNTY_CODES),
            ("sector", reference.SECTOR_CODES),
            ("sector_group", reference.SECTOR_GROUP_CODES),
            ("status", reference.STATUS_CODES),
        ):
            for value in getattr(self, name):
                if value not in allowed:
                    listed = ", ".join(sorted(allowed))
                    errors.append(
                        FieldError(
                            ["query", name],
                            Msg(f"“{value}”不存在，可选：{listed}", f"Unknown '{value}'; allowed: {listed}"),
                        )
                    )
        if errors:
            raise ValidationFailed(Msg("筛选条件有误。", "Invalid filter."), errors=errors)

    def cells_know(self) -> bool:
        """The maintained cells know county, sector, status and start year, not names or amounts."""
        return not (self.q or self.min_investment_wan is not None or self.max_investment_wan is not None)

    def cells_key(self) -> tuple[Any, ...]:
        """The filters the cells know, as a hashable key (see :meth:`from_cells_key`)."""
        return (
            tuple(self.county),
            tuple(self.sector),
            tuple(self.sector_group),
            tuple(self.status),
            self.start_year,
        )

    @classmethod
    def from_cells_key(cls, key: tuple[Any, ...]) -> ProjectFilters:
        county, sector, sector_group, status, start_year = key
        return cls(list(county), list(sector), list(sector_group), list(status), start_year=start_year)

    def cell_clauses(self) -> list[Any]:
        """These filters on ``rollup_cell`` (a project's county is the cell's managing county)."""
        return aggregates.cell_clauses(
            self.county, self.sector, self.sector_group, self.status, self.start_year
        )

    def clauses(self) -> list[Any]:
        clauses: list[Any] = [col(Project.deleted_at).is_(None)]
        if self.county:
            clauses.append(col(Project.county).in_(self.county))
        if self.sector:
            clauses.append(col(Project.sector).in_(self.sector))
        if self.sector_group:
            clauses.append(col(Project.sector_group).in_(self.sector_group))
        if self.status:
            clauses.append(col(Project.status).in_(self.status))
        if self.q:
            pattern = "%" + self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append(
                or_(
                    col(Project.name).like(pattern, escape="\\"), col(Project.code).like(pattern, escape="\\")
                )
            )
        if self.start_year is not None:
            clauses.append(col(Project.start_year) == self.start_year)
        if self.min_investment_wan is not None:
            clauses.append(col(Project.total_investment_wan) >= self.min_investment_wan)
        if self.max_investment_wan is not None:
            clauses.append(col(Project.total_investment_wan) <= self.max_investment_wan)
        return clauses


SORT_KEYS = (
    "id",
    "code",
    "name",
    "total_investment_wan",
    "completed_investment_wan",
    "start_year",
    "end_year",
    "status",
    "county",
    "sector",
    "updated_at",
)


def _parse_sort(sort: str | None) -> tuple[str, bool]:
    sort = (sort or "id").strip()
    descending = sort.startswith("-")
    key = sort.lstrip("-+")
    if key not in SORT_KEYS:
        listed = ", ".join(SORT_KEYS)
        raise ValidationFailed(
            Msg(
                f"不能按“{key}”排序，可选：{listed}（前加 - 为降序）",
                f"Cannot sort by '{key}'; allowed: {listed} (prefix - for descending)",
            ),
            errors=[FieldError(["query", "sort"], Msg(f"可选：{listed}", f"allowed: {listed}"))],
        )
    return key, descending


def _encode_cursor(sort_key: str, value: Any, row_id: int) -> str:
    if hasattr(value, "isoformat"):
        value = value.isoformat()
    raw = json.dumps([sort_key, value, row_id], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort_key: str) -> tuple[Any, int]:
    bad = ValidationFailed(
        Msg(
            "分页游标无效或与排序方式不符，请从第一页重新开始。",
            "The cursor is invalid or belongs to another sort order; start from the first page.",
        ),
        errors=[FieldError(["query", "cursor"], Msg("无效的游标", "invalid cursor"))],
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key, value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise bad from exc
    # only what _encode_cursor writes: a hand-made cursor must not reach the query with a
    # value the column cannot be compared with (a dict, a 2**70, a NUL byte: a driver error)
    if key != sort_key or not _is_bigint(row_id) or not _cursor_value_fits(sort_key, value):
        raise bad
    if sort_key == "updated_at":
        from datetime import datetime

        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise bad from exc
    return value, row_id


INTEGER_SORT_KEYS = frozenset(
    {"id", "total_investment_wan", "completed_investment_wan", "start_year", "end_year"}
)


def _is_bigint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def _cursor_value_fits(sort_key: str, value: Any) -> bool:
    if sort_key in INTEGER_SORT_KEYS:
        return _is_bigint(value)
    return isinstance(value, str) and "\x00" not in value and len(value) <= 500


def count_projects(session: Session, filters: ProjectFilters) -> int:
    """The ``total`` of a list: live projects matching the filters, sub-projects included.

    Counting the rows reads every match (7 ms for a county's 22,000 planned projects at a
    million, and growing with the library). When the cells can answer, the top-level ones
    are the cells' ``project_count`` (a few hundred cells) and the sub-projects, few, are
    counted through the ``parent_id`` index: exact, and flat in the library's size."""
    if filters.cells_know():  # one round trip: is a project stale, the cells' count, the sub-projects
        stale, total = session.connection().execute(select(*_cells_count(filters.cells_key()))).one()
        if stale is None:
            return int(total)
    return session.scalar(select(func.count()).select_from(Project).where(*filters.clauses())) or 0


@lru_cache(maxsize=512)
def _cells_count(key: tuple[Any, ...]) -> tuple[Any, Any]:
    """``count_projects``'s two scalar subqueries for the filters of ``key``: the id of a
    stale project (NULL: none) and the count from the cells. Built once (building them cost
    as much as running them)."""
    filters = ProjectFilters.from_cells_key(key)
    children = select(func.count()).select_from(Project)
    children = children.where(col(Project.parent_id).is_not(None), *filters.clauses())
    top_level = aggregates.top_level_count(filters.cell_clauses())
    return aggregates.first_stale(), top_level + children.scalar_subquery()


PARENT = Project.__table__.alias("parent")  # type: ignore[attr-defined]
#: a page: the shown columns and the parent's code, through the parent's primary key
_PAGE = Project.__table__.outerjoin(PARENT, PARENT.c.id == col(Project.parent_id))  # type: ignore[attr-defined]


def list_projects(
    session: Session, filters: ProjectFilters, *, sort: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None, int]:
    """One page of the library in a stable order (the sort key, then id), each project as
    :data:`SHOWN_COLUMNS` and ``parent_code`` (a dict). The cursor is the last row's key,
    so pages stay correct when rows are inserted meanwhile.

    One round trip: the page carries its parent codes and, when the cells can count, the
    total (:func:`count_projects`'s subqueries, run once by PostgreSQL for the statement).
    An empty page, or a stale project, counts on its own."""
    filters.validate()
    sort_key, descending = _parse_sort(sort)
    column = getattr(Project, sort_key)
    counted = _cells_count(filters.cells_key()) if filters.cells_know() else ()
    query = select(*SHOWN_COLUMNS, PARENT.c.code.label("parent_code"), *counted)
    query = query.select_from(_PAGE).where(*filters.clauses())
    if cursor:
        value, last_id = _decode_cursor(cursor, sort_key)
        if sort_key == "id":
            query = query.where(col(Project.id) < last_id if descending else col(Project.id) > last_id)
        else:
            # a row value, (key, id) < (last key, last id): PostgreSQL walks the (key, id) index
            # from there, where the equivalent OR read every earlier row (a deep page at 300,000
            # projects took 250 ms); none of the sort keys is nullable
            after = tuple_(column, col(Project.id))
            seen = tuple_(literal(value, type_=column.type), literal(last_id))
            query = query.where(after < seen if descending else after > seen)
    order = [column.desc(), col(Project.id).desc()] if descending else [column.asc(), col(Project.id).asc()]
    if sort_key == "id":
        order = order[:1]
    result = session.connection().execute(query.order_by(*order).limit(limit + 1))
    names = list(result.keys())[: len(SHOWN_COLUMNS) + 1]
    records = result.all()
    if counted and records and records[0][-2] is None:  # no project stale: the cells' count
        total = int(records[0][-1])
    else:
        total = count_projects(session, filters)
    rows = [dict(zip(names, record, strict=False)) for record in records]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode_cursor(sort_key, last[sort_key], last["id"])
    return rows, next_cursor, total


def history(session: Session, project_id: int) -> list[ProjectChange]:
    get_project(session, project_id, include_deleted=True)
    query = (
        select(ProjectChange)
        .where(col(ProjectChange.project_id) == project_id)
        .order_by(col(ProjectChange.id))
    )
    return list(session.scalars(query))


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    before, after = before or {}, after or {}
    keys = sorted(before.keys() | after.keys()) if before else sorted(after)  # a creation: after's
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in keys
        if key != "version" and before.get(key) != after.get(key)
    }


def list_reports(session: Session, project_id: int) -> list[ProgressReport]:
    get_project(session, project_id)
    query = (
        select(ProgressReport)
        .where(col(ProgressReport.project_id) == project_id)
        .order_by(col(ProgressReport.period))
    )
    return list(session.scalars(query))


# --------------------------------------------------------------------------- writes


def _record(
    session: Session,
    project: Project,
    *,
    kind: str,
    event_type: str,
    before: dict[str, Any] | None,
    principal: Principal,
    note: str | None,
    request_id: str | None,
    extra: dict[str, Any] | None = None,
) -> None:
    after = snapshot(project)
    aggregates.apply_change(session, before, {**after, "deleted_at": project.deleted_at})
    session.add(
        ProjectChange(
            **audit_values(pk(project), kind, before, after, principal, note=note, request_id=request_id)
        )
    )
    record_event(
        session,
        OutboxEvent,
        type=event_type,
        entity_id=pk(project),
        version=project.version,
        actor=principal.actor,
        data=change_event_data(before, after, extra),
    )


def audit_values(
    project_id: int,
    kind: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    principal: Principal,
    *,
    note: str | None,
    request_id: str | None,
) -> dict[str, Any]:
    """The columns of one ``project_change`` row (single writes and bulk imports alike)."""
    return {
        "project_id": project_id,
        "version": after["version"],
        "actor": principal.actor,
        "kind": kind,
        "before": before,
        "after": after,
        "note": note,
        "request_id": request_id,
    }


def change_event_data(
    before: dict[str, Any] | None, after: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``data`` of a project.created/updated/… event: what changed, and where it was."""
    data: dict[str, Any] = {
        "code": after["code"],
        "county": after["county"],
        "changed": changed_fields(before, after),
    }
    if before and before.get("county") != after["county"]:
        data["previous_county"] = before.get("county")
    if extra:
        data.update(extra)
    return data


def status_event_data(before_status: str, after_status: str, county: str) -> dict[str, Any]:
    return {"from": before_status, "to": after_status, "county": county}


def _rewrite_shares(session: Session, project: Project) -> None:
    session.execute(delete(ProjectShare).where(col(ProjectShare.project_id) == project.id))
    session.add_all(county_split(project))


def new_project_code() -> str:
    return f"P-{uuid.uuid4().hex[:10].upper()}"


def new_project_values(data: ProjectCreate) -> dict[str, Any]:
    """The stored fields of a new project: its code (generated when absent), the sector
    group derived from the sector, version 1. The parent is resolved by the caller."""
    fields = data.model_dump(exclude={"parent_code", "code", "tags"})
    return {
        **fields,
        "code": data.code or new_project_code(),
        "sector_group": reference.SECTOR_GROUP_OF[data.sector],
        "tags": data.tags or [],
        "version": 1,
        "cells_version": 1,  # _record adds the new project to the rollup cells
    }


def create_project(
    session: Session, data: ProjectCreate, principal: Principal, request_id: str | None = None
) -> Project:
    check_may_write(principal, data.county)
    if data.code and get_by_code(session, data.code):
        raise Conflict(Msg(f"项目编码 {data.code} 已存在。", f"Project code {data.code} already exists."))
    parent_id = None
    if data.parent_code:
        parent = get_by_code(session, data.parent_code)
        if parent is None:
            raise ValidationFailed(
                Msg(
                    f"上级项目 {data.parent_code} 不存在。",
                    f"Parent project {data.parent_code} does not exist.",
                ),
                errors=[FieldError(["body", "parent_code"], Msg("上级项目不存在", "no such project"))],
            )
        parent_id = parent.id
    project = Project(**new_project_values(data), parent_id=parent_id)
    session.add(project)
    session.flush()
    _rewrite_shares(session, project)
    _record(
        session,
        project,
        kind="create",
        event_type="project.created",
        before=None,
        principal=principal,
        note=data.status_note,
        request_id=request_id,
    )
    return project


def _apply(session: Session, project: Project, expected: int, values: dict[str, Any]) -> None:
    """Conditional UPDATE: only if nobody wrote since ``expected`` (else 412)."""
    if project.version != expected:
        raise stale_version(f'"{project.id}-v{project.version}"')
    if project.cells_version != project.version:  # last written by a release without the cells
        aggregates.catch_up(session, pk(project), project.cells_version, snapshot(project))
    values = {**values, "version": expected + 1, "cells_version": expected + 1, "updated_at": utcnow()}
    result = session.execute(
        update(Project)
        .where(col(Project.id) == project.id, col(Project.version) == expected)
        .values(**values)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.rollback()
        raise stale_version()
    session.refresh(project)


def update_project(
    session: Session,
    project_id: int,
    changes: ProjectUpdate,
    expected: int,
    principal: Principal,
    request_id: str | None = None,
) -> Project:
    project = get_project(session, project_id)
    before = snapshot(project)
    values = plan_update(before, changes.model_dump(exclude_unset=True, exclude={"note"}), principal)
    if not values:
        if project.version != expected:
            raise stale_version(f'"{project.id}-v{project.version}"')
        return project
    _apply(session, project, expected, values)
    _rewrite_shares(session, project)
    status_moved = before["status"] != project.status
    _record(
        session,
        project,
        kind="update",
        event_type="project.updated",
        before=before,
        principal=principal,
        note=changes.note,
        request_id=request_id,
    )
    if status_moved:
        record_event(
            session,
            OutboxEvent,
            type="project.status_changed",
            entity_id=pk(project),
            version=project.version,
            actor=principal.actor,
            data=status_event_data(before["status"], project.status, project.county),
        )
    return project


def plan_update(current: dict[str, Any], values: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """The rules of an update, without writing (PATCH and the import both use it).

    ``current`` is the project's snapshot, ``values`` the fields sent. Checks the caller's
    county scope (of the project, and of the county it moves to), that no required field is
    emptied, the years' order and the status transition. Returns only the values that
    differ, plus what derives from them (``sector_group``, ``status_changed_at``); empty
    when nothing would change."""
    check_may_write(principal, current["county"])
    for required in ("name", "county"):
        if required in values and values[required] is None:
            raise ValidationFailed(
                Msg("名称和区县不能为空。", "name and county cannot be null."),
                errors=[FieldError(["body", required], Msg("不能为空", "cannot be null"))],
            )
    for required in (
        "sector",
        "total_investment_wan",
        "completed_investment_wan",
        "start_year",
        "end_year",
        "status",
    ):
        if required in values and values[required] is None:
            raise ValidationFailed(
                Msg(f"{required} 不能为空。", f"{required} cannot be null."),
                errors=[FieldError(["body", required], Msg("不能为空", "cannot be null"))],
            )
    if values.get("county") and values["county"] != current["county"]:
        check_may_write(principal, values["county"])
    start = values.get("start_year", current["start_year"])
    end = values.get("end_year", current["end_year"])
    if start > end:
        raise ValidationFailed(
            Msg(f"开工年份 {start} 晚于完工年份 {end}。", f"start_year {start} is after end_year {end}."),
            errors=[
                FieldError(["body", "start_year"], Msg("应不晚于完工年份", "must not be after end_year"))
            ],
        )
    if "status" in values and values["status"] != current["status"]:
        check_transition(current["status"], values["status"])
    changed = {k: v for k, v in values.items() if current.get(k, object()) != v}
    if "sector" in changed:
        changed["sector_group"] = reference.SECTOR_GROUP_OF[changed["sector"]]
    if "status" in changed:
        changed["status_changed_at"] = utcnow()
    return changed


def change_status(
    session: Session,
    project_id: int,
    target: str,
    note: str | None,
    expected: int,
    principal: Principal,
    request_id: str | None = None,
) -> Project:
    project = get_project(session, project_id)
    check_may_write(principal, project.county)
    check_transition(project.status, target)
    before = snapshot(project)
    _apply(session, project, expected, {"status": target, "status_note": note, "status_changed_at": utcnow()})
    _record(
        session,
        project,
        kind="status",
        event_type="project.status_changed",
        before=before,
        principal=principal,
        note=note,
        request_id=request_id,
        extra={"from": before["status"], "to": target},
    )
    return project


def delete_project(
    session: Session, project_id: int, expected: int, principal: Principal, request_id: str | None = None
) -> Project:
    if not principal.is_admin:
        raise Forbidden(Msg("只有管理员可以删除项目。", "Only administrators may delete projects."))
    project = get_project(session, project_id)
    before = snapshot(project)
    _apply(session, project, expected, {"deleted_at": utcnow()})
    _record(
        session,
        project,
        kind="delete",
        event_type="project.deleted",
        before=before,
        principal=principal,
        note=None,
        request_id=request_id,
    )
    return project


def report_exists(period: str) -> Conflict:
    return Conflict(
        Msg(
            f"{period} 的月报已提交过，每个项目每月只能有一份。",
            f"A report for {period} already exists; one report per project and month.",
        ),
    )


def submit_report(
    session: Session, project_id: int, data: ReportCreate, principal: Principal, request_id: str | None = None
) -> ProgressReport:
    """A month's progress: adds its investment to the completed total and may move the
    status (same transition rule), atomically with its audit row and its events."""
    project = session.scalars(
        select(Project)
        .where(col(Project.id) == project_id, col(Project.deleted_at).is_(None))
        .with_for_update()
    ).first()
    if project is None:
        raise NotFound(
            Msg(f"项目 {project_id} 不存在或已删除。", f"Project {project_id} does not exist or was deleted.")
        )
    check_may_write(principal, project.county)
    existing = session.scalars(
        select(col(ProgressReport.id)).where(
            col(ProgressReport.project_id) == project_id, col(ProgressReport.period) == data.period
        )
    ).first()
    if existing:
        raise report_exists(data.period)
    status = data.status or project.status
    check_transition(project.status, status)
    before = snapshot(project)
    values: dict[str, Any] = {
        "completed_investment_wan": project.completed_investment_wan + data.investment_this_period_wan,
        "physical_progress_pct": data.physical_progress_pct,
        "last_report_period": max(data.period, project.last_report_period or ""),
    }
    if status != project.status:
        values.update(status=status, status_changed_at=utcnow())
    _apply(session, project, project.version, values)
    _rewrite_shares(session, project)
    report = ProgressReport(
        project_id=project_id,
        period=data.period,
        status=status,
        investment_this_period_wan=data.investment_this_period_wan,
        physical_progress_pct=data.physical_progress_pct,
        issues=data.issues,
        next_steps=data.next_steps,
        actor=principal.actor,
    )
    session.add(report)
    session.flush()
    _record(
        session,
        project,
        kind="report",
        event_type="project.report_submitted",
        before=before,
        principal=principal,
        note=f"{data.period} 月报 / report",
        request_id=request_id,
        extra={"period": data.period, "report_id": report.id},
    )
    if status != before["status"]:
        record_event(
            session,
            OutboxEvent,
            type="project.status_changed",
            entity_id=pk(project),
            version=project.version,
            actor=principal.actor,
            data=status_event_data(before["status"], status, project.county),
        )
    return report
