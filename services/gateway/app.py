"""The gateway: ``create_app(settings)`` wires authentication, the role table, the service
clients, the cache, rate limits, the event consumers, webhooks, health and metrics.
Nothing here holds a rule.

Start-up refuses a route without a rule in :data:`services.gateway.roles.ROLE_RULES`, and a
cached read of :data:`services.gateway.cache.CACHED_READS` that names no GET route.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from starlette.middleware import Middleware

from services.common.db import Database
from services.common.http import base_app, health_router
from services.common.migrate import schema_status
from services.gateway.cache import CACHED_READS, REFERENCE, ROLLUPS, ResponseCache
from services.gateway.deps import Parts
from services.gateway.events import StreamConsumer, consumer_name
from services.gateway.fastpath import FastCachedReads, cached_routes
from services.gateway.forward import problem_json_openapi
from services.gateway.hardening import BodySizeLimit, SecurityHeaders
from services.gateway.identity import Identities
from services.gateway.metrics import GatewayMetrics, MetricsMiddleware
from services.gateway.ratelimit import RateLimiter
from services.gateway.redislink import RedisLink
from services.gateway.roles import API, unruled_routes
from services.gateway.routes import admin, auth, indicators, projects, reference, rollups, transfer
from services.gateway.settings import GatewaySettings
from services.gateway.upstream import Upstream
from services.gateway.webhooks import WebhookDispatcher

SERVICE = "gateway"
CACHE_GROUP = "gateway-cache"
WEBHOOK_GROUP = "gateway-webhooks"
EXPOSED_HEADERS = ["ETag", "Location", "X-Request-ID", "Retry-After", "X-Cache"]


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    settings.check_production()
    db = Database(settings.database_url)
    metrics = GatewayMetrics()
    jwt_secret = settings.resolved_jwt_secret()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        link = RedisLink(settings.redis_url)
        await link.warm()

        def upstream(name: str, url: str) -> Upstream:
            return Upstream(
                name,
                url,
                settings.internal_token,
                settings.upstream_timeout_s,
                settings.upstream_connect_timeout_s,
                metrics.upstream_errors,
            )

        gateway = Parts(
            settings=settings,
            db=db,
            identities=Identities(db, jwt_secret, settings.auth_cache_s),
            redis=link,
            cache=ResponseCache(
                link,
                {ROLLUPS: settings.cache_ttl_s, REFERENCE: settings.reference_cache_ttl_s},
                metrics.cache_hits,
                metrics.cache_misses,
            ),
            limiter=RateLimiter(link),
            metrics=metrics,
            projects=upstream("projects", settings.projects_url),
            indicators=upstream("indicators", settings.indicators_url),
        )
        app.state.gateway = gateway
        dispatcher = WebhookDispatcher(db, settings, metrics.webhook_deliveries)
        app.state.webhooks = dispatcher
        consumers: list[StreamConsumer] = []
        tasks = [asyncio.create_task(dispatcher.run(), name="webhook-dispatcher")]
        if settings.redis_url:
            name = settings.consumer_name or consumer_name()

            async def invalidate(_events: list[dict[str, Any]]) -> None:
                await gateway.cache.invalidate(ROLLUPS)

            consumers = [
                StreamConsumer(settings.redis_url, CACHE_GROUP, name, invalidate, metrics.events),
                StreamConsumer(settings.redis_url, WEBHOOK_GROUP, name, dispatcher.enqueue, metrics.events),
            ]
            tasks += [asyncio.create_task(c.run(), name=f"consumer-{c.group}") for c in consumers]
        app.state.consumers = consumers
        try:
            yield
        finally:
            for consumer in consumers:
                consumer.stopped = True
            dispatcher.stopped = True
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=5)
            await dispatcher.close()
            for consumer in consumers:
                await consumer.close()
            await gateway.projects.close()
            await gateway.indicators.close()
            await link.close()
            db.dispose()

    app = base_app(
        "Jinzhou portfolio API",
        SERVICE,
        settings.log_json,
        lifespan=lifespan,
        openapi_url=f"{API}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        version="1.0.0",
        description="锦州市“十四五”规划项目与指标跟踪 · Jinzhou 14th Five-Year Plan portfolio tracker. "
        "Log in at /api/v1/auth/token (OAuth2 password) or send X-API-Key. Errors are RFC 9457 problem details.",
    )
    app.state.settings = settings
    app.state.db = db
    if settings.fast_cached_reads:
        # innermost, so every layer below wraps its answers too: appended, because
        # add_middleware would put it outside the request id base_app has installed
        app.user_middleware.append(Middleware(FastCachedReads, api=app))
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.cors_origin_list():
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list(),
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "X-API-Key",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "Accept-Language",
                "X-Request-ID",
            ],
            expose_headers=EXPOSED_HEADERS,
        )

    app.add_middleware(SecurityHeaders)  # outermost: every answer gets them, errors included

    async def readiness() -> dict[str, Any]:
        gateway: Parts = app.state.gateway
        database, projects_ready, indicators_ready, redis = await asyncio.gather(
            asyncio.to_thread(schema_status, SERVICE, db.reader),
            gateway.projects.ready(),
            gateway.indicators.ready(),
            gateway.redis.status(),
        )
        checks: dict[str, Any] = {
            "database": database,
            "projects": projects_ready,
            "indicators": indicators_ready,
            "redis": redis,
        }
        for consumer in app.state.consumers:
            checks[f"stream_{consumer.group}"] = {
                "ok": consumer.last_error is None,
                "required": False,
                "detail": consumer.last_error,
            }
        return checks

    app.include_router(health_router(readiness))

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return metrics.response()

    # transfer before projects: /projects/import is not /projects/{project_id}
    for module in (auth, transfer, projects, indicators, rollups, reference, admin):
        app.include_router(module.router)
    app.include_router(auth.me_router)

    missing = unruled_routes(app)
    if missing:
        raise RuntimeError(
            "routes without a rule in services.gateway.roles.ROLE_RULES: " + ", ".join(missing)
        )
    uncached = sorted(set(CACHED_READS) - set(cached_routes(app)))
    if uncached:
        raise RuntimeError("cached reads without a GET route: " + ", ".join(uncached))
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    default: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_json_openapi(default())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
