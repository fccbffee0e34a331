"""Security headers on every answer of the frontend's server.

Streamlit has no setting for response headers, but its documented ASGI entry point
(``st.App``, :mod:`frontend.server`) takes Starlette middleware. :class:`SecurityHeaders`
adds, to every HTTP answer (the page, static files, health, errors; not the WebSocket):

- ``X-Content-Type-Options: nosniff``;
- ``X-Frame-Options: SAMEORIGIN`` and ``Content-Security-Policy: frame-ancestors 'self'``
  (no other site may frame the app; Streamlit's own component iframes are same-origin);
- ``Referrer-Policy: strict-origin-when-cross-origin``;
- ``Permissions-Policy`` turning off camera, microphone and geolocation (unused);
- ``Cross-Origin-Opener-Policy: same-origin``;
- ``Strict-Transport-Security`` on requests that came over TLS (``X-Forwarded-Proto: https``
  from the ingress that terminates it).

A header Streamlit already set is left as it is. No script or style policy: Streamlit's
client needs inline styles and blob workers (the map), so a ``script-src``/``style-src``
policy is the ingress's to add once it has been tried against the app.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRONTEND_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def _came_over_tls(scope: Scope) -> bool:
    if scope.get("scheme") in ("https", "wss"):
        return True
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-proto":
            return bool(value.decode("latin-1").split(",")[0].strip() == "https")
    return False


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = _came_over_tls(scope)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in FRONTEND_HEADERS if name not in present]
                if tls and HSTS[0] not in present:
                    headers.append(HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
