"""The library: create, read, update, soft delete, filters, sorting and cursor pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.projects.conftest import ADMIN, HEISHAN_MANAGER, VIEWER, new_project
from tests.support import MigratedDatabase


def test_create_returns_location_etag_and_derived_fields(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects",
        json={
            "code": "JZ-T1",
            "name": "锦州港航道",
            "sector": "port",
            "county": "binhai",
            "total_investment_wan": 49000,
            "start_year": 2021,
            "end_year": 2025,
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/api/v1/projects/{body['id']}"
    assert response.headers["etag"] == f'"{body["id"]}-v1"'
    assert body["sector_group"] == "infrastructure" and body["status"] == "planned" and body["version"] == 1


def test_duplicate_code_is_409(client: TestClient) -> None:
    new_project(client, code="DUP-1")
    response = client.post(
        "/api/v1/projects",
        json={
            "code": "DUP-1",
            "name": "b",
            "sector": "port",
            "county": "heishan",
            "total_investment_wan": 1,
            "start_year": 2021,
            "end_year": 2021,
        },
    )
    assert response.status_code == 409


def test_get_tells_the_caller_what_it_may_do(client: TestClient) -> None:
    project = new_project(client)
    as_manager = client.get(f"/api/v1/projects/{project['id']}", headers=HEISHAN_MANAGER).json()
    as_viewer = client.get(f"/api/v1/projects/{project['id']}", headers=VIEWER).json()
    assert as_manager["can_edit"] is True
    assert as_manager["allowed_transitions"] == ["preparing", "under_construction", "suspended", "cancelled"]
    assert as_viewer["can_edit"] is False and as_viewer["allowed_transitions"] == []


def test_manager_cannot_edit_other_county(client: TestClient) -> None:
    project = new_project(client, county="yixian")
    response = client.patch(
        f"/api/v1/projects/{project['id']}",
        json={"name": "改名"},
        headers={**HEISHAN_MANAGER, "If-Match": project["etag"]},
    )
    assert response.status_code == 403
    assert "义县" in response.json()["detail"]


def test_manager_cannot_move_a_project_into_a_county_it_does_not_manage(client: TestClient) -> None:
    project = new_project(client, county="heishan")
    response = client.patch(
        f"/api/v1/projects/{project['id']}",
        json={"county": "beizhen"},
        headers={**HEISHAN_MANAGER, "If-Match": project["etag"], "Accept-Language": "en"},
    )
    assert response.status_code == 403
    assert "beizhen" in response.json()["detail"]


def test_viewer_cannot_create(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects",
        headers=VIEWER,
        json={
            "name": "x",
            "sector": "port",
            "county": "heishan",
            "total_investment_wan": 1,
            "start_year": 2021,
            "end_year": 2021,
        },
    )
    assert response.status_code == 403


def test_patch_changes_only_sent_fields_and_records_history(client: TestClient) -> None:
    project = new_project(client, name="原名")
    response = client.patch(
        f"/api/v1/projects/{project['id']}",
        json={"total_investment_wan": 2500, "note": "调整概算"},
        headers={"If-Match": project["etag"]},
    )
    assert response.status_code == 200
    assert response.json()["name"] == "原名" and response.json()["total_investment_wan"] == 2500
    history = client.get(f"/api/v1/projects/{project['id']}/history").json()["items"]
    assert [h["kind"] for h in history] == ["create", "update"]
    assert history[1]["changed"] == {"total_investment_wan": {"before": 1000, "after": 2500}}
    assert history[1]["actor"] == "admin" and history[1]["note"] == "调整概算"


def test_soft_delete_hides_the_project_but_keeps_its_history(client: TestClient) -> None:
    project = new_project(client)
    response = client.delete(f"/api/v1/projects/{project['id']}", headers={"If-Match": project["etag"]})
    assert response.status_code == 204
    assert client.get(f"/api/v1/projects/{project['id']}").status_code == 404
    assert client.get("/api/v1/projects").json()["total"] == 0
    assert [h["kind"] for h in client.get(f"/api/v1/projects/{project['id']}/history").json()["items"]] == [
        "create",
        "delete",
    ]


def test_only_admin_deletes(client: TestClient) -> None:
    project = new_project(client)
    response = client.delete(
        f"/api/v1/projects/{project['id']}", headers={**HEISHAN_MANAGER, "If-Match": project["etag"]}
    )
    assert response.status_code == 403


def test_filters_narrow_the_list(client: TestClient) -> None:
    new_project(client, name="黑山花生园", county="heishan", sector="agri_park", total_investment_wan=500)
    new_project(
        client, name="义县铁路", county="yixian", sector="railway", total_investment_wan=5000, start_year=2022
    )
    new_project(client, name="北镇物流", county="beizhen", sector="logistics", total_investment_wan=900)

    def names(query: str) -> list[str]:
        response = client.get("/api/v1/projects?" + query)
        assert response.status_code == 200, response.text
        return sorted(p["name"] for p in response.json()["items"])

    assert names("county=heishan") == ["黑山花生园"]
    assert names("county=heishan,yixian") == ["义县铁路", "黑山花生园"]
    assert names("sector_group=infrastructure") == ["义县铁路"]
    assert names("sector=logistics") == ["北镇物流"]
    assert names("q=铁路") == ["义县铁路"]
    assert names("start_year=2022") == ["义县铁路"]
    assert names("min_investment_wan=600&max_investment_wan=1000") == ["北镇物流"]
    assert names("status=completed") == []


def test_unknown_filter_value_is_422(client: TestClient) -> None:
    response = client.get("/api/v1/projects?status=done")
    assert response.status_code == 422
    assert "planned" in response.json()["errors"][0]["message"]


def test_q_wildcards_are_literal(client: TestClient) -> None:
    new_project(client, name="百分之百%项目")
    new_project(client, name="普通项目")
    assert [p["name"] for p in client.get("/api/v1/projects", params={"q": "%"}).json()["items"]] == [
        "百分之百%项目"
    ]


def test_pages_by_cursor_survive_inserts_between_pages(client: TestClient) -> None:
    for i in range(7):
        new_project(client, name=f"项目{i}", total_investment_wan=100 * (i + 1))
    first = client.get("/api/v1/projects?limit=3&sort=-total_investment_wan").json()
    assert [p["total_investment_wan"] for p in first["items"]] == [700, 600, 500]
    assert first["total"] == 7
    new_project(client, name="新插入大项目", total_investment_wan=10_000)  # sorts before the cursor
    new_project(client, name="新插入小项目", total_investment_wan=50)  # sorts after
    seen = [p["total_investment_wan"] for p in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(
            "/api/v1/projects", params={"limit": 3, "sort": "-total_investment_wan", "cursor": cursor}
        ).json()
        seen += [p["total_investment_wan"] for p in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [700, 600, 500, 400, 300, 200, 100, 50]
    assert page["total"] == 9  # the last page's total, counted with the page


def test_a_page_past_the_end_is_empty_and_still_counts(client: TestClient) -> None:
    """The total rides on the page's rows; a page with no row counts on its own."""
    for i in range(3):
        new_project(client, county="yixian", total_investment_wan=100 * (i + 1))
    new_project(client, county="heishan", total_investment_wan=5)
    first = client.get("/api/v1/projects", params={"county": "yixian", "limit": 3}).json()
    assert first["total"] == 3 and first["next_cursor"] is None
    last_id = first["items"][-1]["id"]
    two = client.get("/api/v1/projects", params={"county": "yixian", "limit": 2}).json()
    third = client.get(f"/api/v1/projects/{last_id}")
    gone = client.delete(f"/api/v1/projects/{last_id}", headers={"If-Match": third.headers["etag"]})
    assert gone.status_code in (200, 204), gone.text
    page = client.get("/api/v1/projects", params={"county": "yixian", "cursor": two["next_cursor"]})
    assert page.status_code == 200, page.text
    assert page.json() == {"items": [], "next_cursor": None, "total": 2}


def test_cursor_of_another_sort_is_refused(client: TestClient) -> None:
    for i in range(3):
        new_project(client, name=f"p{i}")
    cursor = client.get("/api/v1/projects?limit=1&sort=name").json()["next_cursor"]
    assert client.get("/api/v1/projects", params={"cursor": cursor, "sort": "code"}).status_code == 422
    assert client.get("/api/v1/projects", params={"cursor": "garbage!!"}).status_code == 422


def test_sort_by_unknown_field_is_422(client: TestClient) -> None:
    assert client.get("/api/v1/projects?sort=password").status_code == 422


def test_limit_is_bounded(client: TestClient) -> None:
    assert client.get("/api/v1/projects?limit=501").status_code == 422
    assert client.get("/api/v1/projects?limit=0").status_code == 422


def test_parent_code_links_a_programme_part(client: TestClient) -> None:
    parent = new_project(client, code="PRG-1", total_investment_wan=300000)
    child = new_project(client, code="PRG-1-A", parent_code="PRG-1", total_investment_wan=120000)
    assert child["parent_id"] == parent["id"] and child["parent_code"] == "PRG-1"
    listed = {p["code"]: p["parent_code"] for p in client.get("/api/v1/projects").json()["items"]}
    assert listed == {"PRG-1": None, "PRG-1-A": "PRG-1"}  # a page carries its parents' codes
    missing = client.post(
        "/api/v1/projects",
        headers=ADMIN,
        json={
            "name": "x",
            "sector": "port",
            "county": "heishan",
            "total_investment_wan": 1,
            "start_year": 2021,
            "end_year": 2021,
            "parent_code": "NOPE",
        },
    )
    assert missing.status_code == 422


def test_timestamps_read_back_in_utc_on_every_backend(client: TestClient) -> None:
    project = new_project(client)
    read = client.get(f"/api/v1/projects/{project['id']}").json()
    assert read["created_at"].endswith(("Z", "+00:00"))
    assert read["created_at"] == project["created_at"]


def test_start_up_moves_its_objects_out_of_the_collectors_sight(projects_db: MigratedDatabase) -> None:
    """``freeze_startup_heap``: what lives after start-up is frozen (never walked again by
    the garbage collector); the requests after it work as before."""
    import gc

    from tests.projects.conftest import create_app, projects_settings

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with TestClient(create_app(projects_settings(projects_db.url))) as client:
        assert gc.get_freeze_count() > 10_000
        assert client.get("/api/v1/reference/statuses", headers=ADMIN).status_code == 200
