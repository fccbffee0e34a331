"""HTTP routes of the projects service (internal API, mounted at ``/api/v1``).

Thin: parse, call :mod:`services.projects.service`, shape the response, commit once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.common.deps import Caller, ReadSession, RequestId, WriteSession
from services.common.http import StrictQuery, expected_version, make_etag
from services.common.idempotency import find_replay, remember, request_hash
from services.common.jsonio import JSONBytes, dumps
from services.common.principal import Principal
from services.projects import reference, service
from services.projects.models import IdempotencyKey, ProgressReport, Project
from services.projects.rollups import parse_by, rollup
from services.projects.schemas import (
    ChangeRead,
    ProjectCreate,
    ProjectList,
    ProjectRead,
    ProjectUpdate,
    ReportCreate,
    ReportRead,
    Rollup,
    StatusChange,
)

router = APIRouter(dependencies=[StrictQuery])


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


async def list_filters(
    county: Annotated[str | None, Query(description="区县代码，逗号分隔可多选")] = None,
    sector: Annotated[str | None, Query(description="二级行业代码，逗号分隔")] = None,
    sector_group: Annotated[str | None, Query(description="一级行业代码，逗号分隔")] = None,
    status: Annotated[str | None, Query(description="状态代码，逗号分隔")] = None,
    q: Annotated[str | None, Query(max_length=100, description="名称或编码包含")] = None,
    start_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    min_investment_wan: Annotated[int | None, Query(ge=0)] = None,
    max_investment_wan: Annotated[int | None, Query(ge=0)] = None,
) -> service.ProjectFilters:
    return service.ProjectFilters(
        county=_csv(county),
        sector=_csv(sector),
        sector_group=_csv(sector_group),
        status=_csv(status),
        q=q or None,
        start_year=start_year,
        min_investment_wan=min_investment_wan,
        max_investment_wan=max_investment_wan,
    )


Filters = Annotated[service.ProjectFilters, Depends(list_filters)]


def project_read(project: Project, principal: Principal, parent_code: str | None = None) -> dict[str, Any]:
    return shown_read({**service.shown(project), "parent_code": parent_code}, principal)


def shown_read(data: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """A project's answer: its shown columns (:data:`service.SHOWN_COLUMNS`) and
    ``parent_code``, completed in place for the caller."""
    data.update(over_budget=service.is_over_budget(data), **service.caller_view(data, principal))
    return data


def _project_response(
    session: Session, project: Project, principal: Principal, status_code: int = 200
) -> JSONBytes:
    parent = service.parent_codes(session, [project.parent_id]).get(project.parent_id or 0)
    return JSONBytes(
        project_read(project, principal, parent),
        status_code=status_code,
        headers={"ETag": make_etag(project.id, project.version)},  # type: ignore[arg-type]
    )


def _notify(request: Request) -> None:
    relay = getattr(request.app.state, "relay", None)
    if relay is not None:
        relay.notify()


# --------------------------------------------------------------------------- reference


@router.get("/reference/counties", tags=["reference"])
def counties() -> dict[str, Any]:
    return {"items": [{"code": c.code, "zh": c.zh, "en": c.en, "name": c.zh} for c in reference.COUNTIES]}


@router.get("/reference/sectors", tags=["reference"])
def sectors() -> dict[str, Any]:
    items = []
    for group in reference.SECTOR_GROUPS:
        children = [
            {"code": s.code, "zh": s.zh, "en": s.en, "name": s.zh, "level": 2, "group": group.code}
            for s in reference.SECTORS
            if s.group == group.code
        ]
        items.append(
            {
                "code": group.code,
                "zh": group.zh,
                "en": group.en,
                "name": group.zh,
                "level": 1,
                "children": children,
            }
        )
    return {"items": items}


@router.get("/reference/statuses", tags=["reference"])
def statuses() -> dict[str, Any]:
    return {
        "items": [
            {
                "code": s.code,
                "zh": s.zh,
                "en": s.en,
                "name": s.zh,
                "transitions": reference.allowed_transitions(s.code),
                "final": not reference.TRANSITIONS[s.code],
            }
            for s in reference.STATUSES
        ]
    }


# --------------------------------------------------------------------------- projects


@router.get("/projects", response_model=ProjectList, tags=["projects"])
def list_projects(
    session: ReadSession,
    principal: Caller,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    sort: Annotated[
        str | None, Query(max_length=40, description="字段名，前加 - 为降序，如 -total_investment_wan")
    ] = None,
) -> Response:
    rows, next_cursor, total = service.list_projects(session, filters, sort=sort, limit=limit, cursor=cursor)
    items = [shown_read(row, principal) for row in rows]
    return JSONBytes({"items": items, "next_cursor": next_cursor, "total": total})


@router.post("/projects", status_code=201, response_model=ProjectRead, tags=["projects"])
def create_project(
    request: Request,
    body: ProjectCreate,
    session: WriteSession,
    principal: Caller,
    request_id: RequestId,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    scope = f"{principal.actor}:POST:/projects"
    body_hash = request_hash(body.model_dump(mode="json"))
    if idempotency_key:
        replay = find_replay(session, IdempotencyKey, scope, idempotency_key, body_hash)
        if replay is not None:
            return JSONBytes(replay.body, status_code=replay.status_code, headers=replay.headers)
    project = service.create_project(session, body, principal, request_id)
    response = _project_response(session, project, principal, 201)
    headers = {"ETag": response.headers["etag"], "Location": f"/api/v1/projects/{project.id}"}
    response.headers["Location"] = headers["Location"]
    if idempotency_key:
        remember(
            session,
            IdempotencyKey,
            scope,
            idempotency_key,
            body_hash,
            201,
            project_read(project, principal),
            headers,
        )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if idempotency_key:  # a concurrent retry with the same key won the race
            replay = find_replay(session, IdempotencyKey, scope, idempotency_key, body_hash)
            if replay is not None:
                return JSONBytes(replay.body, status_code=replay.status_code, headers=replay.headers)
        raise
    _notify(request)
    return response


@router.get("/projects/{project_id}", response_model=ProjectRead, tags=["projects"])
def get_project(project_id: int, session: ReadSession, principal: Caller) -> Response:
    return _project_response(session, service.get_project(session, project_id), principal)


@router.patch("/projects/{project_id}", response_model=ProjectRead, tags=["projects"])
def update_project(
    request: Request,
    project_id: int,
    body: ProjectUpdate,
    session: WriteSession,
    principal: Caller,
    request_id: RequestId,
) -> Response:
    expected = expected_version(request, project_id)
    project = service.update_project(session, project_id, body, expected, principal, request_id)
    session.commit()
    _notify(request)
    return _project_response(session, project, principal)


@router.post("/projects/{project_id}/status", response_model=ProjectRead, tags=["projects"])
def change_status(
    request: Request,
    project_id: int,
    body: StatusChange,
    session: WriteSession,
    principal: Caller,
    request_id: RequestId,
) -> Response:
    expected = expected_version(request, project_id)
    project = service.change_status(
        session, project_id, body.status, body.note, expected, principal, request_id
    )
    session.commit()
    _notify(request)
    return _project_response(session, project, principal)


@router.delete("/projects/{project_id}", status_code=204, tags=["projects"])
def delete_project(
    request: Request, project_id: int, session: WriteSession, principal: Caller, request_id: RequestId
) -> Response:
    expected = expected_version(request, project_id)
    service.delete_project(session, project_id, expected, principal, request_id)
    session.commit()
    _notify(request)
    return Response(status_code=204)


@router.get("/projects/{project_id}/history", tags=["projects"])
def project_history(project_id: int, session: ReadSession, _principal: Caller) -> dict[str, Any]:
    items = [
        ChangeRead(
            **change.model_dump(), changed=service.changed_fields(change.before, change.after)
        ).model_dump(mode="json")
        for change in service.history(session, project_id)
    ]
    return {"items": items}


def report_read(report: ProgressReport) -> dict[str, Any]:
    return ReportRead(**report.model_dump()).model_dump(mode="json")


@router.post("/projects/{project_id}/reports", status_code=201, response_model=ReportRead, tags=["reports"])
def submit_report(
    request: Request,
    project_id: int,
    body: ReportCreate,
    session: WriteSession,
    principal: Caller,
    request_id: RequestId,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    scope = f"{principal.actor}:POST:/projects/{project_id}/reports"
    body_hash = request_hash(body.model_dump(mode="json"))
    if idempotency_key:
        replay = find_replay(session, IdempotencyKey, scope, idempotency_key, body_hash)
        if replay is not None:
            return JSONBytes(replay.body, status_code=replay.status_code, headers=replay.headers)
    report = service.submit_report(session, project_id, body, principal, request_id)
    payload = report_read(report)
    headers = {"Location": f"/api/v1/projects/{project_id}/reports/{report.id}"}
    if idempotency_key:
        remember(session, IdempotencyKey, scope, idempotency_key, body_hash, 201, payload, headers)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if idempotency_key:
            replay = find_replay(session, IdempotencyKey, scope, idempotency_key, body_hash)
            if replay is not None:
                return JSONBytes(replay.body, status_code=replay.status_code, headers=replay.headers)
        raise service.report_exists(body.period) from None
    _notify(request)
    return JSONBytes(payload, status_code=201, headers=headers)


@router.get("/projects/{project_id}/reports", tags=["reports"])
def list_reports(project_id: int, session: ReadSession, _principal: Caller) -> dict[str, Any]:
    return {"items": [report_read(r) for r in service.list_reports(session, project_id)]}


# --------------------------------------------------------------------------- rollups


@router.get("/rollups", response_model=Rollup, tags=["rollups"])
def get_rollup(
    session: ReadSession,
    _principal: Caller,
    filters: Filters,
    by: Annotated[
        str, Query(description="county, sector, sector_group, status, start_year 之一或两个，逗号分隔")
    ] = "county",
) -> Response:
    return JSONBytes(dumps(rollup(session, parse_by(by), filters)))
