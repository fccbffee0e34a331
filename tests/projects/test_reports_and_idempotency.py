"""Monthly progress reports and Idempotency-Key on creating requests."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.projects.conftest import HEISHAN_MANAGER, VIEWER, new_project

REPORT = {
    "period": "2025-03",
    "investment_this_period_wan": 300,
    "physical_progress_pct": 20,
    "issues": "征地未完成",
    "next_steps": "完成征地",
}


def test_report_adds_investment_moves_status_and_is_audited(client: TestClient) -> None:
    project = new_project(client, total_investment_wan=1000)
    response = client.post(
        f"/api/v1/projects/{project['id']}/reports",
        json={**REPORT, "status": "under_construction"},
        headers=HEISHAN_MANAGER,
    )
    assert response.status_code == 201, response.text
    after = client.get(f"/api/v1/projects/{project['id']}").json()
    assert after["completed_investment_wan"] == 300 and after["status"] == "under_construction"
    assert after["physical_progress_pct"] == 20 and after["last_report_period"] == "2025-03"
    history = client.get(f"/api/v1/projects/{project['id']}/history").json()["items"]
    assert history[-1]["kind"] == "report" and history[-1]["actor"] == "hei"
    assert history[-1]["changed"]["completed_investment_wan"] == {"before": 0, "after": 300}
    reports = client.get(f"/api/v1/projects/{project['id']}/reports").json()["items"]
    assert [r["period"] for r in reports] == ["2025-03"]


def test_second_report_for_the_same_month_is_409(client: TestClient) -> None:
    project = new_project(client)
    assert client.post(f"/api/v1/projects/{project['id']}/reports", json=REPORT).status_code == 201
    again = client.post(f"/api/v1/projects/{project['id']}/reports", json=REPORT)
    assert again.status_code == 409
    assert client.get(f"/api/v1/projects/{project['id']}").json()["completed_investment_wan"] == 300


def test_report_with_an_illegal_status_move_is_409_and_changes_nothing(client: TestClient) -> None:
    project = new_project(client)
    response = client.post(
        f"/api/v1/projects/{project['id']}/reports", json={**REPORT, "status": "completed"}
    )
    assert response.status_code == 409
    assert client.get(f"/api/v1/projects/{project['id']}").json()["completed_investment_wan"] == 0
    assert client.get(f"/api/v1/projects/{project['id']}/reports").json()["items"] == []


def test_report_period_and_progress_are_validated(client: TestClient) -> None:
    project = new_project(client)
    for bad in (
        {**REPORT, "period": "2025-13"},
        {**REPORT, "period": "2025/03"},
        {**REPORT, "physical_progress_pct": 101},
    ):
        assert client.post(f"/api/v1/projects/{project['id']}/reports", json=bad).status_code == 422


def test_viewer_and_other_county_cannot_report(client: TestClient) -> None:
    project = new_project(client, county="yixian")
    assert (
        client.post(f"/api/v1/projects/{project['id']}/reports", json=REPORT, headers=VIEWER).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/projects/{project['id']}/reports", json=REPORT, headers=HEISHAN_MANAGER
        ).status_code
        == 403
    )


def test_report_retry_with_the_same_key_returns_the_first_answer(client: TestClient) -> None:
    project = new_project(client)
    url = f"/api/v1/projects/{project['id']}/reports"
    first = client.post(url, json=REPORT, headers={"Idempotency-Key": "r-1"})
    second = client.post(url, json=REPORT, headers={"Idempotency-Key": "r-1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert client.get(f"/api/v1/projects/{project['id']}").json()["completed_investment_wan"] == 300


def test_create_retry_with_the_same_key_creates_nothing_new(client: TestClient) -> None:
    body = {
        "name": "幂等",
        "sector": "port",
        "county": "heishan",
        "total_investment_wan": 1,
        "start_year": 2021,
        "end_year": 2021,
    }
    first = client.post("/api/v1/projects", json=body, headers={"Idempotency-Key": "k-1"})
    second = client.post("/api/v1/projects", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert (
        second.headers["location"] == first.headers["location"]
        and second.headers["etag"] == first.headers["etag"]
    )
    assert client.get("/api/v1/projects").json()["total"] == 1


def test_same_key_with_a_different_body_is_422(client: TestClient) -> None:
    body = {
        "name": "幂等",
        "sector": "port",
        "county": "heishan",
        "total_investment_wan": 1,
        "start_year": 2021,
        "end_year": 2021,
    }
    assert client.post("/api/v1/projects", json=body, headers={"Idempotency-Key": "k-2"}).status_code == 201
    response = client.post(
        "/api/v1/projects", json={**body, "total_investment_wan": 2}, headers={"Idempotency-Key": "k-2"}
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]
    assert client.get("/api/v1/projects").json()["total"] == 1


def test_keys_are_scoped_per_caller(client: TestClient) -> None:
    body = {
        "name": "幂等",
        "sector": "port",
        "county": "heishan",
        "total_investment_wan": 1,
        "start_year": 2021,
        "end_year": 2021,
    }
    client.post("/api/v1/projects", json=body, headers={"Idempotency-Key": "shared"})
    other = client.post(
        "/api/v1/projects", json=body, headers={**HEISHAN_MANAGER, "Idempotency-Key": "shared"}
    )
    assert other.status_code == 201
    assert client.get("/api/v1/projects").json()["total"] == 2
