"""Passing requests on: what the services answer comes back unchanged; what goes wrong
between the gateway and a service becomes a problem a person can act on."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.gateway.conftest import HAS_INDICATORS, Gateway, GatewayFactory, project_body
from tests.gateway.servers import StubServer, closed_url


def test_service_answers_pass_through_unchanged(gw: Gateway, admin: dict[str, str]) -> None:
    created = gw.client.post("/api/v1/projects", json=project_body(), headers=admin)
    assert created.status_code == 201 and created.headers["etag"] and created.headers["location"]
    url = created.headers["location"]
    assert gw.client.patch(url, json={"total_investment_wan": 2}, headers=admin).status_code == 428
    stale = gw.client.patch(url, json={"total_investment_wan": 2}, headers={**admin, "If-Match": '"x"'})
    assert stale.status_code == 412 and stale.headers["content-type"].startswith("application/problem+json")
    moved = gw.client.post(
        f"{url}/status", json={"status": "completed"}, headers={**admin, "If-Match": created.headers["etag"]}
    )
    assert moved.status_code == 409 and "allowed_transitions" in moved.json()
    missing = gw.client.get("/api/v1/projects/99999", headers={**admin, "Accept-Language": "en"})
    assert (
        missing.status_code == 404
        and "99999" in missing.json()["detail"]
        and "does not" in missing.json()["detail"]
    )


def test_idempotency_key_is_passed_on(gw: Gateway, admin: dict[str, str]) -> None:
    headers = {**admin, "Idempotency-Key": "create-once"}
    first = gw.client.post("/api/v1/projects", json=project_body(), headers=headers)
    again = gw.client.post("/api/v1/projects", json=project_body(), headers=headers)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    assert gw.client.get("/api/v1/projects", headers=admin).json()["total"] == 1


def test_request_id_is_passed_on_and_echoed(gw: Gateway, admin: dict[str, str]) -> None:
    created = gw.client.post(
        "/api/v1/projects", json=project_body(), headers={**admin, "X-Request-ID": "trace-42"}
    )
    assert created.headers["x-request-id"] == "trace-42"


def test_unknown_query_parameter_or_body_field_is_422_in_the_gateway(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(redis=False, PROJECTS_URL=closed_url())  # proves the gateway answers, not the service
    admin = gw.login("root", "admin")
    typo = gw.client.get("/api/v1/projects?countyy=heishan", headers=admin)
    assert typo.status_code == 422 and "countyy" in typo.json()["detail"]
    extra = gw.client.post("/api/v1/projects", json=project_body(colour="red"), headers=admin)
    assert extra.status_code == 422 and extra.json()["errors"][0]["loc"] == ["colour"]
    county = gw.client.post("/api/v1/projects", json=project_body(county="atlantis"), headers=admin)
    assert county.status_code == 422 and county.headers["content-type"].startswith("application/problem+json")
    assert gw.client.get("/api/v1/projects?limit=501", headers=admin).status_code == 422
    assert gw.client.get("/api/v1/rollups/sectors?level=3", headers=admin).status_code == 422


def test_a_stopped_service_is_503_naming_it_and_the_other_still_reads(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(redis=False, PROJECTS_URL=closed_url())
    admin = gw.login("root", "admin")
    zh = gw.client.get("/api/v1/projects", headers=admin)
    en = gw.client.get("/api/v1/projects", headers={**admin, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 503
    assert "项目服务" in zh.json()["detail"] and "projects service" in en.json()["detail"]
    assert en.json()["service"] == "projects" and en.headers["retry-after"]
    if HAS_INDICATORS:
        assert gw.client.get("/api/v1/indicators", headers=admin).status_code == 200
    assert gw.client.get("/api/v1/me", headers=admin).status_code == 200


def test_a_stopped_indicators_service_leaves_projects_readable(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(redis=False, INDICATORS_URL=closed_url())
    admin = gw.login("root", "admin")
    down = gw.client.get("/api/v1/indicators", headers={**admin, "Accept-Language": "en"})
    assert down.status_code == 503 and "indicators service" in down.json()["detail"]
    assert gw.client.get("/api/v1/projects", headers=admin).status_code == 200
    assert gw.client.post("/api/v1/projects", json=project_body(), headers=admin).status_code == 201
    counties = gw.client.get("/api/v1/rollups/counties", headers={**admin, "Accept-Language": "en"})
    assert counties.status_code == 200
    body = counties.json()
    assert len(body["rows"]) == 10 and all(row["indicators"] is None for row in body["rows"])
    assert body["warnings"][0]["service"] == "indicators" and body["warnings"][0]["status"] == 503
    assert (
        sum(row["total_investment_wan"] for row in body["rows"])
        == body["totals"]["total_investment_wan"]
        == 1000
    )


@pytest.fixture
def slow_service() -> Iterator[StubServer]:
    server = StubServer(lambda _n, _p: (200, "application/json", b'{"items": []}'), delay_s=3.0)
    yield server
    server.close()


def test_a_slow_service_is_504_within_the_timeout(
    make_gateway: GatewayFactory, slow_service: StubServer
) -> None:
    gw = make_gateway(redis=False, PROJECTS_URL=slow_service.url, UPSTREAM_TIMEOUT_S=0.5)
    admin = gw.login("root", "admin")
    started = time.monotonic()
    response = gw.client.get("/api/v1/projects", headers={**admin, "Accept-Language": "en"})
    assert response.status_code == 504 and "0.5 s" in response.json()["detail"]
    assert time.monotonic() - started < 2.5, "well before the service would have answered (3 s)"
    assert len(slow_service.requests) == 1, "a timeout is not retried"


@pytest.mark.parametrize(
    "answer",
    [
        (200, "text/html", b"<html>proxy error</html>"),
        (500, "application/json", b'{"oops": 1}'),
        (200, "application/json", b'{"truncated": '),
    ],
    ids=["html", "500", "broken-json"],
)
def test_a_malformed_answer_is_502(make_gateway: GatewayFactory, answer: tuple[int, str, bytes]) -> None:
    stub = StubServer(lambda _n, _p: answer)
    try:
        gw = make_gateway(redis=False, PROJECTS_URL=stub.url)
        admin = gw.login("root", "admin")
        response = gw.client.get("/api/v1/projects", headers={**admin, "Accept-Language": "en"})
        assert response.status_code == 502
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "projects service" in response.json()["detail"]
    finally:
        stub.close()


def test_the_internal_token_and_principal_go_with_each_call(make_gateway: GatewayFactory) -> None:
    stub = StubServer(
        lambda _n, _p: (200, "application/json", b'{"items": [], "next_cursor": null, "total": 0}')
    )
    try:
        gw = make_gateway(redis=False, PROJECTS_URL=stub.url)
        manager = gw.login("hei", "manager", ["heishan", "beizhen"])
        gw.client.get("/api/v1/projects?county=heishan", headers={**manager, "Accept-Language": "en"})
        seen = stub.requests[0]
        assert seen.path == "/api/v1/projects?county=heishan"
        assert seen.headers["x-internal-token"] == gw.settings.internal_token
        assert (seen.headers["x-actor"], seen.headers["x-actor-role"], seen.headers["x-actor-counties"]) == (
            "hei",
            "manager",
            "beizhen,heishan",
        )
        assert seen.headers["accept-language"] == "en" and seen.headers["x-request-id"]
        assert "authorization" not in seen.headers, "the caller's token stays in the gateway"
    finally:
        stub.close()


class DropFirstConnection:
    """A server that hangs up on its first connection without answering, then answers JSON."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        body = b'{"items": [], "next_cursor": null, "total": 0}'
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.recv(65536)
            if self.connections > 1:
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
            conn.close()


def test_a_read_is_retried_once_after_a_dropped_connection_and_a_write_is_not(
    make_gateway: GatewayFactory,
) -> None:
    read_server, write_server = DropFirstConnection(), DropFirstConnection()
    gw = make_gateway(redis=False, PROJECTS_URL=read_server.url)
    admin = gw.login("root", "admin")
    assert gw.client.get("/api/v1/projects", headers=admin).status_code == 200
    assert read_server.connections == 2
    gw.parts.projects.base_url = write_server.url
    assert gw.client.post("/api/v1/projects", json=project_body(), headers=admin).status_code == 503
    assert write_server.connections == 1
