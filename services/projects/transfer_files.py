"""Spreadsheet files in and out of the projects service: what an upload is, its rows as a
stream, and rows written back as CSV or XLSX. No domain rules here (see ``transfer``).

Reading an upload (:func:`read_rows`):

- The type comes from the content, not the name: a ZIP holding ``xl/workbook.xml`` is
  XLSX; other ZIPs (.docx …), Excel 97-2003 ``.xls``, PDF, images and other binary files
  are 415. A damaged or truncated XLSX (or a file named ``.xlsx`` that is not one) is 422
  "not a valid XLSX". Everything else is read as CSV.
- CSV encoding: a BOM decides (UTF-8 or UTF-16); otherwise the whole file is checked as
  UTF-8 and, failing that, as GB18030 (a superset of GBK/GB2312, what Chinese Excel
  saves). The delimiter is a comma, or a tab or semicolon when the first line has those
  and no comma.
- XLSX: the first sheet, or the one named by ``sheet`` (422 naming the sheets there are),
  read with ``read_only=True`` so rows stream from the file.
- Rows come out one at a time as ``(row number, cells)``; the number is the one a person
  sees in a spreadsheet (the first line is row 1), blank rows included in the count.

Writing (:func:`csv_chunks`, :func:`xlsx_chunks`) yields bytes for a streamed response.
CSV is UTF-8 with a BOM (so Excel shows the Chinese right); a text cell starting with
``= + - @`` is written with a leading ``'`` so a spreadsheet does not run it as a formula
(the import removes that quote again). XLSX text cells are always stored as text.
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
import zipfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import IO, Any

from services.common.errors import DomainError, ValidationFailed
from services.common.i18n import Msg

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
BINARY_MAGIC: dict[bytes, str] = {
    b"\xd0\xcf\x11\xe0": "Excel 97-2003 (.xls) / OLE",
    b"%PDF": "PDF",
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
    b"\x1f\x8b": "gzip",
    b"Rar!": "RAR",
    b"7z\xbc\xaf": "7z",
}
FORMULA_START = ("=", "+", "-", "@")
CHUNK = 1 << 20
Rows = Generator[tuple[int, Sequence[Any]], None, None]


class UnsupportedFileType(DomainError):
    status = 415


def _unsupported(kind: str) -> UnsupportedFileType:
    return UnsupportedFileType(
        Msg(
            f"不支持的文件类型（{kind}）。请上传 CSV 或 XLSX（Excel 2007 及以后）文件。",
            f"Unsupported file type ({kind}). Upload a CSV or an XLSX (Excel 2007 or later) file.",
        )
    )


def not_valid_xlsx() -> ValidationFailed:
    return ValidationFailed(
        Msg(
            "不是有效的 XLSX 文件（文件已损坏或不完整），请在 Excel 中重新保存后再上传。",
            "Not a valid XLSX file (damaged or truncated); save it again in Excel and re-upload.",
        )
    )


def empty_file() -> ValidationFailed:
    return ValidationFailed(Msg("文件是空的。", "The file is empty."))


def read_rows(file: IO[bytes], filename: str | None, sheet: str | None = None) -> Rows:
    """The rows of an uploaded CSV or XLSX, numbered as a spreadsheet shows them."""
    file.seek(0)
    head = file.read(8192)
    file.seek(0)
    if not head:
        raise empty_file()
    name = (filename or "").lower()
    if head.startswith(ZIP_MAGIC):
        return _xlsx_rows(file, sheet)
    if name.endswith((".xlsx", ".xlsm")):
        raise not_valid_xlsx()
    for magic, kind in BINARY_MAGIC.items():
        if head.startswith(magic):
            raise _unsupported(kind)
    if sheet:
        raise ValidationFailed(
            Msg("CSV 文件没有工作表，请去掉 sheet 参数。", "A CSV file has no sheets; leave out `sheet`."),
        )
    return _csv_rows(file, head)


# --------------------------------------------------------------------------- CSV


def _csv_encoding(file: IO[bytes], head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise _unsupported("binary")
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := file.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
        finally:
            file.seek(0)
    raise ValidationFailed(
        Msg(
            "无法识别文件的文字编码，请另存为“CSV UTF-8”后再上传。",
            "Cannot tell the text encoding of the file; save it as 'CSV UTF-8' and re-upload.",
        )
    )


def _delimiter(first_line: str) -> str:
    return next((d for d in (",", "\t", ";") if d in first_line), ",")


def _csv_rows(file: IO[bytes], head: bytes) -> Rows:
    encoding = _csv_encoding(file, head)
    text = io.TextIOWrapper(file, encoding=encoding, newline="")  # type: ignore[type-var]
    try:
        first_line = text.readline()
        text.seek(0)
        reader = csv.reader(text, delimiter=_delimiter(first_line))
        try:
            for number, row in enumerate(reader, start=1):
                if any("\x00" in cell for cell in row):  # PostgreSQL cannot hold one; SQLite cuts text at it
                    raise ValidationFailed(
                        Msg(
                            f"第 {number} 行含有 NUL 字符（0x00）。",
                            f"Row {number} contains a NUL character (0x00).",
                        ),
                    )
                yield number, row
        except csv.Error as exc:
            raise ValidationFailed(
                Msg(f"CSV 格式有误：{exc}", f"Malformed CSV: {exc}"),
            ) from exc
    finally:
        text.detach()  # the upload closes its own file


# --------------------------------------------------------------------------- XLSX


def _xlsx_rows(file: IO[bytes], sheet: str | None) -> Rows:
    import openpyxl

    try:
        names = set(zipfile.ZipFile(file).namelist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise not_valid_xlsx() from exc
    if "xl/workbook.xml" not in names:
        raise _unsupported("ZIP / Word / PowerPoint")
    file.seek(0)
    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except DomainError:
        raise
    except Exception as exc:  # openpyxl fails in many ways on a damaged file
        raise not_valid_xlsx() from exc
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            listed = "、".join(workbook.sheetnames)
            raise ValidationFailed(
                Msg(
                    f"没有名为“{sheet}”的工作表，可选：{listed}",
                    f"No sheet named '{sheet}'; the sheets are: {', '.join(workbook.sheetnames)}",
                )
            )
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        if hasattr(worksheet, "reset_dimensions"):
            worksheet.reset_dimensions()  # some writers store a wrong size; read to the end
        try:
            yield from enumerate(worksheet.iter_rows(values_only=True), start=1)
        except DomainError:
            raise
        except Exception as exc:
            raise not_valid_xlsx() from exc
    finally:
        workbook.close()


# --------------------------------------------------------------------------- writing


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]], batch: int = 1000) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for count, row in enumerate(rows, start=1):
        writer.writerow([_csv_cell(v) for v in row])
        if count % batch == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


Sheet = tuple[str, Sequence[str], Iterable[Sequence[Any]], Sequence[int]]  # title, header, rows, widths


def xlsx_chunks(sheets: Sequence[Sheet]) -> Iterator[bytes]:
    """Write the sheets to a temporary file (XLSX is a ZIP: it cannot be streamed while it
    is being written), then stream that file."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook(write_only=True)
    for title, header, rows, widths in sheets:
        worksheet = workbook.create_sheet(title)
        for index, width in enumerate(widths):
            worksheet.column_dimensions[openpyxl.utils.get_column_letter(index + 1)].width = width
        worksheet.freeze_panes = "A2"
        bold = []
        for name in header:
            cell = WriteOnlyCell(worksheet, value=name)
            cell.font = Font(bold=True)
            bold.append(cell)
        worksheet.append(bold)
        for row in rows:
            cells = []
            for value in row:
                if isinstance(value, str):
                    cell = WriteOnlyCell(worksheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
                    cell.data_type = "s"  # text stays text, even when it starts with '='
                else:
                    cell = WriteOnlyCell(worksheet, value=value)
                cells.append(cell)
            worksheet.append(cells)
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(CHUNK):
            yield chunk
