"""Observations of an indicator: recording, corrections, history. Plain functions, no HTTP.

- A value is for one year within the indicator's plan period ``period_start..period_end``
  (else 422 naming the period). The baseline is part of the indicator, not an observation.
- One current value per indicator and year. Recording a year that already has one is a
  correction: the current row is marked ``superseded_at`` and the new row, with the next
  ``revision``, becomes current. Nothing is overwritten; ``history=true`` lists every
  revision. Recording exactly what is already current (value, texts, note, source) changes
  nothing and returns the current row, so re-running a seed adds no revisions.
- Each recorded value moves the indicator's ``version`` (its progress changed), adds an
  ``indicator_change`` row (kind ``observation`` or ``correction``, the previous and new
  value) and an ``indicator.observation_recorded`` event, in one transaction. The indicator
  row is locked first, so concurrent recordings of one indicator take turns.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlmodel import Session, col

from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.i18n import Msg
from services.common.models import utcnow
from services.common.principal import Principal
from services.indicators.models import Indicator, Observation, observation_snapshot
from services.indicators.schemas import ObservationCreate
from services.indicators.service import (
    bump_version,
    check_may_record,
    current_observations,
    get_indicator,
    progress_of,
    record_change,
)

COMPARED = ("value", "value_text", "note", "source", "plan_line")


def _lock_indicator(session: Session, indicator_id: int) -> Indicator:
    indicator = session.scalars(
        select(Indicator)
        .where(col(Indicator.id) == indicator_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if indicator is None:
        raise NotFound(Msg(f"指标 {indicator_id} 不存在。", f"Indicator {indicator_id} does not exist."))
    return indicator


def check_year(indicator: Indicator, year: int) -> None:
    if indicator.period_start <= year <= indicator.period_end:
        return
    period = f"{indicator.period_start}–{indicator.period_end}"
    message = Msg(
        f"{year} 年不在本指标的规划期 {period}（period_start..period_end）内，不能录入。",
        f"{year} is outside the indicator's plan period {period} (period_start..period_end).",
    )
    raise ValidationFailed(message, errors=[FieldError(["body", "year"], message)])


def record_observation(
    session: Session,
    indicator_id: int,
    data: ObservationCreate,
    principal: Principal,
    request_id: str | None = None,
) -> tuple[Observation, bool]:
    """Record ``data`` for its year; returns the current observation and whether it is new."""
    indicator = _lock_indicator(session, indicator_id)
    check_may_record(principal, indicator.scope)
    check_year(indicator, data.year)
    observed = current_observations(session, [indicator_id])[indicator_id]
    previous = next((o for o in observed if o.year == data.year), None)
    if previous is not None and all(getattr(previous, name) == getattr(data, name) for name in COMPARED):
        return previous, False
    status_before = progress_of(indicator, observed).status
    if previous is not None:
        result = session.execute(
            update(Observation)
            .where(col(Observation.id) == previous.id, col(Observation.superseded_at).is_(None))
            .values(superseded_at=utcnow())
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]  # cannot happen while the indicator is locked
            raise RuntimeError(f"observation {previous.id} was superseded concurrently")
    observation = Observation(
        indicator_id=indicator_id,
        **data.model_dump(include=set(COMPARED) | {"year"}),
        revision=previous.revision + 1 if previous else 1,
        actor=principal.actor,
    )
    session.add(observation)
    session.flush()
    bump_version(session, indicator, indicator.version, {})
    now_observed = [o for o in observed if o.year != data.year] + [observation]
    status_after = progress_of(indicator, sorted(now_observed, key=lambda o: o.year)).status
    before = observation_snapshot(previous) if previous else None
    after = observation_snapshot(observation)
    record_change(
        session,
        indicator,
        kind="correction" if previous else "observation",
        event_type="indicator.observation_recorded",
        before=before,
        after=after,
        principal=principal,
        note=data.note,
        request_id=request_id,
        data={
            "year": data.year,
            "value": after["value"],
            "revision": observation.revision,
            "previous_value": before["value"] if before else None,
            "status": status_after,
            "previous_status": status_before,
        },
    )
    return observation, True


def list_observations(session: Session, indicator_id: int, *, include_history: bool) -> list[Observation]:
    """Current observations by year; with ``include_history`` every revision, oldest first
    within a year."""
    get_indicator(session, indicator_id)
    query = select(Observation).where(col(Observation.indicator_id) == indicator_id)
    if not include_history:
        query = query.where(col(Observation.superseded_at).is_(None))
    return list(session.scalars(query.order_by(col(Observation.year), col(Observation.revision))))
