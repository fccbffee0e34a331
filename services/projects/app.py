"""The projects service: ``create_app(settings)`` wires the routes, the database, the
outbox relay and health checks. Nothing here holds a rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.common.db import Database
from services.common.http import base_app, health_router
from services.common.migrate import schema_status
from services.common.outbox import OutboxRelay
from services.projects.aggregates import CellsReconciler
from services.projects.models import OutboxEvent
from services.projects.routes import router
from services.projects.settings import ProjectsSettings
from services.projects.transfer_routes import router as transfer_router

SERVICE = "projects"


def create_app(settings: ProjectsSettings | None = None) -> FastAPI:
    settings = settings or ProjectsSettings()
    settings.check_production()
    db = Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        relay = None
        if settings.redis_url:
            relay = OutboxRelay(db.writer, OutboxEvent, settings.redis_url, settings.relay_interval_s)
            relay.start()
        app.state.relay = relay
        reconciler = CellsReconciler(db.writer, settings.cells_reconcile_interval_s)
        reconciler.start()
        try:
            yield
        finally:
            reconciler.stop()
            if relay is not None:
                relay.stop()
            db.dispose()

    app = base_app("Jinzhou portfolio: projects service", SERVICE, settings.log_json, lifespan=lifespan)
    app.state.settings = settings
    app.state.db = db
    app.state.relay = None

    async def readiness() -> dict[str, Any]:
        checks: dict[str, Any] = {"database": await asyncio.to_thread(schema_status, SERVICE, db.reader)}
        relay = app.state.relay
        if relay is not None:
            checks["outbox_relay"] = {
                "ok": relay.last_error is None,
                "required": False,
                "detail": relay.last_error,
            }
        return checks

    app.include_router(health_router(readiness))
    app.include_router(transfer_router, prefix="/api/v1")  # before /projects/{project_id}
    app.include_router(router, prefix="/api/v1")
    return app
