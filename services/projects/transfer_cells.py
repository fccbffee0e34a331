"""Spreadsheet cells of a project, both ways: :func:`parse_cell` reads what a person typed
(or what an export wrote), :func:`format_cell` writes what an import reads back unchanged.

- Text: trimmed; empty is "no value". A leading ``'`` before ``= + - @`` (the formula
  guard of CSV exports) is removed.
- Whole numbers (万元, years): ``12,000``, ``12000.0`` and Excel numbers are fine;
  a text or a fraction is an error naming the value.
- 亿元: converted exactly with ``money.yi_to_wan`` (at most four decimals: whole 万元).
- County, sector, status: the code, the zh name or the en name (case, spaces and ``-``
  ignored), e.g. ``heishan`` / ``黑山县``, ``port`` / ``港口``, ``under_construction`` /
  ``在建``. Exports write zh names in zh and codes in en.
- County shares: ``heishan:60;beizhen:40`` (also ``：`` ``；`` ``,`` ``%`` and county
  names); the sum and the range are checked by the same rule as the API (``check_shares``).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from services.common.i18n import Lang, Msg
from services.common.money import WAN_PER_YI, yi_to_wan
from services.projects.reference import COUNTIES, SECTORS, STATUSES, Code

FORMULA_GUARD = ("'=", "'+", "'-", "'@")
SHARE_SPLIT = re.compile(r"[;；,，、\n]+")
SHARE_PAIR = re.compile(r"^(.+?)\s*[:：=]\s*(\d+)\s*[%％]?$")


class CellError(ValueError):
    def __init__(self, message: Msg) -> None:
        super().__init__(message.en)
        self.message = message


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold().replace(" ", "_").replace("-", "_")


def _lookup(codes: tuple[Code, ...]) -> dict[str, str]:
    table: dict[str, str] = {}
    for item in codes:
        for name in (item.code, item.zh, item.en):
            table[_key(name)] = item.code
    return table


COUNTY_BY_NAME = _lookup(COUNTIES)
SECTOR_BY_NAME = _lookup(SECTORS)
STATUS_BY_NAME = _lookup(STATUSES)
ZH_NAME = {item.code: item.zh for item in (*COUNTIES, *SECTORS, *STATUSES)}


def text_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text.startswith(FORMULA_GUARD):
        text = text[1:]
    return text or None


def whole_number(value: Any, zh: str, en: str) -> int | None:
    if isinstance(value, bool):
        raise CellError(Msg(f"应为{zh}，收到“{value}”", f"Must be {en}; got '{value}'"))
    if isinstance(value, int):
        return value
    text = text_value(value)
    if text is None:
        return None
    try:
        number = Decimal(text.replace(",", "").replace("，", "").replace(" ", ""))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number != number.to_integral_value():
        raise CellError(Msg(f"应为{zh}，收到“{text}”", f"Must be {en}; got '{text}'"))
    return int(number)


def yi_value(value: Any) -> int | None:
    text = text_value(value)
    if text is None:
        return None
    try:
        return yi_to_wan(text)
    except ValueError:
        raise CellError(
            Msg(
                f"应为亿元数额（最多四位小数，即整万元），收到“{text}”",
                f"Must be an amount in 亿元 with at most 4 decimals (whole 万元); got '{text}'",
            )
        ) from None


def code_value(value: Any, table: dict[str, str], zh: str, en: str, listed: str) -> str | None:
    text = text_value(value)
    if text is None:
        return None
    code = table.get(_key(text))
    if code is None:
        raise CellError(
            Msg(f"{zh}“{text}”不存在，可选：{listed}", f"Unknown {en} '{text}'; allowed: {listed}")
        )
    return code


COUNTY_LIST = ", ".join(f"{c.code}/{c.zh}" for c in COUNTIES)
SECTOR_LIST = ", ".join(s.code for s in SECTORS)
STATUS_LIST = ", ".join(f"{s.code}/{s.zh}" for s in STATUSES)


def shares_value(value: Any) -> dict[str, int] | None:
    text = text_value(value)
    if text is None:
        return None
    shares: dict[str, int] = {}
    for part in SHARE_SPLIT.split(text):
        if not part.strip():
            continue
        match = SHARE_PAIR.match(part.strip())
        if match is None:
            raise CellError(
                Msg(
                    f"区县占比应写成 heishan:60;beizhen:40，收到“{text}”",
                    f"County shares must look like heishan:60;beizhen:40; got '{text}'",
                )
            )
        county = code_value(match.group(1), COUNTY_BY_NAME, "区县", "county", COUNTY_LIST)
        assert county is not None
        if county in shares:
            raise CellError(Msg(f"区县 {county} 出现了两次", f"County {county} appears twice"))
        shares[county] = int(match.group(2))
    return shares or None


def parse_cell(kind: str, value: Any) -> Any:
    """The field value of one cell of a column of ``kind``; None when empty."""
    if kind == "wan":
        return whole_number(value, "整数万元", "a whole number of 万元 (10,000 yuan)")
    if kind == "int":
        return whole_number(value, "年份（整数）", "a year (whole number)")
    if kind == "yi":
        return yi_value(value)
    if kind == "county":
        return code_value(value, COUNTY_BY_NAME, "区县", "county", COUNTY_LIST)
    if kind == "sector":
        return code_value(value, SECTOR_BY_NAME, "行业", "sector", SECTOR_LIST)
    if kind == "status":
        return code_value(value, STATUS_BY_NAME, "状态", "status", STATUS_LIST)
    if kind == "shares":
        return shares_value(value)
    return text_value(value)


def wan_to_yi_text(wan: int) -> str:
    """Exact 亿元 for reading: 49000 → "4.9", 10000 → "1", 0 → "0"."""
    yi = (Decimal(wan) / WAN_PER_YI).normalize()
    return format(yi, "f")


def format_cell(kind: str, value: Any, lang: Lang) -> Any:
    """What an export writes for ``value`` (read back by :func:`parse_cell` as ``value``)."""
    if value is None:
        return None
    if kind in ("county", "sector", "status"):
        return ZH_NAME.get(value, value) if lang == "zh" else value
    if kind == "shares":
        return ";".join(f"{county}:{pct}" for county, pct in value.items())
    return value
