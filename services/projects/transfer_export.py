"""Exports and the import template: the import's columns, written so they read back as is.

- The columns and their order are the template's (``transfer.COLUMNS``), so an export can
  be edited and imported again; importing it unedited changes nothing.
- Money in 万元; ``总投资（亿元）`` is there for reading (exact: 49000 万元 → 4.9), and the
  import checks it against the 万元 column.
- Headers in zh by default, en with ``Accept-Language: en``; county, sector and status as
  zh names in zh and as codes in en (the import reads both).
- Rows stream from the database in id order (server-side cursor), never all in memory.
- The template is the header alone (sheet 1) and, in XLSX, the valid codes of counties,
  sectors (with their groups) and statuses in zh and en (sheet 2).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session

from services.common.i18n import Lang
from services.common.money import WAN_PER_YI
from services.projects.reference import COUNTIES, SECTOR_GROUPS, SECTORS, STATUSES
from services.projects.service import ProjectFilters
from services.projects.transfer_apply import PROJECT
from services.projects.transfer_cells import format_cell, wan_to_yi_text
from services.projects.transfer_columns import COLUMNS
from services.projects.transfer_files import Sheet

WIDTHS = [14, 36, 24, 10, 16, 10, 14, 14, 16, 10, 10, 24, 20, 24, 40]
YI_INDEX = [c.field for c in COLUMNS].index("total_investment_yi")
SHEET_TITLES = {"zh": ("项目", "代码表"), "en": ("projects", "codes")}


def header(lang: Lang) -> list[str]:
    return [column.header(lang) for column in COLUMNS]


def project_cells(row: Mapping[Any, Any], lang: Lang, *, yi_as_number: bool = False) -> list[Any]:
    cells: list[Any] = []
    for column in COLUMNS:
        if column.field == "total_investment_yi":
            wan = row["total_investment_wan"]
            cells.append(float(Decimal(wan) / WAN_PER_YI) if yi_as_number else wan_to_yi_text(wan))
        else:
            cells.append(format_cell(column.kind, row[column.field], lang))
    return cells


def export_rows(
    engine: Engine, filters: ProjectFilters, lang: Lang, *, yi_as_number: bool = False
) -> Iterator[list[Any]]:
    """The filtered library, row by row (the filters are validated by the caller)."""
    query = select(PROJECT).where(*filters.clauses()).order_by(PROJECT.c.id).execution_options(yield_per=1000)
    with Session(engine) as session:
        for row in session.execute(query).mappings():
            yield project_cells(row, lang, yi_as_number=yi_as_number)


def export_sheets(rows: Iterator[list[Any]], lang: Lang) -> list[Sheet]:
    return [(SHEET_TITLES[lang][0], header(lang), rows, WIDTHS)]


def template_sheets(lang: Lang) -> list[Sheet]:
    codes_header = (
        ["kind", "code", "zh", "en", "group"]
        if lang == "en"
        else ["类别", "代码", "中文名称", "英文名称", "所属大类"]
    )
    no_rows: Sequence[Sequence[Any]] = []
    return [
        (SHEET_TITLES[lang][0], header(lang), no_rows, WIDTHS),
        (SHEET_TITLES[lang][1], codes_header, reference_rows(lang), [14, 22, 20, 34, 16]),
    ]


def reference_rows(lang: Lang) -> Iterator[list[Any]]:
    """The valid codes: kind, code, zh name, en name, group (for level-2 sectors)."""
    kinds = {
        "county": ("区县", "county"),
        "sector_group": ("行业大类", "sector group"),
        "sector": ("行业", "sector"),
        "status": ("状态", "status"),
    }

    def kind(name: str) -> str:
        return kinds[name][1] if lang == "en" else kinds[name][0]

    for county in COUNTIES:
        yield [kind("county"), county.code, county.zh, county.en, None]
    for group in SECTOR_GROUPS:
        yield [kind("sector_group"), group.code, group.zh, group.en, None]
        for sector in SECTORS:
            if sector.group == group.code:
                yield [kind("sector"), sector.code, sector.zh, sector.en, group.code]
    for status in STATUSES:
        yield [kind("status"), status.code, status.zh, status.en, None]
