"""The indicator library through the service's HTTP API: create, read, list and filter,
change with If-Match, history, and the error format."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.indicators.conftest import ADMIN, ADMIN_EN, COUNTY, GDP, PM25, new_indicator, observe

# --------------------------------------------------------------------------- create and read


def test_create_answers_201_with_location_etag_and_progress(client: TestClient) -> None:
    response = client.post("/api/v1/indicators", json=GDP)

    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/api/v1/indicators/{body['id']}"
    assert response.headers["etag"] == f'"{body["id"]}-v1"'
    assert body["code"] == "FYP14-01"
    assert (
        body["baseline_value"] == 1074 and body["target_value"] == 1500 and body["target_growth_pct"] == 6.5
    )
    assert body["at_risk_band_pts"] == 10
    assert body["observations"] == []
    assert body["progress"]["status"] == "no_data"


def test_detail_carries_current_observations_by_year_and_etag(client: TestClient) -> None:
    gdp = new_indicator(client)
    observe(client, gdp["id"], 2023, 1210)
    observe(client, gdp["id"], 2021, 1120)

    response = client.get(f"/api/v1/indicators/{gdp['id']}")

    assert response.status_code == 200
    assert response.headers["etag"] == f'"{gdp["id"]}-v3"'
    assert [(o["year"], o["value"]) for o in response.json()["observations"]] == [(2021, 1120), (2023, 1210)]


def test_unknown_indicator_is_404_problem(client: TestClient) -> None:
    response = client.get("/api/v1/indicators/999")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "指标 999 不存在。"


def test_duplicate_code_is_409(client: TestClient) -> None:
    new_indicator(client)

    response = client.post("/api/v1/indicators", json=GDP)

    assert response.status_code == 409
    assert "FYP14-01" in response.json()["detail"]


def test_unknown_body_field_is_422_naming_it(client: TestClient) -> None:
    response = client.post("/api/v1/indicators", json={**GDP, "target": 1500})

    assert response.status_code == 422
    assert {"loc": ["target"], "message": "不认识的字段，请检查拼写"} in response.json()["errors"]


def test_citywide_scope_is_refused_pointing_to_city(client: TestClient) -> None:
    response = client.post("/api/v1/indicators", json={**GDP, "scope": "citywide"}, headers=ADMIN_EN)

    assert response.status_code == 422
    assert "use city for city-level indicators" in response.json()["errors"][0]["message"]


def test_target_year_outside_the_period_is_422(client: TestClient) -> None:
    response = client.post("/api/v1/indicators", json={**GDP, "target_year": 2026}, headers=ADMIN_EN)

    assert response.status_code == 422
    assert "target_year 2026 is outside the period 2021–2025" in response.json()["errors"][0]["message"]


def test_values_beyond_what_is_stored_exactly_are_422(client: TestClient) -> None:
    response = client.post("/api/v1/indicators", json={**GDP, "target_value": "1500.1234567"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["target_value"]


def test_decimal_values_come_back_exactly(client: TestClient) -> None:
    created = new_indicator(client, target_value="1234567.123456", baseline_value="0.000001")

    body = client.get(f"/api/v1/indicators/{created['id']}").json()

    assert body["target_value"] == 1234567.123456
    assert body["baseline_value"] == 0.000001


def test_period_defaults_to_after_the_baseline_until_the_target_year(client: TestClient) -> None:
    fields = {k: v for k, v in GDP.items() if k not in ("period_start", "period_end")}

    created = client.post("/api/v1/indicators", json=fields).json()

    assert (created["period_start"], created["period_end"]) == (2021, 2025)


def test_a_csv_row_posts_as_it_is_with_blanks(client: TestClient) -> None:
    row = {
        "code": "FYP14-05",
        "name": "三次产业结构",
        "name_en": "Structure of the three sectors",
        "category": "经济发展",
        "unit": "%",
        "scope": "city",
        "direction": "increase",
        "baseline_year": "2020",
        "baseline_value": "",
        "baseline_text": "19:26:55",
        "target_year": "2025",
        "target_value": "",
        "target_text": "14:39:47",
        "target_growth_pct": "",
        "growth_text": "",
        "target_kind": "ratio",
        "attribute": "",
        "period_start": "2021",
        "period_end": "2025",
        "source": "plan:table14",
        "plan_line": "211",
        "quote": "",
    }

    response = client.post("/api/v1/indicators", json=row)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["baseline_value"] is None and body["attribute"] is None and body["plan_line"] == 211
    assert body["progress"]["status"] == "not_measurable"


# --------------------------------------------------------------------------- list and filters


def _codes(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["code"] for item in response.json()["items"]]


def test_list_filters_by_category_scope_kind_and_search(client: TestClient) -> None:
    new_indicator(client)
    new_indicator(client, **PM25)
    new_indicator(client, **COUNTY)

    assert _codes(client.get("/api/v1/indicators", params={"category": "生态环境"})) == ["FYP14-18"]
    assert _codes(client.get("/api/v1/indicators", params={"scope": "heishan"})) == ["T-HEISHAN"]
    assert _codes(client.get("/api/v1/indicators", params={"scope": "city,heishan"})) == [
        "FYP14-01",
        "FYP14-18",
        "T-HEISHAN",
    ]
    assert _codes(client.get("/api/v1/indicators", params={"target_kind": "approximately"})) == ["FYP14-01"]
    assert _codes(client.get("/api/v1/indicators", params={"q": "pm2.5"})) == ["FYP14-18"]
    assert _codes(client.get("/api/v1/indicators", params={"q": "生产总值"})) == ["FYP14-01"]
    assert _codes(client.get("/api/v1/indicators", params={"code": "T-HEISHAN"})) == ["T-HEISHAN"]


def test_list_filters_by_computed_status(client: TestClient) -> None:
    gdp = new_indicator(client)
    pm25 = new_indicator(client, **PM25)
    new_indicator(client, **COUNTY)
    observe(client, gdp["id"], 2023, 1210)  # off track
    observe(client, pm25["id"], 2023, 38)  # on track

    response = client.get("/api/v1/indicators", params={"status": "on_track,no_data"})

    assert _codes(response) == ["FYP14-18", "T-HEISHAN"]
    assert response.json()["total"] == 2


def test_list_pages_by_id_with_a_stable_cursor(client: TestClient) -> None:
    for n in range(5):
        new_indicator(client, code=f"G-{n}")

    first = client.get("/api/v1/indicators", params={"limit": 2}).json()
    new_indicator(client, code="G-new")  # added meanwhile: lands on a later page, never repeats one
    second = client.get("/api/v1/indicators", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = client.get("/api/v1/indicators", params={"limit": 2, "cursor": second["next_cursor"]}).json()

    assert [i["code"] for i in first["items"]] == ["G-0", "G-1"]
    assert [i["code"] for i in second["items"]] == ["G-2", "G-3"]
    assert [i["code"] for i in third["items"]] == ["G-4", "G-new"]
    assert first["total"] == 5 and third["total"] == 6
    assert third["next_cursor"] is None


def test_status_filter_pages_with_the_same_cursor(client: TestClient) -> None:
    for n in range(3):
        new_indicator(client, code=f"G-{n}")

    first = client.get("/api/v1/indicators", params={"limit": 2, "status": "no_data"}).json()
    second = client.get(
        "/api/v1/indicators", params={"limit": 2, "status": "no_data", "cursor": first["next_cursor"]}
    ).json()

    assert [i["code"] for i in first["items"] + second["items"]] == ["G-0", "G-1", "G-2"]
    assert second["next_cursor"] is None and second["total"] == 3


def test_unknown_query_parameter_is_422_naming_it(client: TestClient) -> None:
    response = client.get("/api/v1/indicators", params={"scop": "city"}, headers=ADMIN_EN)

    assert response.status_code == 422
    assert response.json()["detail"].startswith("Unknown query parameter: scop.")


def test_unknown_filter_values_are_422(client: TestClient) -> None:
    response = client.get("/api/v1/indicators", params={"status": "late", "scope": "mars"})

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "scope"], ["query", "status"]]


def test_limit_above_500_and_bad_cursor_are_422(client: TestClient) -> None:
    assert client.get("/api/v1/indicators", params={"limit": 501}).status_code == 422
    assert client.get("/api/v1/indicators", params={"cursor": "not-a-cursor"}).status_code == 422


# --------------------------------------------------------------------------- change


def test_patch_without_if_match_is_428(client: TestClient) -> None:
    gdp = new_indicator(client)

    response = client.patch(f"/api/v1/indicators/{gdp['id']}", json={"target_value": 1550})

    assert response.status_code == 428


def test_patch_with_a_stale_etag_is_412_and_changes_nothing(client: TestClient) -> None:
    gdp = new_indicator(client)
    client.patch(
        f"/api/v1/indicators/{gdp['id']}",
        json={"name_en": "Gross domestic product"},
        headers={**ADMIN, "If-Match": gdp["etag"]},
    )

    response = client.patch(
        f"/api/v1/indicators/{gdp['id']}",
        json={"target_value": 1550},
        headers={**ADMIN, "If-Match": gdp["etag"]},
    )

    assert response.status_code == 412
    assert response.json()["current_etag"] == f'"{gdp["id"]}-v2"'
    assert client.get(f"/api/v1/indicators/{gdp['id']}").json()["target_value"] == 1500


def test_patch_changes_the_fields_sent_and_moves_the_version(client: TestClient) -> None:
    gdp = new_indicator(client)

    response = client.patch(
        f"/api/v1/indicators/{gdp['id']}",
        json={"target_value": 1550, "at_risk_band_pts": 5, "note": "中期调整"},
        headers={**ADMIN, "If-Match": gdp["etag"]},
    )

    assert response.status_code == 200
    assert response.headers["etag"] == f'"{gdp["id"]}-v2"'
    body = response.json()
    assert (body["target_value"], body["at_risk_band_pts"], body["version"]) == (1550, 5, 2)
    assert body["name"] == "地区生产总值"


def test_patch_refuses_null_for_a_required_field_and_inconsistent_years(client: TestClient) -> None:
    gdp = new_indicator(client)
    headers = {**ADMIN, "If-Match": gdp["etag"]}

    assert (
        client.patch(f"/api/v1/indicators/{gdp['id']}", json={"name": None}, headers=headers).status_code
        == 422
    )
    response = client.patch(f"/api/v1/indicators/{gdp['id']}", json={"period_end": 2024}, headers=headers)
    assert response.status_code == 422
    assert "2025" in response.json()["detail"]


def test_patch_to_an_existing_code_is_409(client: TestClient) -> None:
    gdp = new_indicator(client)
    new_indicator(client, **PM25)

    response = client.patch(
        f"/api/v1/indicators/{gdp['id']}",
        json={"code": "FYP14-18"},
        headers={**ADMIN, "If-Match": gdp["etag"]},
    )

    assert response.status_code == 409


def test_patch_sending_the_current_values_changes_nothing(client: TestClient) -> None:
    gdp = new_indicator(client)

    response = client.patch(
        f"/api/v1/indicators/{gdp['id']}",
        json={"target_value": 1500},
        headers={**ADMIN, "If-Match": gdp["etag"]},
    )

    assert response.status_code == 200
    assert response.headers["etag"] == gdp["etag"]
    assert len(client.get(f"/api/v1/indicators/{gdp['id']}/history").json()["items"]) == 1


def test_history_lists_every_change_oldest_first_with_before_and_after(client: TestClient) -> None:
    gdp = new_indicator(client)
    client.patch(
        f"/api/v1/indicators/{gdp['id']}",
        json={"target_value": 1550, "note": "中期调整"},
        headers={**ADMIN, "If-Match": gdp["etag"]},
    )
    observe(client, gdp["id"], 2021, 1120)

    items = client.get(f"/api/v1/indicators/{gdp['id']}/history").json()["items"]

    assert [(i["kind"], i["version"]) for i in items] == [("create", 1), ("update", 2), ("observation", 3)]
    assert items[1]["changed"] == {"target_value": {"before": 1500, "after": 1550}}
    assert items[1]["note"] == "中期调整" and items[1]["actor"] == "admin"
    assert items[2]["after"]["value"] == 1120


# --------------------------------------------------------------------------- errors


def test_problem_details_are_in_chinese_by_default_and_english_on_request(client: TestClient) -> None:
    zh = client.get("/api/v1/indicators/999").json()
    en = client.get("/api/v1/indicators/999", headers=ADMIN_EN).json()

    assert set(zh) == {"type", "title", "status", "detail", "instance"}
    assert (zh["title"], zh["detail"]) == ("未找到", "指标 999 不存在。")
    assert (en["title"], en["detail"]) == ("Not found", "Indicator 999 does not exist.")
    assert zh["type"].endswith("/not-found") and zh["instance"] == "/api/v1/indicators/999"


def test_validation_problem_lists_errors_in_the_request_language(client: TestClient) -> None:
    body = {**GDP, "direction": "up"}

    zh = client.post("/api/v1/indicators", json=body).json()
    en = client.post("/api/v1/indicators", json=body, headers=ADMIN_EN).json()

    assert zh["status"] == 422 and zh["errors"][0]["loc"] == ["direction"]
    assert zh["errors"][0]["message"].startswith("取值无效")
    assert en["errors"][0]["message"].startswith("Not an allowed value")


def test_calls_without_the_internal_token_are_401(client: TestClient) -> None:
    response = client.get("/api/v1/indicators", headers={"X-Internal-Token": "wrong"})

    assert response.status_code == 401
