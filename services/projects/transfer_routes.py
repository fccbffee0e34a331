"""HTTP routes of bulk import and export (internal API, mounted at ``/api/v1``).

Thin: receive the upload (size limit), call :mod:`services.projects.transfer`, commit once;
stream exports. ``create_app`` includes this router before the main one, so
``/projects/import`` and ``/projects/export`` are not read as ``/projects/{project_id}``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.types import Message

from services.common.deps import Caller, ReadSession, RequestId, WriteSession, language
from services.common.errors import TooLarge, ValidationFailed
from services.common.http import StrictQuery
from services.common.i18n import Lang, Msg
from services.common.jsonio import JSONBytes
from services.common.principal import Principal
from services.projects import oc4ids, transfer
from services.projects.routes import Filters, _notify
from services.projects.transfer_export import export_rows, export_sheets, header, template_sheets
from services.projects.transfer_files import UnsupportedFileType, csv_chunks, read_rows, xlsx_chunks

router = APIRouter(dependencies=[StrictQuery], tags=["import-export"])
Language = Annotated[Lang, Depends(language)]
MULTIPART_OVERHEAD = 64 * 1024
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            }
        },
    }
}


def too_large(limit: int) -> TooLarge:
    megabytes = f"{limit / 1024 / 1024:g}"
    return TooLarge(
        Msg(
            f"文件超过 {megabytes} MB 的上限，请拆分后分批导入。",
            f"The file is over the {megabytes} MB limit; split it.",
        ),
    )


async def receive_upload(request: Request, limit: int) -> UploadFile:
    """The ``file`` field of a multipart body, refused as soon as the body passes ``limit``
    (declared or actually sent), before it is spooled to disk in full."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedFileType(
            Msg(
                "请以 multipart/form-data 上传，文件放在 file 字段中。",
                "Upload as multipart/form-data with the file in the field 'file'.",
            )
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise too_large(limit)
    received = 0
    receive = request.receive

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit + MULTIPART_OVERHEAD:
            raise too_large(limit)
        return message

    form = await Request(request.scope, limited_receive).form(max_files=1, max_fields=5)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationFailed(Msg("缺少上传的文件（字段 file）。", "No file uploaded (field 'file')."))
    if upload.size is not None and upload.size > limit:
        await upload.close()
        raise too_large(limit)
    return upload


def _run_import(
    upload: UploadFile,
    session: Session,
    principal: Principal,
    *,
    dry_run: bool,
    sheet: str | None,
    lang: Lang,
    request_id: str | None,
) -> transfer.ImportResult:
    # the file name is the client's label, kept as text in the change note: no control
    # characters (a NUL cannot be stored by PostgreSQL), never used as a path
    label = "".join(ch for ch in upload.filename or "" if ch.isprintable()) or "-"
    note = f"批量导入 / import: {label}"[:500]
    rows = read_rows(upload.file, upload.filename, sheet)
    try:
        result = transfer.import_projects(
            session, rows, principal, dry_run=dry_run, lang=lang, request_id=request_id, note=note
        )
        if not dry_run:
            session.commit()
        return result
    finally:
        rows.close()  # release the reader while the upload is still open
        if session.in_transaction():
            session.rollback()  # a dry run, or a failed import: nothing stays


@router.post("/projects/import", openapi_extra=UPLOAD_BODY)
async def import_projects(
    request: Request,
    principal: Caller,
    read_session: ReadSession,
    write_session: WriteSession,
    request_id: RequestId,
    lang: Language,
    dry_run: Annotated[bool, Query(description="只校验，不写入 / validate only")] = False,
    sheet: Annotated[str | None, Query(max_length=100, description="XLSX 工作表名称 / sheet name")] = None,
) -> Response:
    transfer.check_may_import(principal)
    upload = await receive_upload(request, request.app.state.settings.import_max_bytes)
    session = read_session if dry_run else write_session
    try:
        result = await run_in_threadpool(
            _run_import,
            upload,
            session,
            principal,
            dry_run=dry_run,
            sheet=sheet,
            lang=lang,
            request_id=request_id,
        )
    finally:
        await upload.close()
    if not dry_run and (result.created or result.updated):
        _notify(request)
    return JSONBytes(result.render(lang))


def _download(body: object, media_type: str, filename: str) -> StreamingResponse:
    return StreamingResponse(
        body,  # type: ignore[arg-type]
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/projects/import/template")
def import_template(
    _principal: Caller,
    lang: Language,
    template_format: Annotated[Literal["xlsx", "csv"], Query(alias="format")] = "xlsx",
) -> Response:
    if template_format == "csv":
        return _download(csv_chunks(header(lang), []), CSV_TYPE, "projects-import-template.csv")
    return _download(xlsx_chunks(template_sheets(lang)), XLSX_TYPE, "projects-import-template.xlsx")


@router.get("/projects/export")
def export_projects(
    request: Request,
    _principal: Caller,
    filters: Filters,
    lang: Language,
    export_format: Annotated[Literal["csv", "xlsx", "oc4ids"], Query(alias="format")] = "csv",
) -> Response:
    filters.validate()
    engine = request.app.state.db.snapshot_reader  # streamed: a server-side cursor needs a transaction
    stem = f"jinzhou-projects-{date.today().isoformat()}"
    if export_format == "oc4ids":
        package = oc4ids.package_chunks(engine, filters, str(request.url))
        return _download(package, "application/json", f"{stem}.oc4ids.json")
    if export_format == "xlsx":
        rows = export_rows(engine, filters, lang, yi_as_number=True)
        return _download(xlsx_chunks(export_sheets(rows, lang)), XLSX_TYPE, f"{stem}.xlsx")
    return _download(csv_chunks(header(lang), export_rows(engine, filters, lang)), CSV_TYPE, f"{stem}.csv")
