"""Public project routes, passed on to the projects service.

Each route declares what the service accepts (the service's own request models and query
parameters, so a typo is refused here with 422 and the OpenAPI document is complete), then
forwards the raw request. County scope, ETags and transitions are the service's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import Response

from services.common.http import StrictQuery
from services.gateway.deps import CurrentCaller, Gateway, RowId, authorize
from services.gateway.forward import READ_ERRORS, WRITE_ERRORS, forward, problems
from services.gateway.jsondoc import DocumentedJSON
from services.gateway.schemas import ItemList
from services.projects.routes import list_filters
from services.projects.schemas import (
    ProjectCreate,
    ProjectList,
    ProjectRead,
    ProjectUpdate,
    ReportCreate,
    ReportRead,
    StatusChange,
)
from services.projects.service import ProjectFilters

router = APIRouter(
    prefix="/api/v1",
    tags=["projects"],
    default_response_class=DocumentedJSON,
    dependencies=[Depends(authorize), StrictQuery],
)

Filters = Annotated[ProjectFilters, Depends(list_filters)]
IfMatch = Annotated[str | None, Header(description="ETag read before (required for changes)")]
IdempotencyKey = Annotated[str | None, Header(max_length=200, description="retry-safe creation")]

PROJECT_EXAMPLE: dict[str, Any] = {
    "name": "黑山县现代农业产业园",
    "sector": "agri_park",
    "county": "heishan",
    "total_investment_wan": 150000,
    "start_year": 2022,
    "end_year": 2025,
}


@router.get("/projects", response_model=ProjectList, responses=problems(*READ_ERRORS))
async def list_projects(
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _filters: Filters,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    sort: Annotated[str | None, Query(max_length=40, description="字段名，前加 - 为降序")] = None,
) -> Response:
    """The project library, filtered and paged (``next_cursor``)."""
    return await forward(request, gateway, gateway.projects, caller)


@router.post("/projects", status_code=201, response_model=ProjectRead, responses=problems(*WRITE_ERRORS))
async def create_project(
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _body: Annotated[ProjectCreate, Body(openapi_examples={"heishan": {"value": PROJECT_EXAMPLE}})],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a project (201, ``Location``, ``ETag``); managers only in their counties."""
    return await forward(request, gateway, gateway.projects, caller)


@router.get("/projects/{project_id}", response_model=ProjectRead, responses=problems(*READ_ERRORS, 404))
async def get_project(
    project_id: RowId, request: Request, caller: CurrentCaller, gateway: Gateway
) -> Response:
    """One project with its ``ETag``, and ``can_edit`` / ``allowed_transitions`` for the caller."""
    return await forward(request, gateway, gateway.projects, caller)


@router.patch(
    "/projects/{project_id}", response_model=ProjectRead, responses=problems(*WRITE_ERRORS, 412, 428)
)
async def update_project(
    project_id: RowId,
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _body: Annotated[
        ProjectUpdate, Body(openapi_examples={"investment": {"value": {"total_investment_wan": 180000}}})
    ],
    if_match: IfMatch = None,
) -> Response:
    """Partial update; ``If-Match`` required (missing 428, stale 412)."""
    return await forward(request, gateway, gateway.projects, caller)


@router.delete("/projects/{project_id}", status_code=204, responses=problems(*WRITE_ERRORS, 412, 428))
async def delete_project(
    project_id: RowId, request: Request, caller: CurrentCaller, gateway: Gateway, if_match: IfMatch = None
) -> Response:
    """Soft delete (admins); ``If-Match`` required."""
    return await forward(request, gateway, gateway.projects, caller)


@router.post(
    "/projects/{project_id}/status", response_model=ProjectRead, responses=problems(*WRITE_ERRORS, 412, 428)
)
async def change_status(
    project_id: RowId,
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _body: Annotated[
        StatusChange,
        Body(openapi_examples={"start": {"value": {"status": "under_construction", "note": "开工"}}}),
    ],
    if_match: IfMatch = None,
) -> Response:
    """Move the status along the transition table (an illegal move is 409)."""
    return await forward(request, gateway, gateway.projects, caller)


@router.get("/projects/{project_id}/history", response_model=ItemList, responses=problems(*READ_ERRORS, 404))
async def project_history(
    project_id: RowId, request: Request, caller: CurrentCaller, gateway: Gateway
) -> Response:
    """Every change, oldest first: who, when, before/after, note."""
    return await forward(request, gateway, gateway.projects, caller)


@router.post(
    "/projects/{project_id}/reports",
    status_code=201,
    response_model=ReportRead,
    responses=problems(*WRITE_ERRORS),
)
async def submit_report(
    project_id: RowId,
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _body: Annotated[
        ReportCreate,
        Body(
            openapi_examples={
                "march": {
                    "value": {
                        "period": "2025-03",
                        "investment_this_period_wan": 1200,
                        "physical_progress_pct": 35,
                    }
                }
            }
        ),
    ],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A monthly progress report (one per project and period; a second is 409)."""
    return await forward(request, gateway, gateway.projects, caller)


@router.get("/projects/{project_id}/reports", response_model=ItemList, responses=problems(*READ_ERRORS, 404))
async def list_reports(
    project_id: RowId, request: Request, caller: CurrentCaller, gateway: Gateway
) -> Response:
    """The project's progress reports."""
    return await forward(request, gateway, gateway.projects, caller)
