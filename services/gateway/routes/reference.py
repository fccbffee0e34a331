"""Reference code lists, from the service that owns each; cached (they change with a
deploy, not with a write; the namespaces are in
:data:`~services.gateway.cache.CACHED_READS`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.common.http import StrictQuery
from services.gateway.deps import CurrentCaller, Gateway, authorize
from services.gateway.forward import READ_ERRORS, cached_forward, problems
from services.gateway.jsondoc import DocumentedJSON
from services.gateway.schemas import ReferenceList

router = APIRouter(
    prefix="/api/v1",
    tags=["reference"],
    default_response_class=DocumentedJSON,
    dependencies=[Depends(authorize), StrictQuery],
)
ERRORS = problems(*READ_ERRORS)


@router.get("/reference/counties", response_model=ReferenceList, responses=ERRORS)
async def counties(request: Request, caller: CurrentCaller, gateway: Gateway) -> Response:
    """The ten county codes (incl. ``citywide``) with zh and en names."""
    return await cached_forward(request, gateway, gateway.projects, caller)


@router.get("/reference/sectors", response_model=ReferenceList, responses=ERRORS)
async def sectors(request: Request, caller: CurrentCaller, gateway: Gateway) -> Response:
    """Sector groups (level 1), each with its sectors (level 2) as ``children``."""
    return await cached_forward(request, gateway, gateway.projects, caller)


@router.get("/reference/statuses", response_model=ReferenceList, responses=ERRORS)
async def statuses(request: Request, caller: CurrentCaller, gateway: Gateway) -> Response:
    """Project statuses with the statuses each may move to."""
    return await cached_forward(request, gateway, gateway.projects, caller)


@router.get("/reference/indicator-categories", response_model=ReferenceList, responses=ERRORS)
async def indicator_categories(request: Request, caller: CurrentCaller, gateway: Gateway) -> Response:
    """Indicator categories in use, with their counts (cached like rollups: writes change it)."""
    return await cached_forward(request, gateway, gateway.indicators, caller)


@router.get("/reference/target-kinds", response_model=ReferenceList, responses=ERRORS)
async def target_kinds(request: Request, caller: CurrentCaller, gateway: Gateway) -> Response:
    """Kinds of indicator targets (absolute, at_least, …)."""
    return await cached_forward(request, gateway, gateway.indicators, caller)
