"""Logging in (OAuth2 password flow) and "who am I".

A wrong password, an unknown user and a deactivated user get the same 401 after the same
work (an unknown user is checked against a dummy hash). Attempts are limited per username
and client address (``LOGIN_RATE_LIMIT_PER_MINUTE``). Nothing here logs the password.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import Session

from services.common.errors import RateLimited
from services.common.http import StrictQuery
from services.common.i18n import Msg
from services.common.jsonio import JSONBytes
from services.gateway import accounts
from services.gateway.auth import issue_token, verify_password
from services.gateway.deps import CurrentCaller, Gateway, Parts, authorize, unauthenticated
from services.gateway.forward import READ_ERRORS, problems
from services.gateway.jsondoc import DocumentedJSON
from services.gateway.schemas import Me, Token

router = APIRouter(
    prefix="/api/v1", tags=["auth"], default_response_class=DocumentedJSON, dependencies=[StrictQuery]
)
me_router = APIRouter(
    prefix="/api/v1",
    tags=["auth"],
    default_response_class=DocumentedJSON,
    dependencies=[Depends(authorize), StrictQuery],
)


def _check_password(gateway: Parts, username: str, password: str) -> dict[str, object] | None:
    with Session(gateway.db.reader) as session:
        user = accounts.find_user(session, username)
        ok = verify_password(password, user.password_hash if user else None)
        if not ok or user is None or not user.active:
            return None
        return {"username": user.username, "role": user.role, "counties": list(user.counties)}


@router.post("/auth/token", response_model=Token, responses=problems(401, 422, 429))
async def login(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], gateway: Gateway
) -> Response:
    """OAuth2 password flow: form fields ``username`` and ``password`` give a bearer token."""
    client = request.client.host if request.client else "-"
    retry_after = await gateway.limiter.hit(
        f"login:{form.username.lower()}:{client}", gateway.settings.login_rate_limit_per_minute
    )
    if retry_after is not None:
        raise RateLimited(
            Msg(
                f"登录尝试过于频繁，请 {retry_after} 秒后重试。",
                f"Too many login attempts; retry in {retry_after} s.",
            ),
            headers={"Retry-After": str(retry_after)},
        )
    user = await run_in_threadpool(_check_password, gateway, form.username, form.password)
    if user is None:
        raise unauthenticated(Msg("用户名或密码错误。", "Wrong username or password."))
    issued = issue_token(
        gateway.identities.jwt_secret,
        str(user["username"]),
        str(user["role"]),
        list(user["counties"]),  # type: ignore[call-overload]
        gateway.settings.jwt_expire_minutes,
    )
    body = {"access_token": issued.access_token, "token_type": "bearer", "expires_in": issued.expires_in}
    return JSONBytes(body, headers={"Cache-Control": "no-store"})


@me_router.get("/me", response_model=Me, responses=problems(*READ_ERRORS))
async def me(caller: CurrentCaller) -> Me:
    """The caller: name, role, counties, and whether a user or an API key."""
    return Me(
        actor=caller.actor,
        kind=caller.kind,
        id=caller.id,
        role=caller.role,  # type: ignore[arg-type]
        counties=sorted(caller.counties),
    )
