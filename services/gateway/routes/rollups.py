"""Rollups: the projects rollup passed through (cached), by sector level, and by county
composed with the indicators summary.

``/rollups/counties`` has one row per county of the reference list (ten codes, incl.
``citywide``), in that order: the project measures of the projects rollup ``by=county``
(money split by ``county_shares``, ``"split": "shares"``; zeros where a county has no
project) and ``indicators``, the county's indicators counted by progress status (scope
``city`` is the ``citywide`` row). When the indicators service does not answer, the rows
still come, with ``indicators: null`` and a ``warnings`` entry; such an answer is not cached.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.common.errors import UpstreamError
from services.common.http import StrictQuery
from services.common.i18n import negotiate
from services.common.jsonio import JSONBytes, dumps
from services.gateway.cache import cache_entry
from services.gateway.deps import CurrentCaller, Gateway, authorize
from services.gateway.forward import READ_ERRORS, CacheHit, cached_forward, problems
from services.gateway.jsondoc import DocumentedJSON
from services.gateway.schemas import CountyRollup
from services.gateway.upstream import Answer
from services.projects.reference import COUNTIES
from services.projects.rollups import empty_measures
from services.projects.routes import list_filters
from services.projects.schemas import Rollup
from services.projects.service import ProjectFilters

router = APIRouter(
    prefix="/api/v1",
    tags=["rollups"],
    default_response_class=DocumentedJSON,
    dependencies=[Depends(authorize), StrictQuery],
)
Filters = Annotated[ProjectFilters, Depends(list_filters)]
ROLLUP_PATH = "/api/v1/rollups"
CITY_SCOPE = {"city": "citywide"}


@router.get("/rollups", response_model=Rollup, responses=problems(*READ_ERRORS))
async def rollup(
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _filters: Filters,
    by: Annotated[
        str, Query(description="county, sector, sector_group, status, start_year 之一或两个，逗号分隔")
    ] = "county",
) -> Response:
    """Exact sums of the library grouped by one or two dimensions; rows sum to ``totals``."""
    return await cached_forward(request, gateway, gateway.projects, caller)


@router.get("/rollups/sectors", response_model=Rollup, responses=problems(*READ_ERRORS))
async def rollup_by_sector(
    request: Request,
    caller: CurrentCaller,
    gateway: Gateway,
    _filters: Filters,
    level: Annotated[int, Query(ge=1, le=2, description="1: 一级行业 sector_group; 2: 二级行业 sector")] = 1,
) -> Response:
    """The projects rollup by sector group (level 1) or sector (level 2)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "level"]
    query = urlencode([("by", "sector_group" if level == 1 else "sector"), *params])
    return await cached_forward(request, gateway, gateway.projects, caller, ROLLUP_PATH, query)


@router.get("/rollups/counties", response_model=CountyRollup, responses=problems(*READ_ERRORS))
async def rollup_by_county(request: Request, caller: CurrentCaller, gateway: Gateway) -> Response:
    """One row per county: the project rollup and the county's indicator summary."""
    entry = cache_entry(request.url.path, request.url.query)  # the query is empty: StrictQuery
    cached, generation = await gateway.cache.get(*entry) if entry else (None, None)
    if cached is not None:
        return CacheHit(cached)
    principal = caller.principal()
    projects, indicators = await asyncio.gather(
        gateway.projects.call("GET", ROLLUP_PATH, principal=principal, request=request, query="by=county"),
        gateway.indicators.call(
            "GET", "/api/v1/summary", principal=principal, request=request, query="by=scope"
        ),
        return_exceptions=True,
    )
    if isinstance(projects, BaseException):
        raise projects
    if not projects.ok:
        return projects.response()
    warnings: list[dict[str, Any]] = []
    summary: Any = None
    if isinstance(indicators, UpstreamError):
        lang = negotiate(request.headers.get("accept-language"))
        warnings.append(
            {"service": "indicators", "status": indicators.status, "detail": indicators.detail.text(lang)}
        )
    elif isinstance(indicators, BaseException):
        raise indicators
    elif not indicators.ok:
        warnings.append({"service": "indicators", "status": indicators.status, "detail": _detail(indicators)})
    else:
        summary = indicators.json()
    body = dumps(compose(projects.json(), summary, warnings))
    if not warnings and entry is not None:
        await gateway.cache.put(entry[0], generation, entry[1], body)
    return JSONBytes(body, headers={"X-Cache": "miss" if generation is not None else "off"})


def _detail(answer: Answer) -> str:
    body = answer.json()
    return str(body.get("detail", "")) if isinstance(body, dict) else f"HTTP {answer.status}"


def compose(rollup: Any, summary: Any, warnings: list[dict[str, Any]]) -> dict[str, Any]:
    project_rows = {row["county"]: row for row in rollup["rows"]}
    indicator_rows: dict[str, dict[str, Any]] = {}
    zero_counts: dict[str, Any] | None = None
    if summary is not None:
        statuses = summary["totals"]["status_counts"]
        zero_counts = {"indicator_count": 0, "status_counts": {status: 0 for status in statuses}}
        for row in summary["rows"]:
            county = CITY_SCOPE.get(row["scope"], row["scope"])
            indicator_rows[county] = {
                "indicator_count": row["indicator_count"],
                "status_counts": row["status_counts"],
            }
    known = [county.code for county in COUNTIES]
    names = {county.code: county for county in COUNTIES}
    rows = []
    for code in known + sorted(set(project_rows) - set(known)):
        measures = project_rows.get(code, empty_measures())
        measures = {k: v for k, v in measures.items() if k != "county"}
        name = names.get(code)
        rows.append(
            {
                "county": code,
                "name": name.zh if name else code,
                "name_en": name.en if name else code,
                **measures,
                "indicators": indicator_rows.get(code, zero_counts) if summary is not None else None,
            }
        )
    totals = {**rollup["totals"], "indicators": summary["totals"] if summary is not None else None}
    return {
        "by": ["county"],
        "rows": rows,
        "totals": totals,
        "split": rollup.get("split", "shares"),
        "warnings": warnings,
    }
