"""`portfolio seed` loads the plan through the services, idempotently, and the rollups
then reproduce the dataset's own totals."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.migrate import upgrade
from services.projects.app import create_app as create_projects
from services.projects.settings import ProjectsSettings
from services.seed import DATA_DIR, seed
from tests.support import INTERNAL_TOKEN, LiveServer, caller_headers, fresh_database_url

DATASET = DATA_DIR / "jinzhou-14th-fyp"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("seed")
    projects_url = fresh_database_url("projects", "sqlite", tmp)
    upgrade("projects", projects_url)
    projects = LiveServer(
        create_projects(ProjectsSettings(PROJECTS_DATABASE_URL=projects_url, INTERNAL_TOKEN=INTERNAL_TOKEN))
    )
    env = {"PROJECTS_URL": projects.start().url, "INTERNAL_TOKEN": INTERNAL_TOKEN}
    servers = [projects]
    if (Path(__file__).resolve().parent.parent / "services" / "indicators" / "app.py").exists():
        from services.indicators.app import create_app as create_indicators
        from services.indicators.settings import IndicatorsSettings

        indicators_url = fresh_database_url("indicators", "sqlite", tmp)
        upgrade("indicators", indicators_url)
        indicators = LiveServer(
            create_indicators(
                IndicatorsSettings(INDICATORS_DATABASE_URL=indicators_url, INTERNAL_TOKEN=INTERNAL_TOKEN)
            )
        )
        env["INDICATORS_URL"] = indicators.start().url
        servers.append(indicators)
    yield env
    for server in servers:
        server.stop()


def _rows(name: str) -> list[dict[str, str]]:
    with (DATASET / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_seed_loads_every_project_and_the_rollups_match_the_dataset(services: dict[str, str]) -> None:
    report = seed(env=services)
    rows = _rows("projects.csv")
    assert report.created["projects"] == len(rows)
    indicator_rows = _rows("indicators.csv") + _rows("targets_from_text.csv")
    assert report.created["indicators"] == len(indicator_rows)
    assert report.created["observations"] == len(_rows("indicator_observations.csv"))
    with httpx.Client(base_url=services["PROJECTS_URL"], headers=caller_headers()) as http:
        assert http.get("/api/v1/projects?limit=1").json()["total"] == len(rows)
        rollup = http.get("/api/v1/rollups?by=county").json()
        counted_once = [r for r in rows if not r["parent_code"] and not r["duplicate_of"]]
        assert rollup["totals"]["total_investment_wan"] == sum(
            int(r["total_investment_wan"]) for r in counted_once
        )
        assert rollup["totals"]["project_count"] == len(counted_once)
        by_county = {row["county"]: row["total_investment_wan"] for row in rollup["rows"]}
        for county in {r["county"] for r in counted_once}:
            expected = sum(int(r["total_investment_wan"]) for r in counted_once if r["county"] == county)
            assert by_county[county] == expected, county
        child = http.get("/api/v1/projects", params={"q": "神工半导体公司年产"}).json()["items"][0]
        assert child["parent_code"] == "JZ14-0028"
        twin = http.get("/api/v1/projects", params={"q": "黑山国电投"}).json()["items"][0]
        assert twin["parent_code"] == "JZ14-0012" and "同一项目" in twin["description"]
        history = http.get(f"/api/v1/projects/{twin['id']}/history").json()["items"]
        assert history[0]["actor"] == "seed"


def test_seeded_indicators_show_progress(services: dict[str, str]) -> None:
    with httpx.Client(base_url=services["INDICATORS_URL"], headers=caller_headers()) as http:
        page = http.get("/api/v1/indicators", params={"q": "PM2.5", "limit": 50}).json()
        assert page["total"] >= 1
        assert all(item["progress"]["status"] for item in page["items"])
        summary = http.get("/api/v1/summary", params={"by": "scope"}).json()
        count = len(_rows("indicators.csv")) + len(_rows("targets_from_text.csv"))
        assert summary["totals"]["indicator_count"] == count


def test_a_second_seed_changes_nothing_and_says_so(services: dict[str, str]) -> None:
    seed(env=services)
    again = seed(env=services)
    assert not any(again.created.values())
    assert again.existing["projects"] == len(_rows("projects.csv"))
    assert again.existing["observations"] == len(_rows("indicator_observations.csv"))
    assert "nothing to change" in str(again)
