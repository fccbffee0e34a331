"""Reference codes and input validation of the projects service."""

from __future__ import annotations

from fastapi.testclient import TestClient

from services.projects import reference
from tests.projects.conftest import ADMIN, new_project


def test_reference_lists_every_fixed_code(client: TestClient) -> None:
    counties = {c["code"] for c in client.get("/api/v1/reference/counties").json()["items"]}
    statuses = {s["code"] for s in client.get("/api/v1/reference/statuses").json()["items"]}
    groups = client.get("/api/v1/reference/sectors").json()["items"]
    assert counties == {
        "guta",
        "linghe",
        "taihe",
        "linghai",
        "beizhen",
        "heishan",
        "yixian",
        "binhai",
        "songshan",
        "citywide",
    }
    assert statuses == {"planned", "preparing", "under_construction", "suspended", "completed", "cancelled"}
    assert {g["code"] for g in groups} == {
        "agriculture",
        "industry",
        "high_tech",
        "services",
        "infrastructure",
        "ecology",
        "social",
    }
    assert all(child["group"] == g["code"] for g in groups for child in g["children"])
    assert sum(len(g["children"]) for g in groups) == len(reference.SECTORS)


def test_unknown_county_is_422_naming_field_and_allowed_values(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects",
        json={
            "name": "x",
            "sector": "port",
            "county": "atlantis",
            "total_investment_wan": 1,
            "start_year": 2021,
            "end_year": 2022,
        },
        headers={**ADMIN, "Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(problem)
    [error] = problem["errors"]
    assert error["loc"] == ["county"]
    assert "atlantis" in error["message"] and "heishan" in error["message"]


def test_validation_messages_are_chinese_by_default(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects",
        json={
            "name": "",
            "sector": "port",
            "county": "heishan",
            "total_investment_wan": -1,
            "start_year": 2021,
            "end_year": 2022,
        },
    )
    assert response.status_code == 422
    messages = " ".join(e["message"] for e in response.json()["errors"])
    assert "不能为空" in messages and "不小于 0" in messages
    assert response.json()["title"] == "输入有误"


def test_unknown_body_field_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects",
        json={
            "name": "x",
            "sector": "port",
            "county": "heishan",
            "total_investment_wan": 1,
            "start_year": 2021,
            "end_year": 2022,
            "totl_investment": 5,
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["totl_investment"]


def test_unknown_query_parameter_is_422_not_the_whole_library(client: TestClient) -> None:
    new_project(client)
    response = client.get("/api/v1/projects?countyy=heishan")
    assert response.status_code == 422
    assert "countyy" in response.json()["detail"]


def test_start_after_end_year_is_refused(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects",
        json={
            "name": "x",
            "sector": "port",
            "county": "heishan",
            "total_investment_wan": 1,
            "start_year": 2025,
            "end_year": 2021,
        },
    )
    assert response.status_code == 422


def test_fractional_money_is_refused(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects",
        json={
            "name": "x",
            "sector": "port",
            "county": "heishan",
            "total_investment_wan": 1.5,
            "start_year": 2021,
            "end_year": 2021,
        },
    )
    assert response.status_code == 422


def test_shares_must_sum_to_100(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects",
        json={
            "name": "x",
            "sector": "port",
            "county": "heishan",
            "total_investment_wan": 1,
            "start_year": 2021,
            "end_year": 2021,
            "county_shares": {"heishan": 60, "beizhen": 30},
        },
    )
    assert response.status_code == 422
    assert "100" in response.json()["errors"][0]["message"]


def test_without_internal_token_the_service_refuses(client: TestClient) -> None:
    response = client.get("/api/v1/projects", headers={"X-Internal-Token": "wrong"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    assert (
        client.get("/api/v1/projects", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    assert len(client.get("/health").headers["x-request-id"]) == 32


def test_over_budget_is_accepted_and_flagged(client: TestClient) -> None:
    project = new_project(client, total_investment_wan=100, completed_investment_wan=150)
    assert project["over_budget"] is True
    rollup = client.get("/api/v1/rollups?by=status").json()
    assert rollup["totals"]["over_budget"] == 1


def test_ready_reports_migrations_at_head(client: TestClient) -> None:
    body = client.get("/ready").json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["current"] == body["checks"]["database"]["head"]
