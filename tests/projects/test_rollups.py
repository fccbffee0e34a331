"""Rollups: exact integer sums, rows equal totals for every grouping, shares split."""

from __future__ import annotations

import itertools

import pytest
from fastapi.testclient import TestClient

from services.projects.rollups import DIMENSIONS
from tests.projects.conftest import new_project

MEASURES = ("project_count", "total_investment_wan", "completed_investment_wan", "over_budget")


@pytest.fixture
def library(client: TestClient) -> TestClient:
    new_project(
        client,
        county="heishan",
        sector="agri_park",
        total_investment_wan=95000,
        completed_investment_wan=1000,
    )
    new_project(
        client,
        county="citywide",
        sector="railway",
        total_investment_wan=1001,
        county_shares={"heishan": 33, "beizhen": 33, "yixian": 34},
        status="under_construction",
        completed_investment_wan=10,
    )
    new_project(
        client,
        county="beizhen",
        sector="logistics",
        total_investment_wan=7,
        start_year=2023,
        county_shares={"beizhen": 50, "linghai": 50},
        completed_investment_wan=9,
    )
    parent = new_project(
        client, code="PRG", county="taihe", sector="semiconductors", total_investment_wan=300000
    )
    new_project(
        client,
        code="PRG-A",
        parent_code=parent["code"],
        county="taihe",
        sector="semiconductors",
        total_investment_wan=120000,
    )
    return client


@pytest.mark.parametrize("by", [*DIMENSIONS, *(",".join(p) for p in itertools.permutations(DIMENSIONS, 2))])
def test_rows_sum_to_totals_for_every_grouping(library: TestClient, by: str) -> None:
    response = library.get(f"/api/v1/rollups?by={by}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["by"] == by.split(",")
    for measure in MEASURES:
        assert sum(row[measure] for row in body["rows"]) == body["totals"][measure], measure
    assert (
        body["totals"]["total_investment_wan"] == 95000 + 1001 + 7 + 300000
    )  # the child is inside its parent
    assert body["totals"]["project_count"] == 4
    assert body["split"] == ("shares" if "county" in by else "none")


def test_county_rows_split_by_largest_remainder_and_count_the_managing_county(library: TestClient) -> None:
    rows = {r["county"]: r for r in library.get("/api/v1/rollups?by=county").json()["rows"]}
    # 1001 by 33/33/34: floors 330, 330, 340; the 1 left goes to the largest remainder (yixian's 0.34)
    # 7 by 50/50: floors 3, 3; the tie goes to the code first in alphabetical order (beizhen)
    money = {county: row["total_investment_wan"] for county, row in rows.items()}
    assert money == {
        "heishan": 95330,
        "beizhen": 334,
        "yixian": 341,
        "linghai": 3,
        "citywide": 0,
        "taihe": 300000,
    }
    counts = {county: row["project_count"] for county, row in rows.items()}
    assert counts == {"heishan": 1, "beizhen": 1, "yixian": 0, "linghai": 0, "citywide": 1, "taihe": 1}


def test_completion_rate_and_status_counts(library: TestClient) -> None:
    body = library.get("/api/v1/rollups?by=sector").json()
    rows = {r["sector"]: r for r in body["rows"]}
    assert rows["agri_park"]["completion_rate"] == round(1000 / 95000, 4)
    assert rows["railway"]["status_counts"]["under_construction"] == 1
    assert rows["logistics"]["over_budget"] == 1
    assert body["totals"]["status_counts"]["planned"] == 3


def test_filters_apply_to_rollups(library: TestClient) -> None:
    body = library.get("/api/v1/rollups?by=sector_group&status=under_construction").json()
    assert body["totals"]["total_investment_wan"] == 1001
    assert [r["sector_group"] for r in body["rows"]] == ["infrastructure"]


@pytest.mark.parametrize("by", ["", "county,county", "county,sector,status", "price"])
def test_bad_grouping_is_422(client: TestClient, by: str) -> None:
    assert client.get("/api/v1/rollups", params={"by": by}).status_code == 422


def test_next_rollup_sees_a_write(client: TestClient) -> None:
    project = new_project(client, total_investment_wan=100)
    before = client.get("/api/v1/rollups?by=county").json()["totals"]["total_investment_wan"]
    client.patch(
        f"/api/v1/projects/{project['id']}",
        json={"total_investment_wan": 400},
        headers={"If-Match": project["etag"]},
    )
    assert client.get("/api/v1/rollups?by=county").json()["totals"]["total_investment_wan"] - before == 300
