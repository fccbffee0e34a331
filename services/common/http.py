"""HTTP plumbing every process shares: request ids, access logs, health and readiness,
the internal-token guard, strict query parameters and ETags.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import FieldError, PreconditionFailed, PreconditionRequired, ValidationFailed
from services.common.i18n import Msg
from services.common.jsonio import dumps

REQUEST_ID_HEADER = "x-request-id"

#: How long a service (uvicorn) keeps an idle keep-alive connection open. uvicorn's default,
#: 5 s, is shorter than a client's pool keeps connections: the server then closes a
#: connection at the moment the client sends a request on it, and a write (never retried:
#: it may have been applied) failed with 503 "cannot connect" under load (CI: 1 of 200
#: progress reports sent at once, an import "cannot write request body").
SERVER_KEEPALIVE_S = 65
#: How long a client of a service (the gateway's pool) reuses an idle connection: well
#: under ``SERVER_KEEPALIVE_S``, so that it is always the client that lets go first.
CLIENT_KEEPALIVE_S = 30
#: uvicorn's options for every service, wherever it is served (``portfolio serve``, tests,
#: benches): the keep-alive above, no access log (``RequestIdMiddleware`` writes it).
SERVER_OPTIONS: dict[str, Any] = {
    "timeout_keep_alive": SERVER_KEEPALIVE_S,
    "log_level": "warning",
    "access_log": False,
}


#: FastAPI's native OpenTelemetry off: nothing here configures OpenTelemetry (the gateway
#: has its Prometheus metrics), yet FastAPI asked the three global providers whether it is
#: on, for every request (20 us of a cached read's 270 us in the gateway)
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def freeze_startup_heap() -> None:
    """Move every object alive after start-up (modules, FastAPI, pydantic and SQLAlchemy
    structures: a few hundred thousand) out of the garbage collector's sight.

    Each collection of the oldest generation walks every tracked object, and a request that
    allocates many (an ORM page of 50 projects, a rollup's rows) triggers collections: a
    share of every request's time went to walking the same start-up objects again. Measured
    on the projects service at 1,000,000 projects, one connection: the county x sector
    rollup 4.2 -> 3.3 ms, a list page of 50 5.5 ms instead of 8.8 ms (p50). Objects created
    later are collected as before; the frozen ones live as long as the process anyway."""
    gc.collect()
    gc.freeze()


access_log = logging.getLogger("portfolio.access")

#: the request being served, so every log line written while serving it carries its id
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


class RequestIdMiddleware:
    """Takes ``X-Request-ID`` from the request (or makes one), echoes it on every response
    and logs one access line per request. Pure ASGI: it costs next to nothing per call."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:128]
                break
        if not request_id or not request_id.isprintable():
            request_id = os.urandom(16).hex()  # 32 hex digits, as uuid4().hex (4 us less a request)
        scope.setdefault("state", {})["request_id"] = request_id
        context_token = current_request_id.set(request_id)
        started = time.perf_counter()
        status_holder = [0]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s %.1fms",
                    scope.get("method"),
                    scope.get("path"),
                    status_holder[0],
                    (time.perf_counter() - started) * 1000,
                    extra={"request_id": request_id, "service": self.service},
                )
            current_request_id.reset(context_token)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line; ``request_id`` on every line written while serving a request.

    Written for every request (the access line), so it is kept cheap: orjson, and the
    timestamp formatted once per second (18 -> 10 us a line)."""

    _second: int = -1
    _stamp: str = ""

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # two threads may both format it: the same text
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(second))
            self._second = second
        return self._stamp

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        if request_id:
            payload["request_id"] = request_id
        if hasattr(record, "service"):
            payload["service"] = record.service
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return dumps(payload).decode()


def configure_logging(json_logs: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if json_logs:
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    # no line shows the thread, the process or the calling function: not looking them up for
    # every record (the logging HOWTO's "Optimization") makes the access line 25% cheaper
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request at INFO: the gateway's upstream calls and the seed's posts are
    # already in our own access log, and a line per call costs the hot path
    logging.getLogger("httpx").setLevel(logging.WARNING)


ReadinessCheck = Callable[[], Awaitable[dict[str, Any]]]


def health_router(readiness: ReadinessCheck) -> APIRouter:
    """``/health``: the process answers. ``/ready``: it can serve (database reachable,
    migrations at head …); 503 with the reasons otherwise."""
    router = APIRouter(tags=["health"])

    @router.get("/health", include_in_schema=False)
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @router.get("/ready", include_in_schema=False)
    async def ready() -> Response:
        checks = await readiness()
        ok = all(check.get("ok", False) for check in checks.values() if check.get("required", True))
        body = {"status": "ready" if ok else "not_ready", "checks": checks}
        return Response(dumps(body), status_code=200 if ok else 503, media_type="application/json")

    return router


_allowed_cache: dict[int, frozenset[str]] = {}


def _query_aliases(dependant: Any) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_aliases(sub)
    return names


def allowed_query_params(route: Any) -> frozenset[str]:
    key = id(route)
    if key not in _allowed_cache:
        _allowed_cache[key] = frozenset(_query_aliases(route.dependant))
    return _allowed_cache[key]


async def forbid_unknown_query_params(request: Request) -> None:
    """A typo in a filter must never return the whole library: unknown query parameters
    are 422, naming the parameter and the ones this route accepts. So is a NUL byte in any
    parameter: PostgreSQL cannot hold one (a driver error), and SQLite's ``LIKE`` stops
    reading the pattern at it (``q=a%00…`` would match every name with an ``a``)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    with_nul = sorted({key for key, value in request.query_params.multi_items() if "\x00" in key + value})
    if with_nul:
        raise ValidationFailed(
            Msg("查询参数中不能有 NUL 字符（%00）。", "A query parameter must not contain a NUL byte (%00)."),
            errors=[
                FieldError(["query", key.replace("\x00", "")], Msg("含有 NUL 字符", "contains a NUL byte"))
                for key in with_nul
            ],
        )
    allowed = allowed_query_params(route)
    unknown = [key for key in request.query_params if key not in allowed]
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "-"
        raise ValidationFailed(
            Msg(
                f"不认识的查询参数：{', '.join(unknown)}。可用参数：{accepted}",
                f"Unknown query parameter: {', '.join(unknown)}. Accepted: {accepted}",
            ),
            errors=[
                FieldError(
                    ["query", key],
                    Msg(f"不认识的参数，可用：{accepted}", f"Unknown parameter; accepted: {accepted}"),
                )
                for key in unknown
            ],
        )


StrictQuery = Depends(forbid_unknown_query_params)


def make_etag(entity_id: int | str, version: int) -> str:
    return f'"{entity_id}-v{version}"'


def expected_version(request: Request, entity_id: int | str) -> int:
    """Optimistic concurrency: the version the caller read, from ``If-Match``.

    Missing is 428; an ETag of another entity or not ours at all is 412 (it cannot match).
    The service then compares it with the current version, atomically."""
    header = request.headers.get("if-match")
    if not header:
        raise PreconditionRequired(
            Msg(
                "修改前请先读取，并在 If-Match 请求头中带上读取时的 ETag。",
                "Read it first and send the ETag you read in the If-Match header.",
            )
        )
    prefix = f'"{entity_id}-v'
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/")
        if tag.startswith(prefix) and tag.endswith('"') and tag[len(prefix) : -1].isdigit():
            return int(tag[len(prefix) : -1])
    raise stale_version()


def stale_version(current_etag: str | None = None) -> PreconditionFailed:
    return PreconditionFailed(
        Msg(
            "数据已被他人修改（版本已更新）。请重新读取后再提交，您填写的内容不会丢失。",
            "Someone changed this since you read it (the version moved on). Reload and resubmit.",
        ),
        extra={"current_etag": current_etag} if current_etag else None,
    )


def base_app(
    title: str,
    service: str,
    json_logs: bool,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    **kwargs: Any,
) -> FastAPI:
    """A FastAPI app with the shared middleware and error handlers installed; its start-up
    ends with :func:`freeze_startup_heap`."""
    from services.common.errors import install_error_handlers
    from services.common.jsonio import JSONBytes

    @asynccontextmanager
    async def started(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app) if lifespan is not None else nullcontext():
            freeze_startup_heap()
            yield

    app = FastAPI(
        title=title, default_response_class=JSONBytes, lifespan=started, telemetry=NO_TELEMETRY, **kwargs
    )
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware, service=service)
    configure_logging(json_logs)
    return app
