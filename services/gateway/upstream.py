"""Calls from the gateway to the services: one connection pool per service (aiohttp's),
built in the lifespan.

- Calls answered in full (every JSON call: the hot path) go straight to the pool's aiohttp
  session. Measured per call from one process (uvloop): httpx's own transport 770 us of
  CPU, httpx on the aiohttp transport 320 us, the aiohttp session 130 us. httpx's client
  layers (URL and header merging, cookies, auth and redirect flows, its models) were a
  quarter of the gateway's CPU on a forwarded read.
- Streams (downloads) and readiness go through httpx on the aiohttp transport, over the
  same session and pool.

Rules:
- Every call carries the internal token, the principal headers and, from the incoming
  request, ``X-Request-ID``, ``Accept-Language``, ``If-Match``, ``Idempotency-Key``.
- A GET is retried once when the connection failed (never a write, never a timeout).
- Failures become problem details naming the service, in zh and en: cannot connect 503,
  slower than the timeout 504, an answer that is not JSON or a 5xx 502 (a 503 of the
  service stays 503). Never a bare 500.
- The service's status, body, content type, ``ETag``, ``Location`` and ``Retry-After``
  are returned unchanged (problem+json included). Files (exports, templates) are passed
  on as a stream with their ``Content-Disposition``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import httpx
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from httpx_aiohttp import AiohttpTransport
from prometheus_client import Counter
from starlette.background import BackgroundTask

from services.common.errors import UpstreamError
from services.common.http import CLIENT_KEEPALIVE_S
from services.common.i18n import Msg
from services.common.jsonio import loads
from services.common.principal import Principal

log = logging.getLogger("portfolio.gateway.upstream")

PASSED_ON = ("accept-language", "if-match", "idempotency-key")
RETURNED = ("etag", "location", "retry-after")
DOWNLOAD_HEADERS = ("content-disposition",)
SERVICE_NAMES = {"projects": "项目服务", "indicators": "指标服务"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]  # case-insensitive (aiohttp's or httpx's headers)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> object:
        return loads(self.body)

    def response(self) -> Response:
        headers = {name: self.headers[name] for name in RETURNED if name in self.headers}
        media_type = self.headers.get("content-type", "application/json")
        return Response(self.body, status_code=self.status, media_type=media_type, headers=headers)


class Upstream:
    def __init__(
        self,
        name: str,
        base_url: str,
        token: str,
        timeout_s: float,
        connect_timeout_s: float,
        errors: Counter,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self.errors = errors
        self.connect_timeout_s = connect_timeout_s
        self._session: aiohttp.ClientSession | None = None
        self.client = httpx.AsyncClient(
            transport=AiohttpTransport(client=self.session),
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        )

    def session(self) -> aiohttp.ClientSession:
        """The pool, made on first use (inside the event loop, as aiohttp wants)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=200, limit_per_host=200, keepalive_timeout=CLIENT_KEEPALIVE_S
            )
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def close(self) -> None:
        await self.client.aclose()
        if self._session is not None:
            await self._session.close()

    def _fail(self, status: int, kind: str, zh: str, en: str) -> UpstreamError:
        self.errors.labels(self.name, kind).inc()
        label = SERVICE_NAMES.get(self.name, self.name)
        error = UpstreamError(status, Msg(f"{label}（{self.name}）{zh}", f"The {self.name} service {en}"))
        error.extra = {"service": self.name}
        if status in (503, 504):
            error.headers = {"Retry-After": "5"}
        return error

    def _headers(self, principal: Principal | None, request: Request | None) -> dict[str, str]:
        headers = {"X-Internal-Token": self.token, "Accept": "application/json"}
        if principal is not None:
            headers.update(principal.headers())
        if request is not None:
            request_id = request.scope.get("state", {}).get("request_id")
            if request_id:
                headers["X-Request-ID"] = request_id
            for name in PASSED_ON:
                value = request.headers.get(name)
                if value is not None:
                    headers[name] = value
        return headers

    def _timed_out(self, timeout_s: float) -> UpstreamError:
        return self._fail(
            504,
            "timeout",
            f"在 {timeout_s:g} 秒内没有应答，请稍后重试。",
            f"did not answer within {timeout_s:g} s; retry in a moment.",
        )

    def _unreachable(self, method: str, path: str, exc: Exception) -> UpstreamError:
        log.warning("%s unreachable: %s %s: %s", self.name, method, path, exc)
        return self._fail(
            503,
            "unavailable",
            f"暂不可用（无法连接 {self.base_url}），请稍后重试或联系管理员。",
            f"is unavailable (cannot connect to {self.base_url}); retry later or contact the administrator.",
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        principal: Principal | None = None,
        request: Request | None = None,
        query: str = "",
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout_s: float | None = None,
    ) -> Answer:
        """One call, answered in full. ``timeout_s`` overrides the service's timeout (an
        import takes longer than a read); ``content_type`` is the body's (an upload passes
        its multipart type on)."""
        headers = self._headers(principal, request)
        if body is not None:
            headers["Content-Type"] = content_type
        limit = timeout_s or self.timeout_s
        url = path + (f"?{query}" if query else "")
        attempts = 2 if method == "GET" else 1
        timeout = aiohttp.ClientTimeout(total=limit, sock_connect=self.connect_timeout_s)
        for attempt in range(attempts):
            try:
                async with (
                    asyncio.timeout(limit),
                    self.session().request(
                        method, self.base_url + url, data=body, headers=headers, timeout=timeout
                    ) as raw,
                ):
                    answer = Answer(raw.status, await raw.read(), raw.headers)
                break
            except TimeoutError:
                raise self._timed_out(limit) from None
            except aiohttp.ClientError as exc:  # refused, reset, closed before the answer
                if attempt + 1 < attempts:
                    continue
                raise self._unreachable(method, path, exc) from None
        return self._check(answer)

    async def download(
        self, path: str, *, principal: Principal, request: Request, query: str = ""
    ) -> Response:
        """A GET whose answer is a file (CSV, XLSX, a JSON package): passed on as a stream,
        chunk by chunk, so an export of the whole library never sits in the gateway's
        memory. The timeout covers the wait for the answer to begin; an error answer (a
        problem, JSON) is read in full and checked like any other."""
        url = path + (f"?{query}" if query else "")
        outgoing = self.client.build_request(
            "GET", self.base_url + url, headers=self._headers(principal, request)
        )
        try:
            async with asyncio.timeout(self.timeout_s):
                raw = await self.client.send(outgoing, stream=True)
        except (TimeoutError, httpx.ReadTimeout, httpx.PoolTimeout):
            raise self._timed_out(self.timeout_s) from None
        except httpx.TransportError as exc:
            raise self._unreachable("GET", path, exc) from None
        if raw.status_code != 200:
            try:
                body = await raw.aread()
            finally:
                await raw.aclose()
            return self._check(Answer(raw.status_code, body, raw.headers)).response()
        headers = {name: raw.headers[name] for name in DOWNLOAD_HEADERS if name in raw.headers}
        return StreamingResponse(
            raw.aiter_bytes(),
            media_type=raw.headers.get("content-type", "application/octet-stream"),
            headers=headers,
            background=BackgroundTask(raw.aclose),
        )

    def _check(self, answer: Answer) -> Answer:
        if answer.status == 503:
            raise self._fail(
                503, "unavailable", "暂不可用，请稍后重试。", "is temporarily unavailable; retry in a moment."
            )
        if answer.status >= 500:
            raise self._fail(
                502,
                "bad_answer",
                f"应答异常（HTTP {answer.status}），已记录；请稍后重试或联系管理员。",
                f"answered with an error (HTTP {answer.status}); retry later or contact the administrator.",
            )
        content_type = answer.headers.get("content-type", "")
        if answer.body or answer.status != 204:
            try:
                if "json" not in content_type:
                    raise ValueError(content_type)
                loads(answer.body)
            except ValueError:
                raise self._fail(
                    502,
                    "bad_answer",
                    "的应答不是 JSON，无法转交。",
                    "answered with something that is not JSON.",
                ) from None
        return answer

    async def ready(self) -> dict[str, object]:
        try:
            async with asyncio.timeout(min(self.timeout_s, 3.0)):
                raw = await self.client.get(self.base_url + "/ready")
        except (TimeoutError, httpx.ReadTimeout):
            return {"ok": False, "required": False, "detail": f"{self.base_url}: no answer within 3 s"}
        except httpx.HTTPError as exc:
            return {
                "ok": False,
                "required": False,
                "detail": f"{self.base_url}: cannot connect ({type(exc).__name__})",
            }
        return {"ok": raw.status_code == 200, "required": False, "status": raw.status_code}
