"""Fuzzing the public API from its own OpenAPI document (schemathesis), every operation, as
admin, manager and viewer, against the real running gateway and services.

For every generated request: no 5xx, the status is one the operation documents, the body
matches the documented schema for that status, and every error is RFC 9457 problem
details (``application/problem+json`` with ``type``, ``title``, ``status``, ``detail``,
``instance``). Admin also gets invalid ("negative") requests: they must be refused with a
4xx problem, never a 5xx.

Kept small for CI (``RELIABILITY_FUZZ_EXAMPLES`` scales the counts; deterministic unless
``RELIABILITY_FUZZ_SEED`` is set). Webhook URLs are always pointed at a closed local port:
a fuzzer must never make the gateway call out to the Internet.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from tests.gateway.servers import closed_url
from tests.reliability.conftest import Live
from tests.reliability.infra import JWT_SECRET, project_body

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (dev extra)")
from schemathesis import checks as st_checks  # noqa: E402
from schemathesis.specs.openapi import checks as openapi_checks  # noqa: E402

SCALE = float(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "1"))
EXAMPLES = {"admin": 14, "manager": 6, "viewer": 5}
NEGATIVE_EXAMPLES = 8
FUZZ_SEED = os.environ.get("RELIABILITY_FUZZ_SEED")
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}

#: operations whose responses are not checked against a documented schema, and why
SCHEMA_EXCLUSIONS: dict[tuple[str, str], str] = {}


def _document() -> dict[str, Any]:
    """The gateway's OpenAPI document (built without starting anything)."""
    app = create_app(GatewaySettings(GATEWAY_DATABASE_URL="sqlite://", JWT_SECRET=JWT_SECRET))
    return app.openapi()


DOCUMENT = _document()
OPERATIONS = sorted(
    (method.upper(), path) for path, operations in DOCUMENT["paths"].items() for method in operations
)


@schemathesis.check
def problem_details(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error is RFC 9457 problem details whose ``status`` is the HTTP status."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(
            f"error {response.status_code} is {content_type!r}, not application/problem+json"
        )
    body = response.json()
    missing = PROBLEM_KEYS - set(body)
    if missing or body["status"] != response.status_code:
        raise AssertionError(f"not a problem details body (missing {sorted(missing)}): {body}")
    return True


CHECKS = [
    st_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    problem_details,
]


@pytest.fixture(scope="module")
def schema() -> Any:
    return schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def known(live: Live) -> dict[str, list[int]]:
    """A few rows of every kind, so that path parameters sometimes hit something real."""
    ids: dict[str, list[int]] = {
        "project_id": [],
        "indicator_id": [],
        "webhook_id": [],
        "key_id": [],
        "user_id": [],
    }
    with live.client() as admin:
        for county in ("heishan", "linghai", "guta"):
            created = admin.post(
                "/api/v1/projects", json=project_body(county=county, name=f"模糊测试 {county}")
            )
            assert created.status_code == 201, created.text
            ids["project_id"].append(created.json()["id"])
        for code, scope in (("FUZZ-1", "city"), ("FUZZ-2", "heishan")):
            indicator = admin.post(
                "/api/v1/indicators",
                json={
                    "code": code,
                    "name": "模糊测试指标",
                    "category": "经济发展",
                    "scope": scope,
                    "direction": "increase",
                    "baseline_year": 2020,
                    "baseline_value": "10",
                    "target_year": 2025,
                    "target_value": "20",
                    "target_kind": "absolute",
                },
            )
            assert indicator.status_code == 201, indicator.text
            ids["indicator_id"].append(indicator.json()["id"])
        hook = admin.post(
            "/api/v1/webhooks",
            json={"url": closed_url() + "/hook", "events": ["*"], "secret": "0123456789abcdef"},
        )
        ids["webhook_id"].append(hook.json()["id"])
        ids["key_id"].append(
            admin.post("/api/v1/api-keys", json={"name": "fuzz", "role": "viewer"}).json()["id"]
        )
    ids["own_user_id"] = [
        httpx.get(f"{live.gateway_url}/api/v1/me", headers=live.headers(role), timeout=10).json()["id"]
        for role in ("admin", "manager", "viewer")
    ]
    return ids


def _aim(
    case: Any, data: st.DataObject, known: dict[str, list[int]], live: Live, headers: dict[str, str]
) -> None:
    """Steer a generated case towards real rows and valid ETags some of the time, keep it
    from changing the accounts it runs as, and keep webhooks on this machine."""
    case.headers = {
        k: v for k, v in (case.headers or {}).items() if k.lower() not in ("authorization", "x-api-key")
    }
    for name, value in list((case.path_parameters or {}).items()):
        if name == "user_id" and value in known["own_user_id"]:
            case.path_parameters[name] = value + 1000
        elif name in known and known[name] and data.draw(st.booleans(), label=f"real {name}"):
            case.path_parameters[name] = data.draw(st.sampled_from(known[name]), label=name)
    if case.method.upper() in ("PATCH", "DELETE", "POST") and data.draw(st.booleans(), label="fresh etag"):
        target = None
        if "project_id" in (case.path_parameters or {}):
            target = f"/api/v1/projects/{case.path_parameters['project_id']}"
        elif "indicator_id" in (case.path_parameters or {}):
            target = f"/api/v1/indicators/{case.path_parameters['indicator_id']}"
        if target:
            current = httpx.get(live.gateway_url + target, headers=headers, timeout=10)
            if "etag" in current.headers:
                case.headers["If-Match"] = current.headers["etag"]
    if case.path == "/api/v1/webhooks" and isinstance(case.body, dict) and "url" in case.body:
        case.body["url"] = closed_url() + "/hook"


def _run(
    operation: Any,
    mode: Any,
    examples: int,
    call: Callable[[Any, st.DataObject], None],
) -> None:
    @settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        derandomize=FUZZ_SEED is None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def fuzz(case: Any, data: st.DataObject) -> None:
        call(case, data)

    if FUZZ_SEED is not None:
        fuzz = seed(int(FUZZ_SEED))(fuzz)
    fuzz()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_holds_its_contract_for_every_role(
    live: Live,
    schema: Any,
    known: dict[str, list[int]],
    method: str,
    path: str,
    record: Callable[[str], None],
) -> None:
    """Generated requests (valid ones as admin, manager and viewer; invalid ones as admin):
    no 5xx, documented status and schema, errors as problem details."""
    operation = schema[path][method]
    statuses: Counter[str] = Counter()
    roles = ["admin"] if path == "/api/v1/auth/token" else ["admin", "manager", "viewer"]
    for role in roles:
        headers = live.headers(role)

        def call(case: Any, data: st.DataObject, headers: dict[str, str] = headers, role: str = role) -> None:
            _aim(case, data, known, live, headers)
            response = case.call(base_url=live.gateway_url, headers=headers, timeout=30)
            statuses[f"{role[0]}{response.status_code}"] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)

        _run(operation, schemathesis.GenerationMode.POSITIVE, EXAMPLES[role], call)
        if role == "admin":
            with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (GET /me, reference lists …)
                _run(operation, schemathesis.GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, call)
    record("statuses " + " ".join(f"{key}×{count}" for key, count in sorted(statuses.items())))
