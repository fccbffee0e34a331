"""HTTP routes of the indicators service (internal API, mounted at ``/api/v1``).

Thin: parse, call :mod:`services.indicators.service` / :mod:`.observations`, shape the
response (progress explained in the request's language), commit once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.common.deps import Caller, ReadSession, RequestId, WriteSession, language
from services.common.http import StrictQuery, expected_version, make_etag
from services.common.i18n import Lang
from services.common.idempotency import find_replay, remember, request_hash
from services.common.jsonio import JSONBytes
from services.common.principal import Principal
from services.indicators import listing, observations, reference, service
from services.indicators.models import IdempotencyKey, Indicator, Observation, json_safe
from services.indicators.progress import Progress
from services.indicators.schemas import (
    ChangeRead,
    IndicatorCreate,
    IndicatorList,
    IndicatorRead,
    IndicatorUpdate,
    ObservationCreate,
    ObservationRead,
    Summary,
)

router = APIRouter(dependencies=[StrictQuery])
Language = Annotated[Lang, Depends(language)]


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


async def list_filters(
    category: Annotated[str | None, Query(description="类别（如 经济发展），逗号分隔可多选")] = None,
    scope: Annotated[str | None, Query(description="city 或区县代码，逗号分隔")] = None,
    status: Annotated[str | None, Query(description="进度状态，逗号分隔")] = None,
    target_kind: Annotated[str | None, Query(description="目标类型，逗号分隔")] = None,
    code: Annotated[str | None, Query(description="指标编码（精确），逗号分隔")] = None,
    q: Annotated[str | None, Query(max_length=100, description="名称或编码包含")] = None,
) -> listing.IndicatorFilters:
    return listing.IndicatorFilters(
        category=_csv(category),
        scope=_csv(scope),
        status=_csv(status),
        target_kind=_csv(target_kind),
        code=_csv(code),
        q=q or None,
    )


Filters = Annotated[listing.IndicatorFilters, Depends(list_filters)]


def progress_read(progress: Progress, lang: Lang) -> dict[str, Any]:
    return {
        "latest_year": progress.latest_year,
        "latest_value": progress.latest_value,
        "progress_pct": progress.progress_pct,
        "expected_pct": progress.expected_pct,
        "required_annual_growth_pct": progress.required_annual_growth_pct,
        "status": progress.status,
        "explanation": progress.explanation_en if lang == "en" else progress.explanation_zh,
        "explanation_zh": progress.explanation_zh,
        "explanation_en": progress.explanation_en,
    }


def observation_read(observation: Observation) -> dict[str, Any]:
    return {name: getattr(observation, name) for name in Observation.model_fields} | {
        "is_current": observation.is_current
    }


def indicator_read(
    indicator: Indicator,
    progress: Progress,
    principal: Principal,
    lang: Lang,
    observed: list[Observation] | None = None,
) -> dict[str, Any]:
    data = {name: getattr(indicator, name) for name in Indicator.model_fields}
    data.update(progress=progress_read(progress, lang), **service.caller_view(indicator, principal))
    if observed is not None:
        data["observations"] = [observation_read(o) for o in observed]
    return data


def _detail(session: Session, indicator: Indicator, principal: Principal, lang: Lang) -> dict[str, Any]:
    indicator_id = service.ident(indicator)
    observed = service.current_observations(session, [indicator_id])[indicator_id]
    return indicator_read(indicator, service.progress_of(indicator, observed), principal, lang, observed)


def _etag(indicator: Indicator) -> dict[str, str]:
    return {"ETag": make_etag(service.ident(indicator), indicator.version)}


def _notify(request: Request) -> None:
    relay = getattr(request.app.state, "relay", None)
    if relay is not None:
        relay.notify()


def _idempotent(
    request: Request,
    session: WriteSession,
    principal: Principal,
    key: str | None,
    body: Any,
    write: Callable[[], tuple[int, dict[str, Any], dict[str, str]]],
) -> Response:
    """Run ``write`` (which returns status, body, headers) and commit, once per
    ``Idempotency-Key``: a retry with the same body gets the first response, stored in the
    same transaction, and another body 422. The body is stored as the JSON sent, so the
    first answer and its replays are the same JSON."""
    scope = f"{principal.actor}:{request.method}:{request.url.path.removeprefix('/api/v1')}"
    body_hash = request_hash(body.model_dump(mode="json"))
    if key:
        replay = find_replay(session, IdempotencyKey, scope, key, body_hash)
        if replay is not None:
            return JSONBytes(replay.body, status_code=replay.status_code, headers=replay.headers)
    try:
        status_code, payload, headers = write()
        payload = json_safe(payload)
        if key:
            remember(session, IdempotencyKey, scope, key, body_hash, status_code, payload, headers)
        session.commit()
    except IntegrityError:
        session.rollback()
        if key:  # a concurrent retry with the same key won the race
            replay = find_replay(session, IdempotencyKey, scope, key, body_hash)
            if replay is not None:
                return JSONBytes(replay.body, status_code=replay.status_code, headers=replay.headers)
        raise
    _notify(request)
    return JSONBytes(payload, status_code=status_code, headers=headers)


IdempotencyKeyHeader = Annotated[str | None, Header(max_length=200)]


# --------------------------------------------------------------------------- reference


@router.get("/reference/indicator-categories", tags=["reference"])
def indicator_categories(session: ReadSession, _principal: Caller) -> dict[str, Any]:
    return {
        "items": [
            {
                "code": name,
                "zh": name,
                "en": reference.category_en(name),
                "name": name,
                "indicator_count": count,
            }
            for name, count in listing.categories(session)
        ]
    }


@router.get("/reference/target-kinds", tags=["reference"])
def target_kinds(_principal: Caller) -> dict[str, Any]:
    return {
        "items": [
            {
                "code": k.code,
                "zh": k.zh,
                "en": k.en,
                "name": k.zh,
                "measurable": k.code not in reference.NOT_MEASURABLE_KINDS,
            }
            for k in reference.TARGET_KINDS
        ]
    }


# --------------------------------------------------------------------------- indicators


@router.get("/indicators", response_model=IndicatorList, tags=["indicators"])
def list_indicators(
    session: ReadSession,
    principal: Caller,
    filters: Filters,
    lang: Language,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    page, next_cursor, total = listing.list_indicators(session, filters, limit=limit, cursor=cursor)
    items = [indicator_read(indicator, progress, principal, lang) for indicator, progress in page]
    return JSONBytes({"items": items, "next_cursor": next_cursor, "total": total})


@router.post("/indicators", status_code=201, response_model=IndicatorRead, tags=["indicators"])
def create_indicator(
    request: Request,
    body: IndicatorCreate,
    session: WriteSession,
    principal: Caller,
    request_id: RequestId,
    lang: Language,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    def write() -> tuple[int, dict[str, Any], dict[str, str]]:
        indicator = service.create_indicator(session, body, principal, request_id)
        headers = {**_etag(indicator), "Location": f"/api/v1/indicators/{indicator.id}"}
        return 201, _detail(session, indicator, principal, lang), headers

    return _idempotent(request, session, principal, idempotency_key, body, write)


@router.get("/indicators/{indicator_id}", response_model=IndicatorRead, tags=["indicators"])
def get_indicator(indicator_id: int, session: ReadSession, principal: Caller, lang: Language) -> Response:
    indicator = service.get_indicator(session, indicator_id)
    return JSONBytes(_detail(session, indicator, principal, lang), headers=_etag(indicator))


@router.patch("/indicators/{indicator_id}", response_model=IndicatorRead, tags=["indicators"])
def update_indicator(
    request: Request,
    indicator_id: int,
    body: IndicatorUpdate,
    session: WriteSession,
    principal: Caller,
    request_id: RequestId,
    lang: Language,
) -> Response:
    service.check_may_edit(principal)
    expected = expected_version(request, indicator_id)
    indicator = service.update_indicator(session, indicator_id, body, expected, principal, request_id)
    session.commit()
    _notify(request)
    return JSONBytes(_detail(session, indicator, principal, lang), headers=_etag(indicator))


@router.get("/indicators/{indicator_id}/history", tags=["indicators"])
def indicator_history(indicator_id: int, session: ReadSession, _principal: Caller) -> dict[str, Any]:
    items = [
        ChangeRead(
            **change.model_dump(), changed=service.changed_fields(change.before, change.after)
        ).model_dump(mode="json")
        for change in service.history(session, indicator_id)
    ]
    return {"items": items}


# --------------------------------------------------------------------------- observations


@router.get("/indicators/{indicator_id}/observations", tags=["observations"])
def list_observations(
    indicator_id: int,
    session: ReadSession,
    _principal: Caller,
    history: Annotated[bool, Query(description="true: 含被更正的历史版本")] = False,
) -> Response:
    rows = observations.list_observations(session, indicator_id, include_history=history)
    return JSONBytes({"items": [observation_read(o) for o in rows]})


@router.post(
    "/indicators/{indicator_id}/observations",
    status_code=201,
    response_model=ObservationRead,
    tags=["observations"],
)
def record_observation(
    request: Request,
    indicator_id: int,
    body: ObservationCreate,
    session: WriteSession,
    principal: Caller,
    request_id: RequestId,
    lang: Language,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """201 with the new observation (and the indicator's progress after it); 200 when the
    same value was already current (nothing recorded)."""

    def write() -> tuple[int, dict[str, Any], dict[str, str]]:
        observation, created = observations.record_observation(
            session, indicator_id, body, principal, request_id
        )
        indicator = service.get_indicator(session, indicator_id)
        observed = service.current_observations(session, [indicator_id])[indicator_id]
        payload = {
            **observation_read(observation),
            "progress": progress_read(service.progress_of(indicator, observed), lang),
        }
        return (201 if created else 200), payload, _etag(indicator)

    return _idempotent(request, session, principal, idempotency_key, body, write)


# --------------------------------------------------------------------------- summary


@router.get("/summary", response_model=Summary, tags=["summary"])
def get_summary(
    session: ReadSession,
    _principal: Caller,
    filters: Filters,
    by: Annotated[str, Query(description="scope, category 或 target_kind")] = "scope",
) -> Response:
    return JSONBytes(listing.summary(session, listing.parse_by(by), filters))
