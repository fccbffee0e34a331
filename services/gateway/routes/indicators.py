"""Public indicator routes, passed on to the indicators service (same shapes as the
service: its request models and query parameters). Creating and editing indicators is for
admins; observations for managers (the service checks the indicator's county)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import Response

from services.common.http import StrictQuery
from services.gateway.deps import CurrentCaller, Gateway, RowId, authorize
from services.gateway.forward import READ_ERRORS, WRITE_ERRORS, forward, problems
from services.gateway.jsondoc import DocumentedJSON
from services.gateway.schemas import ItemList
from services.indicators.routes import list_filters
from services.indicators.schemas import (
    IndicatorCreate,
    IndicatorList,
    IndicatorRead,
    IndicatorUpdate,
    ObservationCreate,
    ObservationRead,
    Summary,
)

router = APIRouter(
    prefix="/api/v1",
    tags=["indicators"],
    default_response_class=DocumentedJSON,
    dependencies=[Depends(authorize), StrictQuery],
)

#: the service's own filter parameters (whatever it parses them into)
Filters = Annotated[Any, Depends(list_filters)]
IfMatch = Annotated[str | None, Header(description="ETag read before (required for changes)")]
IdempotencyKey = Annotated[str | None, Header(max_length=200, description="retry-safe creation")]

INDICATOR_EXAMPLE = {
    "code": "PM25",
    "name": "细颗粒物（PM2.5）平均浓度",
    "category": "生态环境",
    "unit": "微克/立方米",
    "scope": "city",
    "direction": "decrease",
    "baseline_year": 2020,
    "baseline_value": "46",
    "target_year": 2025,
    "target_value": "35",
    "target_kind": "at_most",
}


@router.get("/indicators", response_model=IndicatorList, responses=problems(*READ_ERRORS))
async def list_indicators(
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _filters: Filters,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Indicators, each with its computed ``progress``."""
    return await forward(request, gateway, gateway.indicators, caller)


@router.post("/indicators", status_code=201, response_model=IndicatorRead, responses=problems(*WRITE_ERRORS))
async def create_indicator(
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _body: Annotated[IndicatorCreate, Body(openapi_examples={"pm25": {"value": INDICATOR_EXAMPLE}})],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an indicator (admins)."""
    return await forward(request, gateway, gateway.indicators, caller)


@router.get("/indicators/{indicator_id}", response_model=IndicatorRead, responses=problems(*READ_ERRORS, 404))
async def get_indicator(
    indicator_id: RowId, request: Request, caller: CurrentCaller, gateway: Gateway
) -> Response:
    """One indicator with its observations and progress."""
    return await forward(request, gateway, gateway.indicators, caller)


@router.patch(
    "/indicators/{indicator_id}", response_model=IndicatorRead, responses=problems(*WRITE_ERRORS, 412, 428)
)
async def update_indicator(
    indicator_id: RowId,
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _body: Annotated[IndicatorUpdate, Body(openapi_examples={"target": {"value": {"target_value": "34"}}})],
    if_match: IfMatch = None,
) -> Response:
    """Partial update (admins); ``If-Match`` required."""
    return await forward(request, gateway, gateway.indicators, caller)


@router.get(
    "/indicators/{indicator_id}/history", response_model=ItemList, responses=problems(*READ_ERRORS, 404)
)
async def indicator_history(
    indicator_id: RowId, request: Request, caller: CurrentCaller, gateway: Gateway
) -> Response:
    """Every change of the indicator, oldest first."""
    return await forward(request, gateway, gateway.indicators, caller)


@router.get(
    "/indicators/{indicator_id}/observations", response_model=ItemList, responses=problems(*READ_ERRORS, 404)
)
async def list_observations(
    indicator_id: RowId,
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    history: Annotated[bool, Query(description="true: 含被更正的历史版本")] = False,
) -> Response:
    """The indicator's yearly observations."""
    return await forward(request, gateway, gateway.indicators, caller)


@router.post(
    "/indicators/{indicator_id}/observations",
    status_code=201,
    response_model=ObservationRead,
    responses={
        200: {
            "model": ObservationRead,
            "description": "The same value was already current: nothing recorded",
        },
        **problems(*WRITE_ERRORS),
    },
)
async def record_observation(
    indicator_id: RowId,
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _body: Annotated[
        ObservationCreate, Body(openapi_examples={"2023": {"value": {"year": 2023, "value": "38"}}})
    ],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record a year's value (a second value for a year corrects it)."""
    return await forward(request, gateway, gateway.indicators, caller)


@router.get("/summary", response_model=Summary, responses=problems(*READ_ERRORS))
async def indicator_summary(
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _filters: Filters,
    by: Annotated[str, Query(description="scope, category 或 target_kind")] = "scope",
) -> Response:
    """Indicators counted by progress status, grouped by ``by``."""
    return await forward(request, gateway, gateway.indicators, caller)
