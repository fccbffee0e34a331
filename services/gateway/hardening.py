"""Two small pure-ASGI guards in front of every gateway route.

- :class:`BodySizeLimit`: a request body over ``GATEWAY_MAX_BODY_BYTES`` (1 MiB; uploads,
  ``multipart/form-data`` to a route that takes a file, :data:`UPLOAD_PATHS`:
  ``GATEWAY_MAX_UPLOAD_BYTES``) is 413 problem details. Any other route keeps the small
  limit whatever the content type says, so a client cannot make a JSON route buffer 50 MiB
  by calling its body multipart. A declared
  ``Content-Length`` over the limit is refused before any of the body is read; a body sent
  without one (chunked) is counted as it arrives and refused as soon as it passes the
  limit, so nobody can make the gateway hold an unbounded body in memory.
- :class:`SecurityHeaders`: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``
  and ``Content-Security-Policy: frame-ancestors 'none'`` (the API is never framed),
  ``Referrer-Policy: no-referrer``; ``Strict-Transport-Security`` only on requests that
  came over TLS (scheme ``https``, or ``X-Forwarded-Proto: https`` from the proxy that
  terminates it; browsers ignore the header over plain HTTP anyway).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.i18n import Msg, negotiate

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
#: the routes that take a file (``multipart/form-data``), and so the larger upload limit
UPLOAD_PATHS = frozenset({"/api/v1/projects/import"})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _too_large(limit: int, scope: Scope) -> str:
    size = f"{limit / 1024 / 1024:g} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
    message = Msg(f"请求内容超过 {size} 的上限。", f"The request body is over the {size} limit.")
    return message.text(negotiate(_header(scope, b"accept-language") or None))


class BodySizeLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        max_upload_bytes: int,
        upload_paths: frozenset[str] = UPLOAD_PATHS,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope.get("path", "").rstrip("/") in self.upload_paths and _header(
            scope, b"content-type"
        ).startswith("multipart/form-data")
        limit = self.max_upload_bytes if upload else self.max_bytes
        declared = _header(scope, b"content-length")
        received = 0

        async def counted() -> Message:
            # raised where the route reads the body: FastAPI passes an HTTPException on, and
            # the shared handler answers it as problem details (with the request id)
            nonlocal received
            if declared.isdigit() and int(declared) > limit:
                raise HTTPException(413, _too_large(limit, scope))
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, _too_large(limit, scope))
            return message

        await self.app(scope, counted, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = (
            scope.get("scheme") == "https"
            or _header(scope, b"x-forwarded-proto").split(",")[0].strip() == "https"
        )

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                if tls:
                    headers.append(HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
