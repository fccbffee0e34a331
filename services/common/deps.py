"""FastAPI dependencies shared by the services, read from ``app.state`` (set by each
service's ``create_app``): sessions, the calling principal, the request id, the language.

A dependency that does no I/O is ``async def``: FastAPI runs a plain ``def`` in a worker
thread, a hop to the thread pool and back for every request (the same holds for the
filters of each service's routes and for ``StrictQuery``). The read session is one of them:
opening a session does no I/O (the connection is taken at the first query, in the route's
thread), and on PostgreSQL reads run in autocommit, so closing it gives the connection back
without a round trip (on SQLite, the end of a read transaction of a local file). The write
session stays ``def``: its end may commit or roll back on the server."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from services.common.errors import Unauthenticated
from services.common.i18n import Lang, Msg, negotiate
from services.common.principal import Principal, principal_from_headers


async def read_session(request: Request) -> AsyncIterator[Session]:
    sessions = request.app.state.db.read_session()
    session = next(sessions)
    try:
        yield session
    finally:
        sessions.close()


def write_session(request: Request) -> Iterator[Session]:
    yield from request.app.state.db.write_session()


async def caller(request: Request) -> Principal:
    """The principal the gateway acts for; the call must carry the internal token."""
    expected: str = request.app.state.settings.internal_token
    token = request.headers.get("x-internal-token", "")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthenticated(
            Msg(
                "内部接口只接受网关的调用（缺少或错误的 X-Internal-Token）。",
                "Internal API: only the gateway may call it (missing or wrong X-Internal-Token).",
            )
        )
    return principal_from_headers(
        request.headers.get("x-actor"),
        request.headers.get("x-actor-role"),
        request.headers.get("x-actor-counties"),
    )


async def request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


async def language(request: Request) -> Lang:
    return negotiate(request.headers.get("accept-language"))


ReadSession = Annotated[Session, Depends(read_session)]
WriteSession = Annotated[Session, Depends(write_session)]
Caller = Annotated[Principal, Depends(caller)]
RequestId = Annotated[str | None, Depends(request_id)]
