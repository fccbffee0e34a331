"""The fast path for cached reads: a pure ASGI layer, the innermost of the gateway's
middleware, that answers a cache hit without solving the route's dependencies.

For a GET of a path in :data:`~services.gateway.cache.CACHED_READS` that has a cache field
(:func:`~services.gateway.cache.cache_entry`, the function the routes use), it does what
the route would, with the route's own functions:

1. the credentials: ``X-API-Key``, else ``Authorization: Bearer``, read from the headers
   as the route's security schemes read them, checked by
   :func:`~services.gateway.deps.authenticate`;
2. the role against the route's rule (:func:`~services.gateway.roles.rule_for`, ``allows``);
3. in one Redis round trip (:data:`COUNT_AND_READ`), the rate limiter's count
   (:data:`~services.gateway.ratelimit.COUNT_SCRIPT`) and the cache's read
   (:data:`~services.gateway.cache.READ_SCRIPT`), judged by
   :func:`~services.gateway.ratelimit.verdict`.

A hit within the limit is answered here, exactly as the route answers a hit
(:class:`~services.gateway.forward.CacheHit`), counted in ``gateway_cache_hits_total`` and,
with ``scope["route"]`` set to the route, in the request metrics under its template. The
middleware around this one (request id and access log, metrics, body limit, security
headers) applies to it as to any answer.

Everything else goes on to the route, which does it all as it would without the fast path:
no or bad credentials (401), a role below the rule (403), a caller over the limit (429), a
miss (fetch and store), Redis off or failing, a cache that must forget first (after an
outage or a lost invalidation, :attr:`~services.gateway.cache.ResponseCache.must_forget`),
a query the route would refuse, anything unexpected. A request counted here carries its
:class:`~services.gateway.ratelimit.Counted` on in the request state, and
:func:`~services.gateway.deps.authorize` takes that verdict instead of counting again. (A
round trip that timed out leaves no verdict: the route counts the request, which Redis may
then have counted twice if the script did run.)

``GATEWAY_FAST_CACHED_READS=false`` leaves the layer out.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import URL
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.errors import Unauthenticated
from services.gateway.cache import CACHED_READS, READ_SCRIPT, cache_entry, read_keys
from services.gateway.deps import Parts, authenticate, rate_key
from services.gateway.forward import CacheHit
from services.gateway.ratelimit import COUNT_SCRIPT, COUNTED_STATE, COUNTER_TTL_S, Counted, verdict, window
from services.gateway.redislink import RedisUnavailable
from services.gateway.roles import allows, rule_for

log = logging.getLogger("portfolio.gateway.fastpath")

#: the rate limiter's count and the cache's read in one round trip: each module's own
#: script, run as a Lua function on its own keys. KEYS: this minute's counter, the previous
#: minute's, the namespace's generation, its hashes' prefix; ARGV: the counter's TTL, the
#: field. Answers ``{current, previous, cached}`` (the generation is of no use here).
COUNT_AND_READ = f"""
local function count(KEYS, ARGV)
{COUNT_SCRIPT}
end
local function read(KEYS, ARGV)
{READ_SCRIPT}
end
local counted = count({{KEYS[1], KEYS[2]}}, {{ARGV[1]}})
local cached = read({{KEYS[3], KEYS[4]}}, {{ARGV[2]}})
return {{counted[1], counted[2], cached[2]}}
"""


def _path_and_query(scope: Scope) -> tuple[str, str]:
    """The path and query as the route sees them (``request.url``), without building the URL
    for the common request that has neither a query nor a root path."""
    if not scope.get("query_string") and not scope.get("root_path"):
        return scope["path"], ""
    url = URL(scope=scope)
    return url.path, url.query


def _credentials(scope: Scope) -> tuple[str | None, str | None]:
    """The API key and the bearer token, read as the route's security schemes read them: the
    first ``X-API-Key`` (empty is none), the first ``Authorization`` if it says ``Bearer``."""
    api_key = authorization = None
    for name, value in scope["headers"]:  # ASGI servers give header names in lower case
        if name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
        elif name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
    scheme, token = get_authorization_scheme_param(authorization)
    return api_key or None, token if authorization and scheme.lower() == "bearer" else None


def cached_routes(app: FastAPI) -> dict[str, APIRoute]:
    """The GET route of each path of :data:`CACHED_READS` that ``app`` has."""
    routes: dict[str, APIRoute] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.path in CACHED_READS and "GET" in (route.methods or ()):
            routes[route.path] = route
    return routes


class FastCachedReads:
    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._routes: dict[str, APIRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in CACHED_READS:
            hit = await self._hit(scope)
            if hit is not None:
                await hit(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _hit(self, scope: Scope) -> Response | None:
        gateway: Parts | None = getattr(self.api.state, "gateway", None)
        if gateway is None or not gateway.cache.enabled:
            return None
        try:
            return await self._answer(scope, gateway)
        except (Unauthenticated, RedisUnavailable):
            return None
        except Exception:  # unexpected: the route does it all again and answers as it would
            log.debug("cached read passed on to the route", exc_info=True)
            return None

    async def _answer(self, scope: Scope, gateway: Parts) -> Response | None:
        path, query = _path_and_query(scope)
        entry = cache_entry(path, query)
        route = self._route(path)
        rule = rule_for("GET", route.path) if route is not None else None
        if entry is None or route is None or rule is None:
            return None
        caller = await authenticate(gateway.identities, *_credentials(scope))
        if not allows(caller.role, rule):
            return None
        cached = await self._count_and_read(scope, gateway, rate_key(caller), *entry)
        if cached is None:
            return None
        gateway.cache.count_hit(entry[0])
        scope["route"] = route
        return CacheHit(cached)

    async def _count_and_read(
        self, scope: Scope, gateway: Parts, key: str, namespace: str, field: str
    ) -> bytes | None:
        """The cached body when the caller is within its limit and the entry exists. The
        request is counted, and its :class:`Counted` left for the route, either way."""
        if gateway.cache.must_forget:  # the route's read bumps the generations first
            return None
        limit = gateway.settings.rate_limit_per_minute
        if limit <= 0:  # no limit: nothing to count (as RateLimiter.hit)
            read = gateway.redis.script(READ_SCRIPT)
            _generation, cached = await gateway.redis.run(
                lambda r: read(keys=read_keys(namespace), args=[field], client=r)
            )
            return None if cached is None else bytes(cached)
        span = window(key, time.time())
        count_and_read = gateway.redis.script(COUNT_AND_READ)
        current, previous, cached = await gateway.redis.run(
            lambda r: count_and_read(
                keys=[span.current_key, span.previous_key, *read_keys(namespace)],
                args=[COUNTER_TTL_S, field],
                client=r,
            )
        )
        retry_after = verdict(int(previous or 0), int(current), span.elapsed, limit)
        scope.setdefault("state", {})[COUNTED_STATE] = Counted(key, retry_after)
        if retry_after is not None or cached is None:
            return None
        return bytes(cached)

    def _route(self, path: str) -> APIRoute | None:
        if self._routes is None:  # the routes are all included by the first request
            self._routes = cached_routes(self.api)
        return self._routes.get(path)
