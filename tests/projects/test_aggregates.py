"""The maintained rollup cells equal the row-level grouping after any sequence of writes."""

from __future__ import annotations

import itertools
import random
from typing import Any, get_args

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from services.projects.models import Project
from services.projects.reference import SECTORS, STATUS_ORDER, TRANSITIONS
from services.projects.rollups import DIMENSIONS, Source, answerable_from_wide, parse_by, rollup
from services.projects.service import ProjectFilters, count_projects
from tests.projects.conftest import new_project
from tests.support import MigratedDatabase

COUNTIES = ["heishan", "beizhen", "yixian", "citywide", "binhai"]
SOURCES: tuple[Source, ...] = get_args(Source)
GROUPINGS = [*DIMENSIONS, *(",".join(p) for p in itertools.combinations(DIMENSIONS, 2))]


def _both(client: TestClient, by: str, extra: str = "") -> tuple[dict, dict]:
    cells = client.get(f"/api/v1/rollups?by={by}{extra}")
    rows = client.get(
        f"/api/v1/rollups?by={by}&min_investment_wan=0{extra}"
    )  # an amount filter forces the row path
    assert cells.status_code == rows.status_code == 200
    return cells.json(), rows.json()


def _sources(projects_db: MigratedDatabase, by: str, **filters: Any) -> dict[str, dict[str, Any]]:
    """The same rollup from each source the service may answer it from."""
    with Session(projects_db.engine) as session:
        wanted, dims = ProjectFilters(**filters), parse_by(by)
        usable = [s for s in SOURCES if s != "wide" or answerable_from_wide(dims, wanted)]
        return {source: rollup(session, dims, wanted, source=source) for source in usable}


def test_cells_equal_row_grouping_after_random_writes(
    client: TestClient, projects_db: MigratedDatabase
) -> None:
    rng = random.Random(20251125)
    projects = []
    for i in range(14):
        shares = None
        if rng.random() < 0.4:
            a, b = rng.sample(COUNTIES, 2)
            pct = rng.randint(1, 99)
            shares = {a: pct, b: 100 - pct}
        projects.append(
            new_project(
                client,
                name=f"随机{i}",
                county=rng.choice(COUNTIES),
                sector=rng.choice(SECTORS).code,
                total_investment_wan=(total := rng.randint(0, 10**7)),
                # every third one over budget
                completed_investment_wan=total + 5 if i % 3 == 0 else rng.randint(0, 10**6),
                start_year=rng.choice([2021, 2022, 2023]),
                county_shares=shares,
            )
        )
    parent = projects[0]
    new_project(client, name="子项目", parent_code=parent["code"], total_investment_wan=5)
    for step in range(40):
        project = rng.choice(projects)
        current = client.get(f"/api/v1/projects/{project['id']}")
        if current.status_code == 404:
            continue
        etag, state = current.headers["etag"], current.json()
        action = rng.choice(["money", "county", "status", "report", "delete", "shares"])
        url = f"/api/v1/projects/{project['id']}"
        if action == "money":
            client.patch(
                url, json={"total_investment_wan": rng.randint(0, 10**7)}, headers={"If-Match": etag}
            )
        elif action == "county":
            client.patch(
                url,
                json={"county": rng.choice(COUNTIES), "sector": rng.choice(SECTORS).code},
                headers={"If-Match": etag},
            )
        elif action == "shares":
            a, b = rng.sample(COUNTIES, 2)
            client.patch(url, json={"county_shares": {a: 37, b: 63}}, headers={"If-Match": etag})
        elif action == "status" and TRANSITIONS[state["status"]]:
            target = rng.choice(sorted(TRANSITIONS[state["status"]]))
            client.post(f"{url}/status", json={"status": target}, headers={"If-Match": etag})
        elif action == "report":
            client.post(
                f"{url}/reports",
                json={
                    "period": f"2024-{step % 12 + 1:02d}",
                    "investment_this_period_wan": rng.randint(0, 5000),
                    "physical_progress_pct": 50,
                },
            )
        elif action == "delete" and step > 30:
            client.delete(url, headers={"If-Match": etag})
    for by in GROUPINGS:
        cells, rows = _both(client, by)
        assert cells == rows, by
    for status in STATUS_ORDER[:3]:
        cells, rows = _both(client, "county,sector", f"&status={status}&county=heishan,beizhen")
        assert cells == rows
    # every source, every grouping, with and without the filters the wide table answers
    wide_filters: list[dict[str, Any]] = [
        {},
        {"status": ["planned", "under_construction"]},
        {"status": ["cancelled"]},
        {"sector": [SECTORS[0].code, SECTORS[3].code]},
        {"sector_group": [SECTORS[5].group], "status": ["preparing"]},
    ]
    for by in GROUPINGS:
        for filters in [*wide_filters, {"county": ["heishan"]}, {"start_year": 2022}]:
            answers = _sources(projects_db, by, **filters)
            assert answers["cells"] == answers["rows"], (by, filters)
            if "wide" in answers:
                assert answers["wide"] == answers["rows"], (by, filters)
    with Session(projects_db.engine) as session:
        for filters in [*wide_filters, {"county": ["heishan", "yixian"]}, {"start_year": 2022}]:
            wanted = ProjectFilters(**filters)
            counted = select(func.count()).select_from(Project).where(*wanted.clauses())
            assert count_projects(session, wanted) == session.scalar(counted), filters
    totals = _sources(projects_db, "county,sector")["wide"]["totals"]
    assert totals["project_count"] and totals["over_budget"], "the comparisons above saw numbers"


def _stale_count(url: str) -> int:
    from sqlalchemy import create_engine
    from sqlmodel import Session, func, select

    from services.projects.aggregates import STALE
    from services.projects.models import Project

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(Project).where(STALE)) or 0
    finally:
        engine.dispose()


def test_every_write_of_this_release_keeps_the_cells_current(client: TestClient, projects_db) -> None:
    project = new_project(client, total_investment_wan=700)
    url = f"/api/v1/projects/{project['id']}"
    patched = client.patch(url, json={"total_investment_wan": 900}, headers={"If-Match": project["etag"]})
    assert patched.status_code == 200
    moved = client.post(
        f"{url}/status", json={"status": "preparing"}, headers={"If-Match": patched.headers["etag"]}
    )
    assert moved.status_code == 200
    report = {"period": "2024-03", "investment_this_period_wan": 40, "physical_progress_pct": 10}
    assert client.post(f"{url}/reports", json=report).status_code == 201
    assert _stale_count(projects_db.url) == 0


def test_a_write_by_an_older_release_is_caught_up_by_the_next_write(client: TestClient, projects_db) -> None:
    from sqlalchemy import create_engine, text

    project = new_project(client, county="yixian", total_investment_wan=1000)
    new_project(client, county="heishan", total_investment_wan=50)
    # a release without the cells changes the money and the version, not cells_version
    engine = create_engine(projects_db.url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE project SET total_investment_wan = 4000, version = version + 1 WHERE id = :id"),
            {"id": project["id"]},
        )
        connection.execute(
            text("UPDATE project_share SET total_investment_wan = 4000 WHERE project_id = :id"),
            {"id": project["id"]},
        )
    engine.dispose()
    assert _stale_count(projects_db.url) == 1
    cells, rows = _both(client, "county")
    assert cells == rows and cells["totals"]["total_investment_wan"] == 4050  # answered from the rows
    current = client.get(f"/api/v1/projects/{project['id']}")
    patched = client.patch(
        f"/api/v1/projects/{project['id']}",
        json={"county": "beizhen"},
        headers={"If-Match": current.headers["etag"]},
    )
    assert patched.status_code == 200
    assert _stale_count(projects_db.url) == 0
    for by in GROUPINGS:
        cells, rows = _both(client, by)
        assert cells == rows, by
    by_county = {r["county"]: r["total_investment_wan"] for r in _both(client, "county")[0]["rows"]}
    assert by_county == {"beizhen": 4000, "heishan": 50}


def test_the_county_sector_table_follows_every_change_of_a_cell(client: TestClient, projects_db) -> None:
    """The trigger, not the service: a writer that knows only ``rollup_cell`` (the previous
    release) keeps ``rollup_county_sector`` exact too, and a cell cannot move to another key."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    cell = (
        "INSERT INTO rollup_cell (county, managing_county, sector, sector_group, status, start_year, "
        "member_rows, project_count, total_investment_wan, completed_investment_wan, over_budget) "
        "VALUES ('yixian', :managing, 'agri_park', 'agriculture', :status, :year, 1, 1, :total, 0, 0)"
    )
    wide = (
        "SELECT member_rows, project_count_planned, total_investment_wan_planned, "
        "project_count_completed, total_investment_wan_completed FROM rollup_county_sector "
        "WHERE county = 'yixian' AND sector = 'agri_park'"
    )
    engine = projects_db.engine
    with engine.begin() as connection:
        connection.execute(text(cell), {"managing": "yixian", "status": "planned", "year": 2021, "total": 70})
        connection.execute(
            text(cell), {"managing": "heishan", "status": "planned", "year": 2023, "total": 30}
        )
        connection.execute(
            text(cell), {"managing": "yixian", "status": "completed", "year": 2021, "total": 5}
        )
        assert connection.execute(text(wide)).one() == (3, 2, 100, 1, 5)
        connection.execute(
            text(
                "UPDATE rollup_cell SET total_investment_wan = total_investment_wan + 11 WHERE start_year = 2023"
            )
        )
        assert connection.execute(text(wide)).one() == (3, 2, 111, 1, 5)
        connection.execute(text("DELETE FROM rollup_cell WHERE status = 'completed'"))
        assert connection.execute(text(wide)).one() == (2, 2, 111, 0, 0)
        # one statement that updates two cells and inserts a third (as apply_deltas writes)
        connection.execute(
            text(
                "INSERT INTO rollup_cell (county, managing_county, sector, sector_group, status, start_year, "
                "member_rows, project_count, total_investment_wan, completed_investment_wan, over_budget) VALUES "
                "('yixian', 'yixian', 'agri_park', 'agriculture', 'planned', 2021, 0, 0, 1, 0, 0), "
                "('yixian', 'heishan', 'agri_park', 'agriculture', 'planned', 2023, 0, 0, 1, 0, 0), "
                "('yixian', 'yixian', 'agri_park', 'agriculture', 'completed', 2022, 1, 1, 9, 0, 0) "
                "ON CONFLICT (county, managing_county, sector, status, start_year) DO UPDATE SET "
                "member_rows = rollup_cell.member_rows + excluded.member_rows, "
                "project_count = rollup_cell.project_count + excluded.project_count, "
                "total_investment_wan = rollup_cell.total_investment_wan + excluded.total_investment_wan"
            )
        )
        assert connection.execute(text(wide)).one() == (3, 2, 113, 1, 9)
        connection.execute(text("DELETE FROM rollup_cell WHERE status = 'completed'"))
        connection.execute(
            text(
                "UPDATE rollup_cell SET total_investment_wan = total_investment_wan - 1 WHERE sector = 'agri_park'"
            )
        )
        assert connection.execute(text(wide)).one() == (2, 2, 111, 0, 0)
    with pytest.raises(DBAPIError, match="never changed in place"), engine.begin() as connection:
        connection.execute(text("UPDATE rollup_cell SET status = 'completed' WHERE start_year = 2023"))
    with engine.connect() as connection:
        assert connection.execute(text(wide)).one() == (2, 2, 111, 0, 0)
    by_sector = client.get("/api/v1/rollups?by=county,sector&sector=agri_park").json()["rows"]
    assert [(r["county"], r["total_investment_wan"], r["project_count"]) for r in by_sector] == [
        ("yixian", 111, 2)
    ]
