"""The columns of the import/export spreadsheet and the header row that names them.

The table of columns (zh and en names, what each cell holds) is documented in
:mod:`services.projects.transfer` and ``IMPORT.md``. Header names are matched after NFKC
normalisation without spaces and case (``总投资(万元)`` = ``总投资（万元）``); a file
without a code column must name every column a new project needs; an unknown or repeated
column is an error naming it. A problem anywhere in the file is a :class:`RowError`
``{row, column, value, message}``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from services.common.errors import FieldError, ValidationFailed
from services.common.i18n import Lang, Msg


@dataclass(frozen=True)
class Column:
    field: str
    zh: str
    en: str
    kind: str = "text"  # text, int, wan, yi, county, sector, status, shares
    aliases: tuple[str, ...] = ()

    def header(self, lang: Lang) -> str:
        return self.en if lang == "en" else self.zh


COLUMNS: tuple[Column, ...] = (
    Column("code", "编码", "code", aliases=("项目编码",)),
    Column("name", "名称", "name", aliases=("项目名称",)),
    Column("name_en", "英文名称", "name_en"),
    Column("county", "区县", "county", "county"),
    Column("sector", "行业", "sector", "sector"),
    Column("status", "状态", "status", "status", aliases=("项目状态",)),
    Column("total_investment_wan", "总投资（万元）", "total_investment_wan", "wan"),
    Column("total_investment_yi", "总投资（亿元）", "total_investment_yi", "yi"),
    Column("completed_investment_wan", "已完成投资（万元）", "completed_investment_wan", "wan"),
    Column("start_year", "开工年份", "start_year", "int"),
    Column("end_year", "完工年份", "end_year", "int"),
    Column("owner_org", "业主单位", "owner_org"),
    Column("zone", "园区", "zone"),
    Column("county_shares", "区县占比", "county_shares", "shares"),
    Column("description", "备注", "description"),
)
BY_FIELD = {c.field: c for c in COLUMNS}
REQUIRED_FOR_CREATE = ("name", "county", "sector", "start_year", "end_year")
TOTALS = ("total_investment_wan", "total_investment_yi")


def normalise_header(text: Any) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text or "")).lstrip("\ufeff").split()).casefold()


HEADER_NAMES: dict[str, Column] = {
    normalise_header(name): column
    for column in COLUMNS
    for name in (column.zh, column.en, column.field, *column.aliases)
}


class RowError(FieldError):
    """A problem in one cell (or row, or header) of the file."""

    def __init__(self, row: int, column: str | None, value: Any, message: Msg) -> None:
        super().__init__(["row", row, *([column] if column else [])], message, _plain(value))
        self.row = row
        self.column = column

    def render(self, lang: Lang) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message.text(lang),
            "loc": self.loc,
        }


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


@dataclass
class Layout:
    """Which column of the file holds which field, and the file's own header texts."""

    header_row: int
    positions: list[tuple[int, Column]]
    headers: dict[str, str]

    def column_name(self, field_name: str | None, lang: Lang) -> str | None:
        if field_name is None:
            return None
        if field_name in self.headers:
            return self.headers[field_name]
        column = BY_FIELD.get(field_name)
        return column.header(lang) if column else field_name


def map_header(row_number: int, cells: Sequence[Any]) -> Layout:
    positions: list[tuple[int, Column]] = []
    headers: dict[str, str] = {}
    errors: list[FieldError] = []
    unknown: list[str] = []
    for index, cell in enumerate(cells):
        text = str(cell).strip() if cell is not None else ""
        if not text:
            continue
        column = HEADER_NAMES.get(normalise_header(text))
        if column is None:
            unknown.append(text)
        elif column.field in headers:
            errors.append(RowError(row_number, text, text, Msg("列重复", "Duplicate column")))
        else:
            positions.append((index, column))
            headers[column.field] = text
    missing: list[Column] = []
    if "code" not in headers:
        needed = {*REQUIRED_FOR_CREATE, *([] if any(t in headers for t in TOTALS) else [TOTALS[0]])}
        missing = [c for c in COLUMNS if c.field in needed and c.field not in headers]
    if unknown or missing or errors:
        accepted_zh = "、".join(c.zh for c in COLUMNS)
        accepted_en = ", ".join(c.en for c in COLUMNS)
        for text in unknown:
            errors.append(RowError(row_number, text, text, Msg("不认识的列", "Unknown column")))
        for column in missing:
            errors.append(RowError(row_number, column.zh, None, Msg("缺少此列", "Missing column")))
        parts_zh, parts_en = [], []
        if unknown:
            parts_zh.append(f"不认识的列：{'、'.join(unknown)}")
            parts_en.append(f"unknown columns: {', '.join(unknown)}")
        if missing:
            parts_zh.append(f"缺少必填列：{'、'.join(c.zh for c in missing)}")
            parts_en.append(f"missing required columns: {', '.join(c.en for c in missing)}")
        raise ValidationFailed(
            Msg(
                "表头有误（" + "；".join(parts_zh or ["列重复"]) + f"）。可用的列：{accepted_zh}",
                "Wrong header ("
                + "; ".join(parts_en or ["duplicate columns"])
                + f"). Accepted: {accepted_en}",
            ),
            errors=errors,
        )
    return Layout(row_number, positions, headers)


def is_blank(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def find_header(rows: Iterator[tuple[int, Sequence[Any]]], look_ahead: int = 10) -> Layout:
    """The first row naming a known column is the header (a title above it is skipped);
    when none of the first non-blank rows does, the first one is reported as the header."""
    first: tuple[int, Sequence[Any]] | None = None
    for seen, (number, cells) in enumerate((r for r in rows if not is_blank(r[1])), start=1):
        first = first or (number, cells)
        if any(normalise_header(c) in HEADER_NAMES for c in cells if c is not None):
            return map_header(number, cells)
        if seen >= look_ahead:
            break
    if first is None:
        raise ValidationFailed(Msg("文件是空的（没有表头）。", "The file is empty (no header row)."))
    return map_header(*first)
