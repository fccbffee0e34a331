"""Observations: one current value per indicator and year; a correction is a new revision
and the old one stays in history; retries are idempotent."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.indicators.conftest import ADMIN, ADMIN_EN, GDP, new_indicator, observe


def _url(indicator_id: int) -> str:
    return f"/api/v1/indicators/{indicator_id}/observations"


def test_recording_answers_201_with_the_observation_and_the_new_progress(client: TestClient) -> None:
    gdp = new_indicator(client)

    response = client.post(
        _url(gdp["id"]), json={"year": 2023, "value": 1210, "note": "统计公报", "source": "tjj"}
    )

    assert response.status_code == 201
    assert response.headers["etag"] == f'"{gdp["id"]}-v2"'
    body = response.json()
    assert (body["year"], body["value"], body["revision"], body["is_current"]) == (2023, 1210, 1, True)
    assert (body["note"], body["source"], body["actor"]) == ("统计公报", "tjj", "admin")
    assert body["progress"]["status"] == "off_track"


def test_a_correction_keeps_the_old_value_in_history(client: TestClient) -> None:
    gdp = new_indicator(client)
    observe(client, gdp["id"], 2023, 1210)

    corrected = observe(client, gdp["id"], 2023, 1230, note="统计年鉴修订")

    assert (corrected["revision"], corrected["value"]) == (2, 1230)
    current = client.get(_url(gdp["id"])).json()["items"]
    assert [(o["year"], o["value"], o["revision"]) for o in current] == [(2023, 1230, 2)]
    history = client.get(_url(gdp["id"]), params={"history": "true"}).json()["items"]
    assert [(o["value"], o["revision"], o["is_current"]) for o in history] == [
        (1210, 1, False),
        (1230, 2, True),
    ]
    assert history[0]["superseded_at"] is not None and history[1]["superseded_at"] is None


def test_a_correction_is_audited_with_the_previous_value(client: TestClient) -> None:
    gdp = new_indicator(client)
    observe(client, gdp["id"], 2023, 1210)
    observe(client, gdp["id"], 2023, 1230, note="统计年鉴修订")

    last = client.get(f"/api/v1/indicators/{gdp['id']}/history").json()["items"][-1]

    assert last["kind"] == "correction"
    assert last["changed"]["value"] == {"before": 1210, "after": 1230}
    assert last["note"] == "统计年鉴修订"


def test_progress_uses_the_corrected_value(client: TestClient) -> None:
    gdp = new_indicator(client)
    observe(client, gdp["id"], 2023, 1210)
    observe(client, gdp["id"], 2023, 1400)

    progress = client.get(f"/api/v1/indicators/{gdp['id']}").json()["progress"]

    assert (progress["latest_value"], progress["progress_pct"]) == (1400, 76.5)


def test_recording_the_current_value_again_changes_nothing(client: TestClient) -> None:
    gdp = new_indicator(client)
    first = observe(client, gdp["id"], 2023, 1210, note="公报")

    again = client.post(_url(gdp["id"]), json={"year": 2023, "value": "1210.0", "note": "公报"})

    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["revision"] == 1
    assert again.headers["etag"] == f'"{gdp["id"]}-v2"'
    assert len(client.get(_url(gdp["id"]), params={"history": True}).json()["items"]) == 1


def test_a_year_outside_the_plan_period_is_422_naming_the_period(client: TestClient) -> None:
    gdp = new_indicator(client)

    zh = client.post(_url(gdp["id"]), json={"year": 2020, "value": 1074})
    en = client.post(_url(gdp["id"]), json={"year": 2026, "value": 1600}, headers=ADMIN_EN)

    assert zh.status_code == en.status_code == 422
    assert (
        zh.json()["detail"] == "2020 年不在本指标的规划期 2021–2025（period_start..period_end）内，不能录入。"
    )
    assert (
        en.json()["detail"]
        == "2026 is outside the indicator's plan period 2021–2025 (period_start..period_end)."
    )
    assert en.json()["errors"][0]["loc"] == ["body", "year"]


def test_observation_body_is_strict(client: TestClient) -> None:
    gdp = new_indicator(client)

    unknown = client.post(_url(gdp["id"]), json={"year": 2023, "value": 1210, "valu": 1})
    not_a_number = client.post(_url(gdp["id"]), json={"year": 2023, "value": "lots"})

    assert unknown.status_code == not_a_number.status_code == 422


def test_observations_of_an_unknown_indicator_are_404(client: TestClient) -> None:
    assert client.post(_url(999), json={"year": 2023, "value": 1}).status_code == 404
    assert client.get(_url(999)).status_code == 404


def test_recording_moves_the_indicator_version_so_an_old_etag_is_stale(client: TestClient) -> None:
    gdp = new_indicator(client)
    observe(client, gdp["id"], 2023, 1210)

    response = client.patch(
        f"/api/v1/indicators/{gdp['id']}",
        json={"target_value": 1550},
        headers={**ADMIN, "If-Match": gdp["etag"]},
    )

    assert response.status_code == 412


# --------------------------------------------------------------------------- idempotency


def test_same_key_and_body_replays_the_first_response_and_records_once(client: TestClient) -> None:
    gdp = new_indicator(client)
    headers = {**ADMIN, "Idempotency-Key": "obs-2023"}

    first = client.post(_url(gdp["id"]), json={"year": 2023, "value": 1210}, headers=headers)
    second = client.post(_url(gdp["id"]), json={"year": 2023, "value": 1210}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["etag"] == first.headers["etag"]
    assert len(client.get(_url(gdp["id"]), params={"history": True}).json()["items"]) == 1


def test_same_key_with_another_body_is_422(client: TestClient) -> None:
    gdp = new_indicator(client)
    headers = {**ADMIN, "Idempotency-Key": "obs-2023"}
    client.post(_url(gdp["id"]), json={"year": 2023, "value": 1210}, headers=headers)

    response = client.post(_url(gdp["id"]), json={"year": 2023, "value": 1230}, headers=headers)

    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]


def test_create_with_the_same_key_twice_creates_one_indicator(client: TestClient) -> None:
    headers = {**ADMIN, "Idempotency-Key": "seed-FYP14-01"}

    first = client.post("/api/v1/indicators", json=GDP, headers=headers)
    second = client.post("/api/v1/indicators", json=GDP, headers=headers)
    other = client.post("/api/v1/indicators", json={**GDP, "name": "另一个"}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["etag"] == first.headers["etag"]
    assert other.status_code == 422
    assert client.get("/api/v1/indicators").json()["total"] == 1
