"""Properties (hypothesis) that the example-based tests do not already state.

- The status machine, driven by random sequences of moves through the service functions
  (``change_status``, PATCH's ``update_project``, progress reports): every stored status
  was reached by allowed transitions only, refused moves change nothing, a final status
  never moves again. Reports add their money exactly and the county split stays exact.
- Progress (``services.indicators.progress``): total (never raises, always a known status,
  both languages), independent of the order of the observations, and the pace status
  agrees with the percentages it shows. (Monotonicity, "achieved only when met" and exact
  cumulative sums are in tests/indicators/test_progress.py.)
- Money (``services.common.money``): the split does not depend on the order of the shares;
  every whole 万元 survives 亿元 text and back. (Exact sums are in tests/test_money.py.)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from services.common.db import make_engine
from services.common.errors import Conflict
from services.common.migrate import upgrade
from services.common.money import largest_remainder_split, yi_to_wan
from services.common.principal import Principal
from services.indicators.progress import (
    IndicatorTarget,
    Observation,
    Status,
    TargetKind,
    compute_progress,
)
from services.projects import service
from services.projects.models import ProjectChange, ProjectShare
from services.projects.reference import COUNTY_CODES, STATUS_ORDER, TRANSITIONS
from services.projects.schemas import ProjectCreate, ProjectUpdate, ReportCreate

ADMIN = Principal("prop-admin", "admin")
FINAL = {status for status, moves in TRANSITIONS.items() if not moves}
STATUSES = list(STATUS_ORDER)
DB_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('props')) / 'projects.db'}"
    upgrade("projects", url)
    engine = make_engine(url, immediate=True)
    yield engine
    engine.dispose()


def _new_project(session: Session, status: str, shares: dict[str, int] | None = None) -> int:
    data = ProjectCreate(
        name="性质测试项目",
        sector="port",
        county="linghai",
        total_investment_wan=10_000,
        start_year=2021,
        end_year=2025,
        status=status,
        county_shares=shares,
    )
    project = service.create_project(session, data, ADMIN)
    session.commit()
    return service.pk(project)


moves = st.lists(
    st.tuples(st.sampled_from(["status", "patch", "report"]), st.sampled_from(STATUSES)),
    min_size=1,
    max_size=12,
)


@DB_SETTINGS
@given(start=st.sampled_from(STATUSES), steps=moves)
def test_status_moves_only_along_the_table_and_finals_never_move(
    engine: Engine, start: str, steps: list[tuple[str, str]]
) -> None:
    """Random sequences of status moves (POST /status, PATCH, reports): only allowed ones
    succeed, refused ones change nothing, a final status never moves again."""
    with Session(engine, expire_on_commit=False) as session:
        project_id = _new_project(session, start)
        expected = start
        for number, (how, target) in enumerate(steps):
            allowed = target == expected or target in TRANSITIONS[expected]
            version = service.get_project(session, project_id).version
            try:
                if how == "status":
                    service.change_status(session, project_id, target, None, version, ADMIN)
                elif how == "patch":
                    service.update_project(session, project_id, ProjectUpdate(status=target), version, ADMIN)
                else:
                    period = f"{2021 + number // 12}-{number % 12 + 1:02d}"
                    report = ReportCreate(period=period, status=target, physical_progress_pct=number)
                    service.submit_report(session, project_id, report, ADMIN)
                session.commit()
            except Conflict:
                session.rollback()
                assert not allowed, f"{expected} -> {target} by {how} was refused"
                assert service.get_project(session, project_id).status == expected
                continue
            assert allowed, f"{expected} -> {target} by {how} was accepted"
            expected = target
            assert service.get_project(session, project_id).status == expected
        walked = [
            change.after["status"]
            for change in session.scalars(
                select(ProjectChange)
                .where(col(ProjectChange.project_id) == project_id)
                .order_by(col(ProjectChange.id))
            )
            if change.after
        ]
        assert walked[0] == start
        for before, after in zip(walked, walked[1:], strict=False):
            assert after == before or after in TRANSITIONS[before], f"history moved {before} -> {after}"
            assert before not in FINAL or after == before, f"final {before} moved to {after}"


@DB_SETTINGS
@given(
    amounts=st.lists(st.integers(0, 10**9), min_size=1, max_size=8),
    shares=st.sampled_from([None, {"heishan": 60, "beizhen": 40}, {"guta": 33, "linghe": 33, "taihe": 34}]),
)
def test_reports_add_their_money_exactly_and_the_county_split_stays_exact(
    engine: Engine, amounts: list[int], shares: dict[str, int] | None
) -> None:
    """Reports with random amounts: completed investment is their exact sum, and the
    per-county shares of it are integers that sum to it."""
    with Session(engine, expire_on_commit=False) as session:
        project_id = _new_project(session, "under_construction", shares)
        for month, amount in enumerate(amounts, start=1):
            report = ReportCreate(
                period=f"2024-{month:02d}", investment_this_period_wan=amount, physical_progress_pct=10
            )
            service.submit_report(session, project_id, report, ADMIN)
            session.commit()
        project = service.get_project(session, project_id)
        assert project.completed_investment_wan == sum(amounts)
        parts = list(session.scalars(select(ProjectShare).where(col(ProjectShare.project_id) == project_id)))
        assert sum(p.completed_investment_wan for p in parts) == sum(amounts)
        assert sum(p.total_investment_wan for p in parts) == project.total_investment_wan
        expected = largest_remainder_split(sum(amounts), shares or {"linghai": 100})
        assert {p.county: p.completed_investment_wan for p in parts if p.pct} == expected


# --------------------------------------------------------------------------- progress

KINDS: tuple[str, ...] = get_args(TargetKind)
STATUS_VALUES: tuple[str, ...] = get_args(Status)
numbers = st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def any_target(draw: st.DrawFn) -> IndicatorTarget:
    """Any target the model accepts, sensible or not (missing numbers, wrong signs …)."""
    period_start = draw(st.integers(2016, 2025))
    period_end = draw(st.integers(period_start, 2030))
    return IndicatorTarget.build(
        direction=draw(st.sampled_from(["increase", "decrease"])),
        target_kind=draw(st.sampled_from(KINDS)),
        target_year=draw(st.integers(period_start, 2030)),
        period_start=period_start,
        period_end=period_end,
        unit="",
        baseline_year=draw(st.none() | st.integers(2010, 2030)),
        baseline_value=draw(st.none() | numbers),
        target_value=draw(st.none() | numbers),
        target_growth_pct=draw(st.none() | st.decimals(min_value=-99, max_value=200, places=1)),
        at_risk_band_pts=draw(st.decimals(min_value=0, max_value=100, places=1)),
    )


observations = st.lists(st.builds(Observation, st.integers(2010, 2035), numbers), max_size=10)


@settings(max_examples=300, deadline=None)
@given(target=any_target(), readings=observations, order=st.randoms(use_true_random=False))
def test_progress_is_total_and_does_not_depend_on_the_order_of_observations(
    target: IndicatorTarget, readings: list[Observation], order: random.Random
) -> None:
    """Any target, any observations: a known status, both explanations, and the same
    answer whatever order the observations come in (years unique)."""
    unique = list({o.year: o for o in readings}.values())
    progress = compute_progress(target, unique)
    assert progress.status in STATUS_VALUES
    assert progress.explanation_zh and progress.explanation_en
    if target.target_kind in ("ratio", "qualitative", "pending"):
        assert progress.status == "not_measurable"
    if progress.expected_pct is not None:
        assert Decimal(0) <= progress.expected_pct <= Decimal(100)
    shuffled = unique[:]
    order.shuffle(shuffled)
    assert compute_progress(target, shuffled) == progress


@st.composite
def paced_target(draw: st.DrawFn) -> IndicatorTarget:
    """A target with a pace: a straight path (absolute, approximately) or a cumulative sum."""
    kind = draw(st.sampled_from(["absolute", "approximately", "cumulative"]))
    direction = "increase" if kind == "cumulative" else draw(st.sampled_from(["increase", "decrease"]))
    baseline = draw(st.decimals(min_value=1, max_value=10**4, places=2))
    step = draw(st.decimals(min_value="0.01", max_value=10**4, places=2))
    return IndicatorTarget.build(
        direction=direction,
        target_kind=kind,
        baseline_year=2020,
        baseline_value=baseline,
        target_year=2025,
        target_value=step
        if kind == "cumulative"
        else baseline + (step if direction == "increase" else -step),
        period_start=2021,
        period_end=2025,
        unit="",
        at_risk_band_pts=draw(st.decimals(min_value=0, max_value=50, places=1)),
    )


@settings(max_examples=300, deadline=None)
@given(
    target=paced_target(),
    readings=st.lists(st.builds(Observation, st.integers(2021, 2025), numbers), min_size=1),
)
def test_pace_status_agrees_with_the_percentages_it_shows(
    target: IndicatorTarget, readings: list[Observation]
) -> None:
    """Not achieved: on_track exactly when progress >= expected; at_risk when behind by
    less than the band; off_track otherwise."""
    progress = compute_progress(target, readings)
    assume(progress.progress_pct is not None and progress.expected_pct is not None)
    assume(progress.status != "achieved")
    assert progress.progress_pct is not None and progress.expected_pct is not None
    behind = progress.expected_pct - progress.progress_pct
    expected_status = (
        "on_track" if behind <= 0 else "at_risk" if behind < target.at_risk_band_pts else "off_track"
    )
    assert progress.status == expected_status


# --------------------------------------------------------------------------- money


@st.composite
def county_shares(draw: st.DrawFn) -> dict[str, int]:
    counties = draw(st.lists(st.sampled_from(sorted(COUNTY_CODES)), min_size=1, max_size=6, unique=True))
    cuts = sorted(
        draw(
            st.lists(st.integers(1, 99), min_size=len(counties) - 1, max_size=len(counties) - 1, unique=True)
        )
    )
    bounds = [0, *cuts, 100]
    return {county: bounds[i + 1] - bounds[i] for i, county in enumerate(counties)}


@given(amount=st.integers(0, 10**13), shares=county_shares(), order=st.randoms(use_true_random=False))
def test_split_does_not_depend_on_the_order_of_the_shares(
    amount: int, shares: dict[str, int], order: random.Random
) -> None:
    """The same shares listed in another order split the money the same way."""
    items = list(shares.items())
    order.shuffle(items)
    assert largest_remainder_split(amount, dict(items)) == largest_remainder_split(amount, shares)


@given(wan=st.integers(0, 10**13), separators=st.booleans())
def test_every_whole_wan_survives_yi_text_and_back(wan: int, separators: bool) -> None:
    """亿元 written as text (with or without thousands separators) converts back to the
    exact 万元."""
    yi = Decimal(wan) / 10_000
    text = f"{yi:,}" if separators else f"{yi}"
    assert yi_to_wan(text) == wan
