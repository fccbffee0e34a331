"""Who may write what: administrators change indicators; observations of a county's
indicator also come from that county's managers; viewers only read."""

from __future__ import annotations

from fastapi.testclient import TestClient
from httpx import Response

from tests.indicators.conftest import (
    ADMIN,
    BINHAI_MANAGER,
    COUNTY,
    GDP,
    HEISHAN_MANAGER,
    VIEWER,
    new_indicator,
)
from tests.support import caller_headers


def _record(client: TestClient, indicator_id: int, headers: dict[str, str]) -> Response:
    return client.post(
        f"/api/v1/indicators/{indicator_id}/observations", json={"year": 2022, "value": 12}, headers=headers
    )


def test_viewer_reads_but_cannot_create(client: TestClient) -> None:
    new_indicator(client)

    assert client.get("/api/v1/indicators", headers=VIEWER).json()["total"] == 1
    response = client.post("/api/v1/indicators", json={**GDP, "code": "V-1"}, headers=VIEWER)
    assert response.status_code == 403
    assert response.json()["detail"] == "只有管理员可以新建或修改指标。"


def test_manager_cannot_create_or_patch_even_in_its_county(client: TestClient) -> None:
    county = new_indicator(client, **COUNTY)

    created = client.post("/api/v1/indicators", json={**COUNTY, "code": "H-2"}, headers=HEISHAN_MANAGER)
    patched = client.patch(
        f"/api/v1/indicators/{county['id']}",
        json={"target_value": 25},
        headers={**HEISHAN_MANAGER, "If-Match": county["etag"]},
    )

    assert created.status_code == 403
    assert patched.status_code == 403


def test_viewer_cannot_patch_even_without_if_match(client: TestClient) -> None:
    gdp = new_indicator(client)

    response = client.patch(f"/api/v1/indicators/{gdp['id']}", json={"target_value": 1}, headers=VIEWER)

    assert response.status_code == 403


def test_manager_of_the_scope_county_records_observations(client: TestClient) -> None:
    county = new_indicator(client, **COUNTY)

    response = _record(client, county["id"], HEISHAN_MANAGER)

    assert response.status_code == 201
    assert response.json()["actor"] == "hei"


def test_manager_of_another_county_is_403_naming_the_county(client: TestClient) -> None:
    county = new_indicator(client, **COUNTY)

    zh = _record(client, county["id"], BINHAI_MANAGER)
    en = _record(client, county["id"], {**BINHAI_MANAGER, "Accept-Language": "en"})

    assert zh.status_code == 403
    assert zh.json()["detail"] == "您没有黑山县（heishan）的指标数据录入权限。"
    assert en.json()["detail"] == (
        "You may not record indicator values of heishan (Heishan County); it is not one of your counties."
    )


def test_city_indicators_take_observations_from_admins_only(client: TestClient) -> None:
    gdp = new_indicator(client)
    everywhere = caller_headers(
        "all", "manager", "guta,linghe,taihe,linghai,beizhen,heishan,yixian,binhai,songshan,citywide"
    )

    response = client.post(
        f"/api/v1/indicators/{gdp['id']}/observations", json={"year": 2022, "value": 1200}, headers=everywhere
    )

    assert response.status_code == 403
    assert response.json()["detail"] == "全市指标的数据只有管理员可以录入。"


def test_viewer_cannot_record_observations(client: TestClient) -> None:
    county = new_indicator(client, **COUNTY)

    response = _record(client, county["id"], VIEWER)

    assert response.status_code == 403
    assert response.json()["detail"] == "只读用户不能录入指标数据。"


def test_detail_tells_the_caller_what_it_may_do(client: TestClient) -> None:
    county = new_indicator(client, **COUNTY)
    url = f"/api/v1/indicators/{county['id']}"

    admin = client.get(url, headers=ADMIN).json()
    manager = client.get(url, headers=HEISHAN_MANAGER).json()
    other = client.get(url, headers=BINHAI_MANAGER).json()

    assert (admin["can_edit"], admin["can_record"]) == (True, True)
    assert (manager["can_edit"], manager["can_record"]) == (False, True)
    assert (other["can_edit"], other["can_record"]) == (False, False)
