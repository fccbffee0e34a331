"""Public bulk import and export of projects, passed on to the projects service.

An upload goes on as it came (multipart, checked for size by the gateway's body limit),
with the longer import timeout; files coming back (exports, the template) are streamed
through, never held whole. Which rows a manager may import (its counties), the columns and
the all-or-nothing rule are the service's (``services/projects/transfer.py``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.common.http import StrictQuery
from services.gateway.deps import CurrentCaller, Gateway, authorize
from services.gateway.forward import READ_ERRORS, WRITE_ERRORS, forward, problems
from services.gateway.jsondoc import DocumentedJSON
from services.projects.routes import list_filters
from services.projects.schemas import ImportReport
from services.projects.service import ProjectFilters
from services.projects.transfer_routes import UPLOAD_BODY

router = APIRouter(
    prefix="/api/v1",
    tags=["import-export"],
    default_response_class=DocumentedJSON,
    dependencies=[Depends(authorize), StrictQuery],
)

Filters = Annotated[ProjectFilters, Depends(list_filters)]
CSV_XLSX: dict[str, Any] = {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}
    },
}
FILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"description": "the file (Content-Disposition: attachment)", "content": CSV_XLSX}
}
EXPORT_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file (Content-Disposition: attachment); OC4IDS as a JSON project package",
        "content": {**CSV_XLSX, "application/json": {"schema": {"type": "object"}}},
    }
}


@router.post(
    "/projects/import",
    response_model=ImportReport,
    responses=problems(*WRITE_ERRORS, 413, 415),
    openapi_extra=UPLOAD_BODY,
)
async def import_projects(
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    dry_run: Annotated[bool, Query(description="只校验，不写入 / validate only")] = False,
    sheet: Annotated[str | None, Query(max_length=100, description="XLSX 工作表名称 / sheet name")] = None,
) -> Response:
    """Import a CSV (UTF-8, UTF-8 with BOM or GBK) or XLSX file, field ``file``: rows with
    an existing ``code`` update that project, others create one; all rows or none.
    ``dry_run=true`` reports what would be created, updated and unchanged, and every
    problem as ``{row, column, value, message}``, writing nothing."""
    return await forward(
        request, gateway, gateway.projects, caller, timeout_s=gateway.settings.import_timeout_s
    )


@router.get(
    "/projects/import/template",
    response_class=Response,
    responses={**FILE_ANSWER, **problems(*READ_ERRORS)},
)
async def import_template(
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    template_format: Annotated[Literal["xlsx", "csv"], Query(alias="format")] = "xlsx",
) -> Response:
    """The import template: the columns in the request's language; the XLSX has a second
    sheet listing the valid codes (counties, sectors, statuses)."""
    return await gateway.projects.download(
        request.url.path, principal=caller.principal(), request=request, query=request.url.query
    )


@router.get(
    "/projects/export", response_class=Response, responses={**EXPORT_ANSWER, **problems(*READ_ERRORS)}
)
async def export_projects(
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _filters: Filters,
    export_format: Annotated[Literal["csv", "xlsx", "oc4ids"], Query(alias="format")] = "csv",
) -> Response:
    """The filtered library as CSV or XLSX (the template's columns, so an export can be
    edited and imported again; money in 万元 with a 亿元 column), or as an OC4IDS project
    package (``format=oc4ids``)."""
    return await gateway.projects.download(
        request.url.path, principal=caller.principal(), request=request, query=request.url.query
    )
