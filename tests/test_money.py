"""Money arithmetic: exact conversion and the largest-remainder split (properties)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.money import largest_remainder_split, yi_to_wan


@pytest.mark.parametrize(
    ("yi", "wan"), [("4.9", 49000), ("0.07", 700), ("1.45", 14500), ("3563", 35630000), ("0.0001", 1)]
)
def test_yi_to_wan_is_exact(yi: str, wan: int) -> None:
    assert yi_to_wan(yi) == wan


def test_yi_to_wan_refuses_fractions_of_wan() -> None:
    with pytest.raises(ValueError):
        yi_to_wan("0.00001")
    with pytest.raises(ValueError):
        yi_to_wan("abc")


@st.composite
def shares(draw: st.DrawFn) -> dict[str, int]:
    count = draw(st.integers(1, 9))
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=count - 1, max_size=count - 1, unique=True)))
    bounds = [0, *cuts, 100]
    return {f"c{i}": bounds[i + 1] - bounds[i] for i in range(count)}


@given(amount=st.integers(0, 10**13), split=shares())
def test_split_parts_are_integers_that_sum_exactly(amount: int, split: dict[str, int]) -> None:
    parts = largest_remainder_split(amount, split)
    assert sum(parts.values()) == amount
    for key, pct in split.items():
        exact = Decimal(amount) * pct / 100
        assert abs(parts[key] - exact) < 1  # each part is its exact share rounded down or up


def test_split_is_deterministic_on_ties() -> None:
    assert largest_remainder_split(1, {"b": 50, "a": 50}) == {"a": 1, "b": 0}
    assert largest_remainder_split(100, {"x": 33, "y": 33, "z": 34}) == {"x": 33, "y": 33, "z": 34}
