"""Rollups through the gateway: passed through, by sector level, and by county composed
with the indicators summary."""

from __future__ import annotations

from typing import Any

import pytest

from services.projects.reference import COUNTIES
from tests.gateway.conftest import HAS_INDICATORS, Gateway, project_body

PM25: dict[str, Any] = {
    "code": "HS-PM25",
    "name": "黑山县 PM2.5",
    "category": "生态环境",
    "unit": "μg/m³",
    "scope": "heishan",
    "direction": "decrease",
    "baseline_year": 2020,
    "baseline_value": 46,
    "target_year": 2025,
    "target_value": 35,
    "target_kind": "absolute",
}


def test_rollups_pass_through_with_filters(gw: Gateway, admin: dict[str, str]) -> None:
    gw.client.post("/api/v1/projects", json=project_body(total_investment_wan=300), headers=admin)
    gw.client.post("/api/v1/projects", json=project_body(county="guta", sector="farmland"), headers=admin)
    body = gw.client.get("/api/v1/rollups?by=county,status&county=heishan", headers=admin).json()
    assert body["by"] == ["county", "status"] and body["totals"]["total_investment_wan"] == 300
    assert gw.client.get("/api/v1/rollups?by=colour", headers=admin).status_code == 422


@pytest.mark.parametrize(("level", "key"), [(1, "sector_group"), (2, "sector")])
def test_rollups_by_sector_level(gw: Gateway, admin: dict[str, str], level: int, key: str) -> None:
    gw.client.post("/api/v1/projects", json=project_body(), headers=admin)
    gw.client.post(
        "/api/v1/projects", json=project_body(sector="petrochemicals", total_investment_wan=7), headers=admin
    )
    body = gw.client.get(f"/api/v1/rollups/sectors?level={level}", headers=admin).json()
    assert body["by"] == [key]
    assert {row[key] for row in body["rows"]} == (
        {"agriculture", "industry"} if level == 1 else {"agri_park", "petrochemicals"}
    )
    assert (
        sum(r["total_investment_wan"] for r in body["rows"]) == body["totals"]["total_investment_wan"] == 1007
    )
    only = gw.client.get(f"/api/v1/rollups/sectors?level={level}&county=guta", headers=admin).json()
    assert only["rows"] == []


def test_rollup_by_county_has_every_county_and_splits_money_by_shares(
    gw: Gateway, admin: dict[str, str]
) -> None:
    gw.client.post(
        "/api/v1/projects",
        json=project_body(total_investment_wan=1001, county_shares={"heishan": 60, "beizhen": 40}),
        headers=admin,
    )
    body = gw.client.get("/api/v1/rollups/counties", headers=admin).json()
    assert [row["county"] for row in body["rows"]] == [county.code for county in COUNTIES]
    assert body["split"] == "shares" and body["by"] == ["county"]
    rows = {row["county"]: row for row in body["rows"]}
    assert rows["heishan"]["total_investment_wan"] == 601 and rows["heishan"]["project_count"] == 1
    assert rows["beizhen"]["total_investment_wan"] == 400 and rows["beizhen"]["project_count"] == 0
    assert rows["guta"]["total_investment_wan"] == 0 and rows["guta"]["name"] == "古塔区"
    assert (
        sum(r["total_investment_wan"] for r in body["rows"]) == body["totals"]["total_investment_wan"] == 1001
    )
    assert sum(r["project_count"] for r in body["rows"]) == body["totals"]["project_count"] == 1


@pytest.mark.skipif(not HAS_INDICATORS, reason="the indicators service is not there yet")
def test_rollup_by_county_counts_each_county_indicators(gw: Gateway, admin: dict[str, str]) -> None:
    created = gw.client.post("/api/v1/indicators", json=PM25, headers=admin)
    assert created.status_code == 201, created.text
    city = gw.client.post(
        "/api/v1/indicators", json={**PM25, "code": "CITY-PM25", "scope": "city"}, headers=admin
    )
    assert city.status_code == 201, city.text
    body = gw.client.get("/api/v1/rollups/counties", headers=admin).json()
    rows = {row["county"]: row for row in body["rows"]}
    assert rows["heishan"]["indicators"]["indicator_count"] == 1
    assert rows["citywide"]["indicators"]["indicator_count"] == 1
    assert rows["guta"]["indicators"] == {
        "indicator_count": 0,
        "status_counts": dict.fromkeys(rows["heishan"]["indicators"]["status_counts"], 0),
    }
    assert body["totals"]["indicators"]["indicator_count"] == 2 and body["warnings"] == []


@pytest.mark.skipif(not HAS_INDICATORS, reason="the indicators service is not there yet")
def test_manager_records_observations_only_in_its_county(gw: Gateway, admin: dict[str, str]) -> None:
    indicator = gw.client.post("/api/v1/indicators", json=PM25, headers=admin).json()
    other = gw.client.post(
        "/api/v1/indicators", json={**PM25, "code": "GT", "scope": "guta"}, headers=admin
    ).json()
    manager = gw.login("hei", "manager", ["heishan"])
    ok = gw.client.post(
        f"/api/v1/indicators/{indicator['id']}/observations",
        json={"year": 2023, "value": 40},
        headers=manager,
    )
    assert ok.status_code == 201, ok.text
    refused = gw.client.post(
        f"/api/v1/indicators/{other['id']}/observations", json={"year": 2023, "value": 40}, headers=manager
    )
    assert refused.status_code == 403
    assert (
        gw.client.post("/api/v1/indicators", json={**PM25, "code": "NEW"}, headers=manager).status_code == 403
    )
