"""Operations: health, readiness, metrics, request ids, settings (JWT secret, production)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.common.settings import ConfigurationError
from services.gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway, GatewayFactory
from tests.gateway.servers import closed_url


def test_health_and_ready(gw: Gateway) -> None:
    assert gw.client.get("/health").json() == {"status": "ok"}
    ready = gw.client.get("/ready")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["database"]["ok"] is True and checks["database"]["current"] == checks["database"]["head"]
    assert checks["projects"]["ok"] is True and checks["redis"]["ok"] is True


def test_ready_reports_a_service_down_without_failing(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(redis=False, PROJECTS_URL=closed_url())
    ready = gw.client.get("/ready")
    assert ready.status_code == 200, (
        "reads of the other service keep working, so the gateway stays in rotation"
    )
    assert ready.json()["checks"]["projects"] == {
        **ready.json()["checks"]["projects"],
        "ok": False,
        "required": False,
    }


def test_metrics_count_requests_by_route_template(gw: Gateway, admin: dict[str, str]) -> None:
    gw.client.get("/api/v1/projects/12345", headers=admin)
    gw.client.get("/api/v1/projects/67890", headers=admin)
    text = gw.client.get("/metrics").text
    assert (
        'gateway_requests_total{method="GET",route="/api/v1/projects/{project_id}",status="404"} 2.0' in text
    )
    assert "gateway_request_seconds_bucket" in text


def test_upstream_errors_are_counted(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(redis=False, PROJECTS_URL=closed_url())
    gw.client.get("/api/v1/projects", headers=gw.login("root", "admin"))
    assert (
        'gateway_upstream_errors_total{kind="unavailable",service="projects"} 1.0'
        in gw.client.get("/metrics").text
    )


def test_every_response_carries_a_request_id(gw: Gateway) -> None:
    for response in (
        gw.client.get("/api/v1/projects"),
        gw.client.get("/nowhere"),
        gw.client.get("/health"),
        gw.client.post("/api/v1/auth/token", data={"username": "x", "password": "y"}),
    ):
        assert response.headers["x-request-id"]
    assert gw.client.get("/health", headers={"X-Request-ID": "abc"}).headers["x-request-id"] == "abc"
    made = [gw.client.get("/health").headers["x-request-id"] for _ in range(3)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", made_id) for made_id in made) and len(set(made)) == 3


def test_passwords_and_tokens_are_never_logged(gw: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    gw.add_user("li", "viewer", password="very-secret-password")
    token = gw.token("li", "very-secret-password")
    gw.client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
    gw.client.post("/api/v1/auth/token", data={"username": "li", "password": "wrong-secret-password"})
    text = caplog.text
    assert "very-secret-password" not in text and "wrong-secret-password" not in text and token not in text


def test_jwt_secret_is_generated_once_in_the_data_dir(tmp_path: Path) -> None:
    settings = GatewaySettings(GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path}/gateway.db", JWT_SECRET=None)
    first = settings.resolved_jwt_secret()
    assert (tmp_path / "jwt-secret").read_text() == first and len(first) >= 32
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o777 == 0o600
    again = GatewaySettings(GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path}/gateway.db", JWT_SECRET=None)
    assert again.resolved_jwt_secret() == first, "a restart keeps tokens valid"


def test_production_needs_a_jwt_secret() -> None:
    settings = GatewaySettings(
        PORTFOLIO_ENV="production",
        INTERNAL_TOKEN="t" * 40,
        REDIS_URL="redis://r",
        GATEWAY_DATABASE_URL="postgresql://db/gateway",
        JWT_SECRET=None,
    )
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        settings.check_production()
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        settings.resolved_jwt_secret()
    GatewaySettings(
        PORTFOLIO_ENV="production",
        INTERNAL_TOKEN="t" * 40,
        REDIS_URL="redis://r",
        GATEWAY_DATABASE_URL="postgresql://db/gateway",
        JWT_SECRET="s" * 40,
    ).check_production()
