"""Domain errors and their one mapping to RFC 9457 problem details.

Services raise :class:`DomainError` subclasses (they know nothing about HTTP beyond the
status each kind means); :func:`install_error_handlers` turns them, request validation
errors and anything unexpected into ``application/problem+json`` bodies
``{type, title, status, detail, instance, errors?}`` in the request's language.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.i18n import Lang, Msg, negotiate
from services.common.jsonio import dumps

log = logging.getLogger("portfolio.errors")

PROBLEM_TYPE_BASE = "https://jinzhou-portfolio.example/problems/"

TITLES: dict[int, Msg] = {
    400: Msg("请求有误", "Bad request"),
    401: Msg("需要登录", "Authentication required"),
    403: Msg("无权执行此操作", "Forbidden"),
    404: Msg("未找到", "Not found"),
    405: Msg("不支持的请求方法", "Method not allowed"),
    409: Msg("与当前状态冲突", "Conflict"),
    412: Msg("数据已被他人修改", "Precondition failed"),
    413: Msg("请求内容过大", "Content too large"),
    415: Msg("不支持的内容类型", "Unsupported media type"),
    422: Msg("输入有误", "Invalid input"),
    428: Msg("缺少 If-Match 请求头", "Precondition required"),
    429: Msg("请求过于频繁", "Too many requests"),
    500: Msg("服务器内部错误", "Internal server error"),
    502: Msg("上游服务应答异常", "Bad gateway"),
    503: Msg("服务暂不可用", "Service unavailable"),
    504: Msg("上游服务超时", "Gateway timeout"),
}

SLUGS: dict[int, str] = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    413: "too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal-error",
    502: "bad-gateway",
    503: "service-unavailable",
    504: "gateway-timeout",
}


class FieldError:
    """One problem with one input field: where (``loc``) and what, in both languages."""

    def __init__(self, loc: list[str | int], message: Msg, value: Any = None) -> None:
        self.loc = loc
        self.message = message
        self.value = value

    def render(self, lang: Lang) -> dict[str, Any]:
        return {"loc": self.loc, "message": self.message.text(lang)}


class DomainError(Exception):
    status: int = 400

    def __init__(
        self,
        detail: Msg,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail.en)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(DomainError):
    status = 400


class Unauthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class PreconditionFailed(DomainError):
    status = 412


class TooLarge(DomainError):
    status = 413


class ValidationFailed(DomainError):
    status = 422


class PreconditionRequired(DomainError):
    status = 428


class RateLimited(DomainError):
    status = 429


class UpstreamError(DomainError):
    """A service behind the gateway failed: 502 malformed, 503 down, 504 too slow."""

    def __init__(self, status: int, detail: Msg) -> None:
        super().__init__(detail)
        self.status = status


def problem_body(
    status: int,
    detail: str,
    lang: Lang,
    instance: str,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + SLUGS.get(status, "error"),
        "title": TITLES.get(status, TITLES[500]).text(lang),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return body


def problem_response(
    request: Request,
    status: int,
    detail: Msg,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    lang = negotiate(request.headers.get("accept-language"))
    body = problem_body(
        status,
        detail.text(lang),
        lang,
        request.url.path,
        [e.render(lang) for e in errors] if errors else None,
        extra,
    )
    return Response(dumps(body), status_code=status, media_type="application/problem+json", headers=headers)


_PYDANTIC_MESSAGES: dict[str, Msg] = {
    "missing": Msg("此项必填", "This field is required"),
    "extra_forbidden": Msg("不认识的字段，请检查拼写", "Unknown field; check the spelling"),
    "int_parsing": Msg("应为整数", "Must be a whole number"),
    "int_type": Msg("应为整数", "Must be a whole number"),
    "int_from_float": Msg("应为整数（不能有小数）", "Must be a whole number (no decimals)"),
    "float_parsing": Msg("应为数字", "Must be a number"),
    "decimal_parsing": Msg("应为数字", "Must be a number"),
    "string_type": Msg("应为文字", "Must be text"),
    "bool_parsing": Msg("应为 true 或 false", "Must be true or false"),
    "json_invalid": Msg("请求体不是合法的 JSON", "The body is not valid JSON"),
    "model_attributes_type": Msg("应为 JSON 对象", "Must be a JSON object"),
    "dict_type": Msg("应为 JSON 对象", "Must be a JSON object"),
    "list_type": Msg("应为列表", "Must be a list"),
}


def _validation_message(error: dict[str, Any]) -> Msg:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind in _PYDANTIC_MESSAGES:
        return _PYDANTIC_MESSAGES[kind]
    if kind in ("greater_than_equal", "greater_than"):
        return Msg(
            f"应不小于 {ctx.get('ge', ctx.get('gt'))}", f"Must be at least {ctx.get('ge', ctx.get('gt'))}"
        )
    if kind in ("less_than_equal", "less_than"):
        return Msg(
            f"应不大于 {ctx.get('le', ctx.get('lt'))}", f"Must be at most {ctx.get('le', ctx.get('lt'))}"
        )
    if kind == "string_too_short":
        return Msg("不能为空", "Must not be blank")
    if kind == "string_too_long":
        return Msg(f"最多 {ctx.get('max_length')} 个字符", f"At most {ctx.get('max_length')} characters")
    if kind == "string_pattern_mismatch":
        return Msg(f"格式不对，应符合 {ctx.get('pattern')}", f"Wrong format; expected {ctx.get('pattern')}")
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        return Msg(f"取值无效，可选：{expected}", f"Not an allowed value; allowed: {expected}")
    if kind == "value_error":
        raw = str(ctx.get("error", error.get("msg", "")))
        zh, sep, en = raw.partition(" | ")
        return Msg(zh, en) if sep else Msg(raw, raw)
    message = str(error.get("msg", "invalid"))
    return Msg(message, message)


def field_errors_from_pydantic(errors: list[dict[str, Any]]) -> list[FieldError]:
    result = []
    for error in errors:
        loc = [part for part in error.get("loc", ()) if part != "body" or len(error.get("loc", ())) == 1]
        result.append(FieldError(list(loc), _validation_message(error)))
    return result


#: PostgreSQL states of a transaction rolled back because of another one: deadlock detected,
#: serialization failure, lock not available (``lock_timeout``). A 409 to retry, not a 503.
CONCURRENT_WRITE_STATES = frozenset({"40P01", "40001", "55P03"})

INVALID_INPUT = Msg(
    "输入有误，请按各项提示修改后重试。", "The input is invalid; correct the fields listed and retry."
)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return problem_response(request, exc.status, exc.detail, exc.errors, exc.headers, exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return problem_response(request, 422, INVALID_INPUT, field_errors_from_pydantic(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else ""
        msg = (
            Msg(detail, detail)
            if detail and detail not in ("Not Found",)
            else TITLES.get(status, TITLES[500])
        )
        if status == 404:
            msg = Msg(f"没有这个地址：{request.url.path}", f"No such path: {request.url.path}")
        return problem_response(request, status, msg, headers=getattr(exc, "headers", None) or None)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        log.info("integrity conflict on %s: %s", request.url.path, exc.orig)
        return problem_response(
            request,
            409,
            Msg(
                "与已有数据冲突（可能是重复的编码或并发写入），请刷新后重试。",
                "Conflicts with existing data (a duplicate code or a concurrent write); reload and retry.",
            ),
        )

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _out_of_range(request: Request, exc: Exception) -> Response:
        # a number too large for the column or the driver (an id of 20 digits), or a NUL in a
        # text that PostgreSQL cannot store: bad input
        log.info("value out of range on %s: %s", request.url.path, getattr(exc, "orig", exc))
        return problem_response(
            request,
            422,
            Msg(
                "有一项值无法保存：数值超出允许范围，或文字中含有不允许的字符（如 NUL）。",
                "A value cannot be stored: a number out of range, or a text with a character that is not allowed (such as NUL).",
            ),
        )

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> Response:
        if getattr(exc.orig, "sqlstate", None) in CONCURRENT_WRITE_STATES:
            # two writers locked the same rows in opposite orders (PostgreSQL chose this one
            # to roll back): nothing was written, and the same request will succeed again
            log.warning("concurrent write conflict on %s: %s", request.url.path, exc.orig)
            return problem_response(
                request,
                409,
                Msg(
                    "与同时进行的其他写入冲突，本次未写入任何数据，请稍后重试。",
                    "Conflicted with another write running at the same time; nothing was written. Retry.",
                ),
                headers={"Retry-After": "1"},
            )
        log.error("database unavailable on %s: %s", request.url.path, exc.orig)
        return problem_response(
            request,
            503,
            Msg("数据库暂不可用，请稍后重试。", "The database is unavailable; retry in a moment."),
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            request,
            500,
            Msg(
                "服务器内部错误，已记录。请稍后重试或联系管理员，并提供请求编号。",
                "Internal error, logged. Retry later or contact the administrator with the request id.",
            ),
        )
