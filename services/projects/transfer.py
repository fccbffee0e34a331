"""Bulk import of projects from a spreadsheet: columns, cells, rows, and one transaction.

Columns (header: the first row naming a known column, so a title row above it is fine;
zh or en names, any order, case and full-/half-width brackets ignored):

=====================  =========================  ==============================================
zh                     en                         cell
=====================  =========================  ==============================================
编码                   code                       empty: a new project (code generated)
名称 *                 name
英文名称               name_en
区县 *                 county                     code (heishan) or name (黑山县)
行业 *                 sector                     level-2 code (port) or name (港口)
状态                   status                     code (under_construction) or 储备 前期 在建 停缓建 竣工 取消
总投资（万元） *       total_investment_wan       whole 万元
总投资（亿元）         total_investment_yi        亿元, converted exactly (``money.yi_to_wan``)
已完成投资（万元）     completed_investment_wan   whole 万元
开工年份 *, 完工年份 * start_year, end_year       years
业主单位, 园区, 备注   owner_org, zone, description
区县占比               county_shares              ``heishan:60;beizhen:40`` (codes or names)
=====================  =========================  ==============================================

``*`` required columns: a file without a 编码/code column must have them (one of the two
总投资 columns); a file with codes may carry only the columns it changes. When both total
columns are filled, the 亿元 one must agree with the 万元 one (exports have both).

Rows: a code of an existing project updates it through exactly PATCH's rules
(``service.plan_update``: county scope, status transitions, required fields, years);
a row equal to the stored project is "unchanged" (no write, no event). A missing code, or
a code not in the library, creates a project through POST's rules (``ProjectCreate``,
``service.new_project_values``, county scope). A column left out is not touched; an empty
cell clears an optional field, keeps the status and completed investment, and is an error
for a required field. A code may appear once per file.

All or nothing: problems are collected per cell as ``{row, column, value, message}`` (row
as the spreadsheet shows it). A dry run reports them with the counts; a real import with
any problem writes nothing (422). Otherwise every row is applied in one transaction,
streamed in chunks: bulk lookups of the chunk's codes (locked on PostgreSQL), bulk inserts
of projects, shares, audit rows, outbox events and the rollup cells' deltas.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from services.common.errors import (
    DomainError,
    Forbidden,
    ValidationFailed,
    field_errors_from_pydantic,
)
from services.common.i18n import Lang, Msg
from services.common.principal import Principal
from services.projects import service
from services.projects.schemas import ProjectCreate, ProjectUpdate
from services.projects.transfer_apply import (
    BULK_MODE,
    BulkWriter,
    load_existing,
    snapshot_of,
)
from services.projects.transfer_cells import CellError, parse_cell
from services.projects.transfer_columns import Layout, RowError, find_header, is_blank

CHUNK_ROWS = 1000
MAX_REPORTED_ERRORS = 1000
KEEP_WHEN_EMPTY = ("status", "completed_investment_wan")  # have defaults; empty keeps them


@dataclass
class ImportResult:
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)

    def add(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)

    def counts(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "error_count": self.error_count,
        }

    def render(self, lang: Lang) -> dict[str, Any]:
        return {**self.counts(), "errors": [e.render(lang) for e in self.errors]}


def check_may_import(principal: Principal) -> None:
    """Viewers never write; managers import rows of their counties (checked per row)."""
    if principal.role == "viewer":
        raise Forbidden(Msg("只读用户不能导入项目。", "Viewers cannot import projects."))


def import_projects(
    session: Session,
    rows: Iterator[tuple[int, Sequence[Any]]],
    principal: Principal,
    *,
    dry_run: bool,
    lang: Lang,
    request_id: str | None = None,
    note: str | None = None,
) -> ImportResult:
    """Validate (and unless ``dry_run`` apply) every row; raises 422 on a real import with
    problems, after which the caller rolls the transaction back."""
    check_may_import(principal)
    with BULK_MODE.on():
        return _import(session, rows, principal, dry_run=dry_run, lang=lang, request_id=request_id, note=note)


def _import(
    session: Session,
    rows: Iterator[tuple[int, Sequence[Any]]],
    principal: Principal,
    *,
    dry_run: bool,
    lang: Lang,
    request_id: str | None,
    note: str | None,
) -> ImportResult:
    layout = find_header(rows)
    result = ImportResult(dry_run=dry_run)
    writer = None if dry_run else BulkWriter(session, principal, request_id, note)
    try:
        _check_and_write(session, rows, layout, principal, result, writer, lang)
        if not result.rows:
            raise ValidationFailed(
                Msg("文件中没有数据行（只有表头）。", "The file has no rows (only the header).")
            )
        if result.error_count and not dry_run:
            raise ValidationFailed(
                Msg(
                    f"导入未执行：发现 {result.error_count} 处错误，没有写入任何数据。请修改后重新导入。",
                    f"Nothing was imported: {result.error_count} problem(s) found, nothing written. "
                    "Correct them and import again.",
                ),
                errors=list(result.errors),
                extra=result.counts(),
            )
        if writer is not None:
            writer.finish()
    finally:
        if writer is not None:
            writer.close()
    return result


def _check_and_write(
    session: Session,
    rows: Iterator[tuple[int, Sequence[Any]]],
    layout: Layout,
    principal: Principal,
    result: ImportResult,
    writer: BulkWriter | None,
    lang: Lang,
) -> None:
    """Chunk by chunk: parse, look up (the stored projects of its codes), check and plan,
    write. The write of a chunk overlaps the next chunk's parsing and checking: chunk k is
    parsed while chunk k - 1 is prepared, looked up once chunk k - 2's write is done, and
    checked while chunk k - 1's write runs. Nothing is written once a problem is found."""
    seen: dict[str, int] = {}
    planned: _Planned | None = None
    for chunk in _chunks(rows, result):
        parsed = _parse_chunk(chunk, layout, seen, result)
        batch = writer.prepare(*planned) if writer and planned and not result.error_count else None
        if writer is not None:
            writer.wait()  # the session is ours again
        looked_up = _look_up(session, parsed, writer)
        if writer is not None and batch is not None:
            writer.start(batch)
        planned = _plan_chunk(looked_up, layout, principal, result, lang)
    if writer is not None and planned is not None and not result.error_count:
        writer.start(writer.prepare(*planned))


def _chunks(
    rows: Iterator[tuple[int, Sequence[Any]]], result: ImportResult
) -> Iterator[list[tuple[int, Sequence[Any]]]]:
    """The non-blank rows, ``CHUNK_ROWS`` at a time (counted in ``result.rows``)."""
    chunk: list[tuple[int, Sequence[Any]]] = []
    for number, cells in rows:
        if is_blank(cells):
            continue
        result.rows += 1
        chunk.append((number, cells))
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class ParsedRow:
    number: int
    fields: dict[str, Any]
    raw: dict[str, Any]
    bad: set[str]


def _parse_row(number: int, cells: Sequence[Any], layout: Layout, result: ImportResult) -> ParsedRow:
    parsed = ParsedRow(number, {}, {}, set())
    for index, column in layout.positions:
        value = cells[index] if index < len(cells) else None
        parsed.raw[column.field] = value
        try:
            parsed.fields[column.field] = parse_cell(column.kind, value)
        except CellError as exc:
            parsed.bad.add(column.field)
            result.add(RowError(number, layout.headers[column.field], value, exc.message))
    yi = parsed.fields.pop("total_investment_yi", None)
    if yi is not None:
        wan = parsed.fields.get("total_investment_wan")
        if wan is None and "total_investment_wan" not in parsed.bad:
            parsed.fields["total_investment_wan"] = yi
        elif wan is not None and wan != yi:
            parsed.bad.add("total_investment_yi")
            result.add(
                RowError(
                    number,
                    layout.headers["total_investment_yi"],
                    parsed.raw["total_investment_yi"],
                    Msg(
                        f"与总投资（万元）{wan} 不一致（{yi} 万元）",
                        f"Does not agree with total_investment_wan {wan} ({yi} 万元)",
                    ),
                )
            )
    if "total_investment_yi" in parsed.bad:
        parsed.bad.add("total_investment_wan")  # reported once, on the 亿元 cell
    return parsed


def _validated(
    model: type[BaseModel], parsed: ParsedRow, layout: Layout, result: ImportResult, lang: Lang
) -> Any:
    """The row as ``model``; reports schema problems of the cells that parsed."""
    try:
        return model.model_validate(parsed.fields)
    except ValidationError as exc:
        for error in field_errors_from_pydantic([dict(e) for e in exc.errors()]):
            name = str(error.loc[0]) if error.loc else None
            if name in parsed.bad:
                continue
            column = layout.column_name(name, lang)
            result.add(RowError(parsed.number, column, parsed.raw.get(name or ""), error.message))
        return None


def _domain_error(
    parsed: ParsedRow, exc: DomainError, layout: Layout, result: ImportResult, lang: Lang
) -> None:
    name: str | None = None
    if exc.errors and exc.errors[0].loc:
        name = str(exc.errors[0].loc[-1])
    elif exc.status == 403:
        name = "county"
    elif exc.status == 409:
        name = "status"
    result.add(
        RowError(parsed.number, layout.column_name(name, lang), parsed.raw.get(name or ""), exc.detail)
    )


def _parse_chunk(
    chunk: list[tuple[int, Sequence[Any]]], layout: Layout, seen: dict[str, int], result: ImportResult
) -> list[ParsedRow]:
    """The chunk's rows parsed cell by cell; a code seen before in the file is an error."""
    parsed_rows: list[ParsedRow] = []
    for number, cells in chunk:
        parsed = _parse_row(number, cells, layout, result)
        code = parsed.fields.get("code")
        if code is not None:
            if code in seen:
                result.add(
                    RowError(
                        number,
                        layout.headers["code"],
                        code,
                        Msg(
                            f"编码 {code} 在第 {seen[code]} 行已出现",
                            f"Code {code} already appears in row {seen[code]}",
                        ),
                    )
                )
                continue
            seen[code] = number
        parsed_rows.append(parsed)
    return parsed_rows


@dataclass
class _LookedUp:
    rows: list[ParsedRow]
    existing: dict[str, dict[str, Any]]
    ids: list[int]  # reserved for the rows that create a project (none in a dry run)


#: a chunk checked and planned: (creates, updates, ids), ``BulkWriter.prepare``'s arguments
_Planned = tuple[list[dict[str, Any]], list[tuple[dict[str, Any], dict[str, Any]]], list[int]]


def _look_up(session: Session, parsed_rows: list[ParsedRow], writer: BulkWriter | None) -> _LookedUp:
    """The stored projects of the chunk's codes (locked when the import writes), and ids for
    every row that will create one."""
    codes = [p.fields["code"] for p in parsed_rows if p.fields.get("code")]
    existing = load_existing(session, codes, lock=writer is not None)
    ids: list[int] = []
    if writer is not None:
        new = sum(1 for p in parsed_rows if (p.fields.get("code") or "") not in existing)
        ids = writer.reserve_ids(new)
    return _LookedUp(parsed_rows, existing, ids)


def _plan_chunk(
    chunk: _LookedUp, layout: Layout, principal: Principal, result: ImportResult, lang: Lang
) -> _Planned:
    """Each row checked by POST's or PATCH's rules: what to create, what to update."""
    creates: list[dict[str, Any]] = []
    updates: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for parsed in chunk.rows:
        for name in KEEP_WHEN_EMPTY:
            if parsed.fields.get(name, 0) is None:
                del parsed.fields[name]
        current = chunk.existing.get(parsed.fields.get("code") or "")
        if current is None:
            parsed.fields = {k: v for k, v in parsed.fields.items() if v is not None}
            data = _validated(ProjectCreate, parsed, layout, result, lang)
            if data is None or parsed.bad:
                continue
            try:
                service.check_may_write(principal, data.county)
            except DomainError as exc:
                _domain_error(parsed, exc, layout, result, lang)
                continue
            creates.append(service.new_project_values(data))
            result.created += 1
            continue
        code = parsed.fields.pop("code")
        if current["deleted_at"] is not None:
            message = Msg(
                f"项目 {code} 已删除，不能通过导入修改", f"Project {code} was deleted; it cannot be imported"
            )
            result.add(RowError(parsed.number, layout.headers["code"], code, message))
            continue
        changes = _validated(ProjectUpdate, parsed, layout, result, lang)
        if changes is None or parsed.bad:
            continue
        try:
            values = service.plan_update(
                snapshot_of(current), changes.model_dump(exclude_unset=True), principal
            )
        except DomainError as exc:
            _domain_error(parsed, exc, layout, result, lang)
            continue
        if values:
            updates.append((current, values))
            result.updated += 1
        else:
            result.unchanged += 1
    return creates, updates, chunk.ids
