"""The rules of the indicator library. Plain functions over a session; no HTTP here.

- Who writes: only administrators create and change indicators. Observations of a county's
  indicator may also be recorded by a manager of that county; city-scope indicators
  (``city``) take observations from administrators only; viewers never write (403, the
  message names the county).
- Versions: every write, an observation included, moves ``version`` by one with a
  conditional UPDATE (``WHERE version = <read>``), so of two writers holding the same ETag
  exactly one wins and the other gets 412, on SQLite and PostgreSQL alike.
- Every write adds its audit row (``indicator_change``, before and after) and its outbox
  event in the same transaction; the caller commits once.
- Progress is never stored: it is computed from the indicator and its current observations
  by :mod:`services.indicators.progress` on every read (lists and summaries included).
- Observations and corrections: :mod:`services.indicators.observations`; lists, filters and
  summaries: :mod:`services.indicators.listing`.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import select, update
from sqlmodel import Session, col

from services.common.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from services.common.http import make_etag, stale_version
from services.common.i18n import Msg
from services.common.models import utcnow
from services.common.outbox import record_event
from services.common.principal import Principal
from services.indicators import reference
from services.indicators.models import Indicator, IndicatorChange, Observation, OutboxEvent, snapshot
from services.indicators.progress import Direction, IndicatorTarget, Progress, TargetKind, compute_progress
from services.indicators.progress import Observation as ObservedValue
from services.indicators.schemas import IndicatorCreate, IndicatorUpdate, check_years

# --------------------------------------------------------------------------- permissions


def check_may_edit(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden(
            Msg("只有管理员可以新建或修改指标。", "Only administrators may create or change indicators.")
        )


def may_record(principal: Principal, scope: str) -> bool:
    return principal.is_admin if scope == reference.CITY else principal.may_write_county(scope)


def check_may_record(principal: Principal, scope: str) -> None:
    if may_record(principal, scope):
        return
    if principal.role == "viewer":
        raise Forbidden(Msg("只读用户不能录入指标数据。", "Viewers cannot record indicator values."))
    if scope == reference.CITY:
        raise Forbidden(
            Msg(
                "全市指标的数据只有管理员可以录入。",
                "Only administrators may record values of city-wide indicators.",
            )
        )
    name = reference.scope_name(scope)
    raise Forbidden(
        Msg(
            f"您没有{name.zh}（{scope}）的指标数据录入权限。",
            f"You may not record indicator values of {scope} ({name.en}); it is not one of your counties.",
        )
    )


def caller_view(indicator: Indicator, principal: Principal) -> dict[str, bool]:
    return {"can_edit": principal.is_admin, "can_record": may_record(principal, indicator.scope)}


# --------------------------------------------------------------------------- progress


def target_of(indicator: Indicator) -> IndicatorTarget:
    return IndicatorTarget(
        direction=cast(Direction, indicator.direction),
        target_kind=cast(TargetKind, indicator.target_kind),
        target_year=indicator.target_year,
        period_start=indicator.period_start,
        period_end=indicator.period_end,
        unit=indicator.unit,
        baseline_year=indicator.baseline_year,
        baseline_value=indicator.baseline_value,
        target_value=indicator.target_value,
        target_growth_pct=indicator.target_growth_pct,
        at_risk_band_pts=indicator.at_risk_band_pts,
        target_text=indicator.target_text,
    )


def progress_of(indicator: Indicator, observations: list[Observation]) -> Progress:
    return compute_progress(target_of(indicator), [ObservedValue(o.year, o.value) for o in observations])


def ident(row: Indicator | Observation) -> int:
    """The id of a row that has been flushed."""
    assert row.id is not None, "row not flushed"
    return row.id


def current_observations(session: Session, indicator_ids: list[int]) -> dict[int, list[Observation]]:
    """The current observation of every year, by indicator, in year order."""
    by_indicator: dict[int, list[Observation]] = {i: [] for i in indicator_ids}
    if not indicator_ids:
        return by_indicator
    query = (
        select(Observation)
        .where(col(Observation.indicator_id).in_(indicator_ids), col(Observation.superseded_at).is_(None))
        .order_by(col(Observation.indicator_id), col(Observation.year))
    )
    for row in session.scalars(query):
        by_indicator[row.indicator_id].append(row)
    return by_indicator


def with_progress(session: Session, indicators: list[Indicator]) -> list[tuple[Indicator, Progress]]:
    """Each indicator with its progress (one query for all their observations)."""
    observed = current_observations(session, [ident(i) for i in indicators])
    return [(i, progress_of(i, observed[ident(i)])) for i in indicators]


# --------------------------------------------------------------------------- reads


def get_indicator(session: Session, indicator_id: int) -> Indicator:
    indicator = session.get(Indicator, indicator_id)
    if indicator is None:
        raise NotFound(Msg(f"指标 {indicator_id} 不存在。", f"Indicator {indicator_id} does not exist."))
    return indicator


def get_by_code(session: Session, code: str) -> Indicator | None:
    return session.scalars(select(Indicator).where(col(Indicator.code) == code)).first()


def history(session: Session, indicator_id: int) -> list[IndicatorChange]:
    get_indicator(session, indicator_id)
    query = (
        select(IndicatorChange)
        .where(col(IndicatorChange.indicator_id) == indicator_id)
        .order_by(col(IndicatorChange.id))
    )
    return list(session.scalars(query))


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    before, after = before or {}, after or {}
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if key not in ("id", "version") and before.get(key) != after.get(key)
    }


# --------------------------------------------------------------------------- writes


def record_change(
    session: Session,
    indicator: Indicator,
    *,
    kind: str,
    event_type: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    principal: Principal,
    note: str | None,
    request_id: str | None,
    data: dict[str, Any],
) -> None:
    """The audit row and the outbox event of a write, in the caller's transaction."""
    session.add(
        IndicatorChange(
            indicator_id=ident(indicator),
            version=indicator.version,
            actor=principal.actor,
            kind=kind,
            before=before,
            after=after,
            note=note,
            request_id=request_id,
        )
    )
    record_event(
        session,
        OutboxEvent,
        type=event_type,
        entity_id=ident(indicator),
        version=indicator.version,
        actor=principal.actor,
        data={"code": indicator.code, "scope": indicator.scope, **data},
    )


def create_indicator(
    session: Session, data: IndicatorCreate, principal: Principal, request_id: str | None = None
) -> Indicator:
    check_may_edit(principal)
    if get_by_code(session, data.code):
        raise Conflict(Msg(f"指标编码 {data.code} 已存在。", f"Indicator code {data.code} already exists."))
    indicator = Indicator(**data.model_dump(exclude={"unit"}), unit=data.unit or "", version=1)
    session.add(indicator)
    session.flush()
    after = snapshot(indicator)
    record_change(
        session,
        indicator,
        kind="create",
        event_type="indicator.created",
        before=None,
        after=after,
        principal=principal,
        note=None,
        request_id=request_id,
        data={"indicator": after},
    )
    return indicator


NOT_NULL = (
    "code",
    "name",
    "category",
    "scope",
    "direction",
    "target_year",
    "target_kind",
    "period_start",
    "period_end",
    "at_risk_band_pts",
)


def bump_version(session: Session, indicator: Indicator, expected: int, values: dict[str, Any]) -> None:
    """Conditional UPDATE: only if nobody wrote since ``expected`` (else 412)."""
    if indicator.version != expected:
        raise stale_version(make_etag(ident(indicator), indicator.version))
    values = {**values, "version": expected + 1, "updated_at": utcnow()}
    result = session.execute(
        update(Indicator)
        .where(col(Indicator.id) == indicator.id, col(Indicator.version) == expected)
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise stale_version()
    session.refresh(indicator)


def update_indicator(
    session: Session,
    indicator_id: int,
    changes: IndicatorUpdate,
    expected: int,
    principal: Principal,
    request_id: str | None = None,
) -> Indicator:
    check_may_edit(principal)
    indicator = get_indicator(session, indicator_id)
    values = changes.model_dump(exclude_unset=True, exclude={"note"})
    for name in NOT_NULL:
        if name in values and values[name] is None:
            raise ValidationFailed(
                Msg(f"{name} 不能为空。", f"{name} cannot be null."),
                errors=[FieldError(["body", name], Msg("不能为空", "cannot be null"))],
            )
    if "unit" in values:
        values["unit"] = values["unit"] or ""
    merged = {**indicator.model_dump(), **values}
    try:
        check_years(
            merged["baseline_year"], merged["target_year"], merged["period_start"], merged["period_end"]
        )
    except ValueError as exc:
        zh, _, en = str(exc).partition(" | ")
        raise ValidationFailed(Msg(zh, en or zh), errors=[FieldError(["body"], Msg(zh, en or zh))]) from None
    if values.get("code") not in (None, indicator.code) and get_by_code(session, values["code"]):
        raise Conflict(
            Msg(f"指标编码 {values['code']} 已存在。", f"Indicator code {values['code']} already exists.")
        )
    current = indicator.model_dump()
    values = {k: v for k, v in values.items() if current.get(k) != v}
    if not values:
        if indicator.version != expected:
            raise stale_version(make_etag(ident(indicator), indicator.version))
        return indicator
    before = snapshot(indicator)
    bump_version(session, indicator, expected, values)
    after = snapshot(indicator)
    changed = changed_fields(before, after)
    record_change(
        session,
        indicator,
        kind="update",
        event_type="indicator.updated",
        before=before,
        after=after,
        principal=principal,
        note=changes.note,
        request_id=request_id,
        data={"changed": changed},
    )
    return indicator
