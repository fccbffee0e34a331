"""The role table: every route has a rule, every role against every write route, and a
manager's county scope (enforced by the services, passed through unchanged)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from services.gateway.roles import OPEN_PATHS, RANK, ROLE_RULES, unruled_routes
from tests.gateway.conftest import Gateway, GatewayFactory, project_body
from tests.gateway.servers import closed_url

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/projects"): project_body(),
    ("PATCH", "/api/v1/projects/{project_id}"): {"total_investment_wan": 5},
    ("POST", "/api/v1/projects/{project_id}/status"): {"status": "preparing"},
    ("POST", "/api/v1/projects/{project_id}/reports"): {"period": "2025-03", "physical_progress_pct": 10},
    ("POST", "/api/v1/indicators"): {
        "code": "X1",
        "name": "x",
        "category": "经济发展",
        "direction": "increase",
        "baseline_year": 2020,
        "target_year": 2025,
        "target_kind": "absolute",
    },
    ("POST", "/api/v1/projects/import"): {},  # an upload; any body shows the role check
    ("PATCH", "/api/v1/indicators/{indicator_id}"): {"name": "y"},
    ("POST", "/api/v1/indicators/{indicator_id}/observations"): {"year": 2023, "value": "1"},
    ("POST", "/api/v1/users"): {"username": "someone", "password": "password-123", "role": "viewer"},
    ("PATCH", "/api/v1/users/{user_id}"): {"role": "viewer"},
    ("POST", "/api/v1/api-keys"): {"name": "k", "role": "viewer"},
    ("POST", "/api/v1/webhooks"): {
        "url": "http://127.0.0.1:9/x",
        "events": ["*"],
        "secret": "0123456789abcdef",
    },
}
WRITES = sorted(key for key in ROLE_RULES if key[0] != "GET" and ROLE_RULES[key] != "public")
FORWARDED = re.compile(r"^/api/v1/(projects|indicators)")


def test_every_route_has_a_rule(gw: Gateway) -> None:
    assert unruled_routes(gw.app) == []
    declared = set()
    for context in iter_route_contexts(gw.app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.path not in OPEN_PATHS:
            declared |= {(method, route.path) for method in route.methods or ()}
    assert declared == set(ROLE_RULES), "the role table names routes the app does not have"


def test_every_write_route_has_a_body_for_this_test() -> None:
    for method, path in WRITES:
        assert method == "DELETE" or (method, path) in BODIES, f"add a body for {method} {path}"


@pytest.mark.parametrize("role", ["viewer", "manager", "admin"])
def test_each_role_against_each_write_route(make_gateway: GatewayFactory, role: str) -> None:
    """Below the rule: 403 from the gateway, before anything is forwarded (the services are
    unreachable here, so a forwarded call would be 503). At or above: passed on (503) or
    handled by the gateway itself (anything but 401/403)."""
    gw = make_gateway(redis=False, PROJECTS_URL=closed_url(), INDICATORS_URL=closed_url())
    headers = gw.login(f"{role}-user", role, ["heishan"])
    for method, template in WRITES:
        path = template.format(project_id=1, indicator_id=1, user_id=999, key_id=999, webhook_id=999)
        response = gw.client.request(
            method, path, json=BODIES.get((method, template)), headers={**headers, "If-Match": '"1-v1"'}
        )
        allowed = RANK[role] >= RANK[ROLE_RULES[(method, template)]]
        if not allowed:
            assert response.status_code == 403, (method, template, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        elif FORWARDED.match(template):
            assert response.status_code == 503, (method, template, response.text)
        else:
            assert response.status_code not in (401, 403), (method, template, response.text)


def test_reads_are_open_to_viewers_and_admin_lists_are_not(gw: Gateway) -> None:
    viewer = gw.login("vera", "viewer")
    assert gw.client.get("/api/v1/projects", headers=viewer).status_code == 200
    assert gw.client.get("/api/v1/reference/counties", headers=viewer).status_code == 200
    for path in ("/api/v1/users", "/api/v1/api-keys", "/api/v1/webhooks"):
        assert gw.client.get(path, headers=viewer).status_code == 403
    manager = gw.login("hei", "manager", ["heishan"])
    assert gw.client.get("/api/v1/users", headers=manager).status_code == 403


def test_manager_writes_in_its_county(gw: Gateway) -> None:
    manager = gw.login("hei", "manager", ["heishan"])
    created = gw.client.post("/api/v1/projects", json=project_body(), headers=manager)
    assert created.status_code == 201, created.text
    assert created.json()["can_edit"] is True and created.json()["allowed_transitions"]
    assert created.headers["location"] == f"/api/v1/projects/{created.json()['id']}"
    assert created.headers["etag"]


def test_manager_cannot_edit_other_county(gw: Gateway, admin: dict[str, str]) -> None:
    manager = gw.login("hei", "manager", ["heishan"])
    refused = gw.client.post("/api/v1/projects", json=project_body(county="beizhen"), headers=manager)
    assert refused.status_code == 403 and "beizhen" in refused.json()["detail"]
    other = gw.client.post("/api/v1/projects", json=project_body(county="beizhen"), headers=admin)
    seen = gw.client.get(f"/api/v1/projects/{other.json()['id']}", headers=manager)
    assert (
        seen.status_code == 200
        and seen.json()["can_edit"] is False
        and seen.json()["allowed_transitions"] == []
    )


def test_manager_cannot_move_a_project_into_another_county(gw: Gateway) -> None:
    manager = gw.login("hei", "manager", ["heishan"])
    created = gw.client.post("/api/v1/projects", json=project_body(), headers=manager)
    moved = gw.client.patch(
        f"/api/v1/projects/{created.json()['id']}",
        json={"county": "yixian"},
        headers={**manager, "If-Match": created.headers["etag"]},
    )
    assert moved.status_code == 403 and "yixian" in moved.json()["detail"]


def test_viewer_write_is_refused_in_both_languages(gw: Gateway) -> None:
    viewer = gw.login("vera", "viewer")
    zh = gw.client.post("/api/v1/projects", json=project_body(), headers=viewer)
    en = gw.client.post("/api/v1/projects", json=project_body(), headers={**viewer, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 403
    assert "只读" in zh.json()["detail"] and "viewer" in en.json()["detail"]


def test_api_key_role_and_counties_apply(gw: Gateway, admin: dict[str, str]) -> None:
    key = gw.client.post(
        "/api/v1/api-keys",
        json={"name": "hei-sync", "role": "manager", "counties": ["heishan"]},
        headers=admin,
    ).json()["key"]
    headers = {"X-API-Key": key}
    assert gw.client.post("/api/v1/projects", json=project_body(), headers=headers).status_code == 201
    assert (
        gw.client.post("/api/v1/projects", json=project_body(county="guta"), headers=headers).status_code
        == 403
    )
    assert gw.client.get("/api/v1/users", headers=headers).status_code == 403
