"""Black-box: the outside client's contract smoke test against a real running gateway and
projects service, and a client generated from the OpenAPI document."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.gateway.app import create_app
from services.gateway.cli import ensure_admin
from tests.gateway.conftest import ADMIN_PASSWORD, Gateway, Stack, flush_redis, gateway_settings
from tests.support import LiveServer

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT.parent / "shared" / "acceptance" / "contract_smoke.py"
CODEGEN = shutil.which("datamodel-codegen", path=str(Path(sys.executable).parent))


@pytest.fixture
def running_gateway(stack: Stack) -> Iterator[str]:
    stack.clean()
    flush_redis()
    settings = gateway_settings(stack, redis=True, PORTFOLIO_ADMIN_PASSWORD=ADMIN_PASSWORD)
    assert ensure_admin(settings) is None, "the password is set, so none is generated"
    server = LiveServer(create_app(settings)).start()
    yield server.url
    server.stop()


@pytest.mark.skipif(not SMOKE.exists(), reason=f"{SMOKE} not found")
def test_contract_smoke_passes_against_the_running_gateway(running_gateway: str) -> None:
    result = subprocess.run(
        ["python3", str(SMOKE), "--base", running_gateway, "--user", "admin", "--password", ADMIN_PASSWORD],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout


def test_openapi_lists_every_route_with_models_errors_and_examples(gw: Gateway) -> None:
    schema = gw.client.get("/api/v1/openapi.json").json()
    create = schema["paths"]["/api/v1/projects"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ProjectCreate")
    assert create["requestBody"]["content"]["application/json"]["examples"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ProjectRead"
    )
    problem = create["responses"]["422"]["content"]["application/problem+json"]
    assert problem["schema"]["$ref"].endswith("/ProblemDetails") and problem["example"]["status"] == 422
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert (
                "200" in operation["responses"]
                or "201" in operation["responses"]
                or "204" in operation["responses"]
            ), (method, path)
            assert any(code.startswith("4") for code in operation["responses"]), (method, path)
    assert {"OAuth2PasswordBearer", "APIKeyHeader"} <= set(schema["components"]["securitySchemes"])
    assert gw.client.get("/docs").status_code == 200


@pytest.mark.skipif(CODEGEN is None, reason="datamodel-code-generator is not installed")
def test_a_client_generated_from_openapi_lists_creates_and_updates(
    gw: Gateway, admin: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "openapi.json").write_text(json.dumps(gw.client.get("/api/v1/openapi.json").json()))
    subprocess.run(
        [
            str(CODEGEN),
            "--input",
            str(tmp_path / "openapi.json"),
            "--input-file-type",
            "openapi",
            "--output",
            str(tmp_path / "portfolio_client.py"),
            "--output-model-type",
            "pydantic_v2.BaseModel",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    spec = importlib.util.spec_from_file_location("portfolio_client", tmp_path / "portfolio_client.py")
    assert spec and spec.loader
    client_models = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "portfolio_client", client_models)
    spec.loader.exec_module(client_models)

    def call(method: str, path: str, body: object = None, **headers: str) -> httpx.Response:
        payload = body.model_dump(mode="json", exclude_none=True) if body is not None else None  # type: ignore[attr-defined]
        return gw.client.request(method, path, json=payload, headers={**admin, **headers})

    new = client_models.ProjectCreate(
        name="生成客户端项目",
        sector="agri_park",
        county="heishan",
        total_investment_wan=10,
        start_year=2022,
        end_year=2024,
    )
    created = call("POST", "/api/v1/projects", new)
    assert created.status_code == 201, created.text
    project = client_models.ProjectRead.model_validate(created.json())
    listed = client_models.ProjectList.model_validate(call("GET", "/api/v1/projects").json())
    assert [p.id for p in listed.items] == [project.id] and listed.total == 1
    change = client_models.ProjectUpdate(total_investment_wan=20)
    updated = call("PATCH", f"/api/v1/projects/{project.id}", change, **{"If-Match": created.headers["etag"]})
    assert updated.status_code == 200, updated.text
    assert client_models.ProjectRead.model_validate(updated.json()).total_investment_wan == 20
