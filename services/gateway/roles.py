"""Who may call which route: the one table of minimum roles.

Every route of the gateway has a rule here, keyed by method and path template; a route
without a rule makes ``create_app`` fail (and a test walks the app's route table), so a new
route cannot ship open by accident. ``public`` needs no credentials.

The gateway checks the role only. County scope (a manager writes only in its counties) is
enforced by the services, which know each project's and indicator's county.
"""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

MinRole = Literal["public", "viewer", "manager", "admin"]
RANK: dict[str, int] = {"public": 0, "viewer": 1, "manager": 2, "admin": 3}
API = "/api/v1"

ROLE_RULES: dict[tuple[str, str], MinRole] = {
    ("POST", f"{API}/auth/token"): "public",
    ("GET", f"{API}/me"): "viewer",
    # projects service
    ("GET", f"{API}/projects"): "viewer",
    ("POST", f"{API}/projects"): "manager",
    ("GET", f"{API}/projects/{{project_id}}"): "viewer",
    ("PATCH", f"{API}/projects/{{project_id}}"): "manager",
    ("DELETE", f"{API}/projects/{{project_id}}"): "admin",
    ("POST", f"{API}/projects/{{project_id}}/status"): "manager",
    ("GET", f"{API}/projects/{{project_id}}/history"): "viewer",
    ("POST", f"{API}/projects/{{project_id}}/reports"): "manager",
    ("GET", f"{API}/projects/{{project_id}}/reports"): "viewer",
    ("POST", f"{API}/projects/import"): "manager",
    ("GET", f"{API}/projects/import/template"): "viewer",
    ("GET", f"{API}/projects/export"): "viewer",
    ("GET", f"{API}/reference/counties"): "viewer",
    ("GET", f"{API}/reference/sectors"): "viewer",
    ("GET", f"{API}/reference/statuses"): "viewer",
    # indicators service
    ("GET", f"{API}/indicators"): "viewer",
    ("POST", f"{API}/indicators"): "admin",
    ("GET", f"{API}/indicators/{{indicator_id}}"): "viewer",
    ("PATCH", f"{API}/indicators/{{indicator_id}}"): "admin",
    ("GET", f"{API}/indicators/{{indicator_id}}/history"): "viewer",
    ("GET", f"{API}/indicators/{{indicator_id}}/observations"): "viewer",
    ("POST", f"{API}/indicators/{{indicator_id}}/observations"): "manager",
    ("GET", f"{API}/summary"): "viewer",
    ("GET", f"{API}/reference/indicator-categories"): "viewer",
    ("GET", f"{API}/reference/target-kinds"): "viewer",
    # composition
    ("GET", f"{API}/rollups"): "viewer",
    ("GET", f"{API}/rollups/counties"): "viewer",
    ("GET", f"{API}/rollups/sectors"): "viewer",
    # administration
    ("GET", f"{API}/users"): "admin",
    ("POST", f"{API}/users"): "admin",
    ("PATCH", f"{API}/users/{{user_id}}"): "admin",
    ("DELETE", f"{API}/users/{{user_id}}"): "admin",
    ("GET", f"{API}/api-keys"): "admin",
    ("POST", f"{API}/api-keys"): "admin",
    ("DELETE", f"{API}/api-keys/{{key_id}}"): "admin",
    ("GET", f"{API}/webhooks"): "admin",
    ("POST", f"{API}/webhooks"): "admin",
    ("DELETE", f"{API}/webhooks/{{webhook_id}}"): "admin",
    ("GET", f"{API}/webhooks/{{webhook_id}}/deliveries"): "admin",
}

#: routes outside /api/v1 that answer without credentials (probes, metrics, docs)
OPEN_PATHS = frozenset(
    {"/health", "/ready", "/metrics", f"{API}/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)


def rule_for(method: str, path: str) -> MinRole | None:
    return ROLE_RULES.get((method, path))


def allows(role: str, minimum: MinRole) -> bool:
    return RANK.get(role, 0) >= RANK[minimum]


def unruled_routes(app: FastAPI) -> list[str]:
    """Every method and path of ``app`` that has no rule (should be none)."""
    missing = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if getattr(route, "path", None) in OPEN_PATHS:
            continue
        if isinstance(route, APIRoute):
            for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
                if (method, route.path) not in ROLE_RULES:
                    missing.append(f"{method} {route.path}")
        else:
            missing.append(f"* {getattr(route, 'path', route)}")
    return missing
