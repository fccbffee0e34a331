"""Dependencies of the gateway's routes: the gateway's parts, and :func:`authorize`, which
every route runs first: the role table's rule, the credentials (401), the role (403) and
the caller's rate limit (429).

:func:`authenticate` and :func:`rate_key` are shared with the fast path for cached reads
(:mod:`services.gateway.fastpath`). A request the fast path has counted already carries its
:class:`~services.gateway.ratelimit.Counted` in the request state: ``authorize`` takes that
verdict (429 included) instead of counting the request a second time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from services.common.db import Database
from services.common.errors import Forbidden, RateLimited, Unauthenticated
from services.common.i18n import Msg
from services.gateway.auth import Caller
from services.gateway.cache import ResponseCache
from services.gateway.identity import Identities
from services.gateway.metrics import GatewayMetrics
from services.gateway.ratelimit import COUNTED_STATE, Counted, RateLimiter
from services.gateway.redislink import RedisLink
from services.gateway.roles import allows, rule_for
from services.gateway.settings import GatewaySettings
from services.gateway.upstream import Upstream

ROLE_ZH = {"viewer": "只读用户", "manager": "项目管理员", "admin": "系统管理员"}

#: the largest row id any table holds (a PostgreSQL ``integer`` key); a larger id in a path
#: cannot name anything, so it is refused here (422) instead of overflowing a driver (500)
MAX_ROW_ID = 2_147_483_647
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


@dataclass
class Parts:
    """Everything a request may need, built once by ``create_app``."""

    settings: GatewaySettings
    db: Database
    identities: Identities
    redis: RedisLink
    cache: ResponseCache
    limiter: RateLimiter
    metrics: GatewayMetrics
    projects: Upstream
    indicators: Upstream


def parts(request: Request) -> Parts:
    gateway: Parts = request.app.state.gateway
    return gateway


async def gateway_parts(request: Request) -> Parts:
    """``parts`` as a dependency: ``async`` so that FastAPI calls it in place (a plain
    ``def`` goes to the thread pool and back: 5-10% of a forwarded read's CPU here)."""
    return parts(request)


oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


def unauthenticated(detail: Msg) -> Unauthenticated:
    return Unauthenticated(detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(identities: Identities, api_key: str | None, token: str | None) -> Caller:
    """The caller an API key (first) or a bearer token names; 401 when neither does."""
    if api_key:
        caller = await identities.from_api_key(api_key)
        if caller is None:
            raise unauthenticated(Msg("API 密钥无效或已吊销。", "The API key is invalid or was revoked."))
        return caller
    if token:
        caller = await identities.from_token(token)
        if caller is None:
            raise unauthenticated(
                Msg(
                    "登录已失效或令牌无效，请重新登录。",
                    "The token is invalid or expired, or the user was deactivated; log in again.",
                )
            )
        return caller
    raise unauthenticated(
        Msg(
            "请先登录（Authorization: Bearer <令牌>）或提供 X-API-Key。",
            "Log in first (Authorization: Bearer <token>) or send X-API-Key.",
        )
    )


def rate_key(caller: Caller) -> str:
    """Whose counter a request of ``caller`` counts against."""
    return f"p:{caller.kind}:{caller.id}"


async def authorize(
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Caller:
    gateway = parts(request)
    route = request.scope.get("route")
    rule = rule_for(request.method, getattr(route, "path", ""))
    if rule is None:  # create_app refuses routes without a rule; this is the last line
        raise Forbidden(Msg("此接口未配置权限。", "No access rule for this route."))
    caller = await authenticate(gateway.identities, api_key, token)
    if not allows(caller.role, rule):
        raise Forbidden(
            Msg(
                f"{ROLE_ZH.get(caller.role, caller.role)}无权执行此操作（需要{ROLE_ZH.get(rule, rule)}或以上权限）。",
                f"A {caller.role} may not do this; it needs the {rule} role or higher.",
            )
        )
    key = rate_key(caller)
    counted = getattr(request.state, COUNTED_STATE, None)
    if isinstance(counted, Counted) and counted.key == key:  # the fast path counted it
        retry_after = counted.retry_after
    else:
        retry_after = await gateway.limiter.hit(key, gateway.settings.rate_limit_per_minute)
    if retry_after is not None:
        raise RateLimited(
            Msg(
                f"请求过于频繁，请 {retry_after} 秒后重试。", f"Too many requests; retry in {retry_after} s."
            ),
            headers={"Retry-After": str(retry_after)},
        )
    request.state.caller = caller
    return caller


CurrentCaller = Annotated[Caller, Depends(authorize)]
Gateway = Annotated[Parts, Depends(gateway_parts)]
