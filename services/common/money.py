"""Money arithmetic: integer 万元 everywhere, exact conversions, exact splits.

- 1 亿元 = 10,000 万元. Conversions from decimal texts go through ``Decimal`` and refuse
  anything that is not a whole number of 万元.
- :func:`largest_remainder_split` divides an integer amount by whole percentages so the
  parts are integers that sum exactly to the amount (Hamilton's method; ties go to the
  larger share, then to the code in alphabetical order, so the result is deterministic).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

WAN_PER_YI = 10_000


def yi_to_wan(value: Decimal | str | int) -> int:
    """亿元 to integer 万元; raises ValueError when the result is not a whole 万元."""
    try:
        amount = Decimal(str(value).strip().replace(",", "")) * WAN_PER_YI
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if amount != amount.to_integral_value():
        raise ValueError(f"{value} 亿元 is not a whole number of 万元")
    return int(amount)


def largest_remainder_split(amount: int, shares: dict[str, int]) -> dict[str, int]:
    """Split ``amount`` by percentage ``shares`` (summing to 100) into integer parts."""
    total_pct = sum(shares.values())
    if total_pct <= 0:
        raise ValueError("shares must be positive")
    floors: dict[str, int] = {}
    remainders: list[tuple[int, int, str]] = []
    for key, pct in shares.items():
        quotient, remainder = divmod(amount * pct, total_pct)
        floors[key] = quotient
        remainders.append((remainder, pct, key))
    leftover = amount - sum(floors.values())
    for _remainder, _pct, key in sorted(remainders, key=lambda r: (-r[0], -r[1], r[2]))[:leftover]:
        floors[key] += 1
    return floors
