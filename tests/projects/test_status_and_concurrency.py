"""Status transitions (one rule, every move) and optimistic concurrency."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.projects.reference import STATUS_ORDER, TRANSITIONS
from tests.projects.conftest import new_project

ALL_MOVES = [(a, b) for a in STATUS_ORDER for b in STATUS_ORDER if a != b]


def _project_in(client: TestClient, status: str) -> dict[str, Any]:
    return new_project(client, status=status)


@pytest.mark.parametrize(("current", "target"), ALL_MOVES)
def test_status_move_follows_the_transition_table(client: TestClient, current: str, target: str) -> None:
    project = _project_in(client, current)
    response = client.post(
        f"/api/v1/projects/{project['id']}/status",
        json={"status": target, "note": "测试"},
        headers={"If-Match": project["etag"], "Accept-Language": "en"},
    )
    if target in TRANSITIONS[current]:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == target and response.json()["status_note"] == "测试"
        assert response.headers["etag"] != project["etag"]
    else:
        assert response.status_code == 409
        problem = response.json()
        assert problem["allowed_transitions"] == [s for s in STATUS_ORDER if s in TRANSITIONS[current]]
        assert target in problem["detail"]


def test_patch_status_uses_the_same_rule(client: TestClient) -> None:
    project = new_project(client)
    response = client.patch(
        f"/api/v1/projects/{project['id']}",
        json={"status": "completed"},
        headers={"If-Match": project["etag"]},
    )
    assert response.status_code == 409
    assert "储备" in response.json()["detail"]


def test_status_change_without_if_match_is_428(client: TestClient) -> None:
    project = new_project(client)
    assert (
        client.post(f"/api/v1/projects/{project['id']}/status", json={"status": "preparing"}).status_code
        == 428
    )


def test_stale_etag_is_412_and_changes_nothing(client: TestClient) -> None:
    project = new_project(client)
    fresh = client.patch(
        f"/api/v1/projects/{project['id']}", json={"name": "第一次"}, headers={"If-Match": project["etag"]}
    )
    assert fresh.status_code == 200
    stale = client.patch(
        f"/api/v1/projects/{project['id']}", json={"name": "第二次"}, headers={"If-Match": project["etag"]}
    )
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == fresh.headers["etag"]
    assert client.get(f"/api/v1/projects/{project['id']}").json()["name"] == "第一次"


def test_etag_of_another_project_does_not_match(client: TestClient) -> None:
    a, b = new_project(client), new_project(client)
    assert (
        client.patch(
            f"/api/v1/projects/{a['id']}", json={"name": "x"}, headers={"If-Match": b["etag"]}
        ).status_code
        == 412
    )


def test_concurrent_writers_with_the_same_etag_exactly_one_wins(live_projects: str, backend: str) -> None:
    """Real concurrency: 12 threads over HTTP against a running server, one ETag."""
    from tests.support import caller_headers

    headers = caller_headers()
    with httpx.Client(base_url=live_projects, headers=headers, timeout=30) as http:
        created = http.post(
            "/api/v1/projects",
            json={
                "name": "并发",
                "sector": "port",
                "county": "heishan",
                "total_investment_wan": 1,
                "start_year": 2021,
                "end_year": 2021,
            },
        )
        project_id, etag = created.json()["id"], created.headers["etag"]
    results: list[int] = []
    barrier = threading.Barrier(12)

    def writer(n: int) -> None:
        with httpx.Client(base_url=live_projects, headers=headers, timeout=30) as http:
            barrier.wait()
            response = http.patch(
                f"/api/v1/projects/{project_id}",
                json={"total_investment_wan": 100 + n},
                headers={"If-Match": etag},
            )
            results.append(response.status_code)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200] + [412] * 11, results
    with httpx.Client(base_url=live_projects, headers=headers) as http:
        history = http.get(f"/api/v1/projects/{project_id}/history").json()["items"]
        assert [h["version"] for h in history] == [1, 2]
