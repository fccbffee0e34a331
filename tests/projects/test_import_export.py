"""Bulk import and export: columns in zh and en, encodings, PATCH's rules per row, all or
nothing, round trips that change nothing, templates and the OC4IDS package."""

from __future__ import annotations

import gc
import io
import sys
from typing import Any

import httpx
import openpyxl
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.common.money import yi_to_wan
from services.projects.models import OutboxEvent
from services.projects.schemas import MAX_WAN
from services.projects.transfer_cells import wan_to_yi_text
from tests.projects.conftest import ADMIN, HEISHAN_MANAGER, VIEWER, new_project
from tests.support import MigratedDatabase

ZH_HEADER = ["编码", "名称", "区县", "行业", "状态", "总投资（万元）", "开工年份", "完工年份"]
EN = {"Accept-Language": "en"}


def csv_bytes(rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    lines = [",".join("" if v is None else str(v) for v in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list[Any]], title: str = "项目") -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(
    client: TestClient,
    content: bytes,
    filename: str = "projects.csv",
    *,
    dry_run: bool = False,
    headers: dict[str, str] | None = None,
    sheet: str | None = None,
) -> httpx.Response:
    params: dict[str, str] = {"dry_run": "true"} if dry_run else {}
    if sheet:
        params["sheet"] = sheet
    return client.post(
        "/api/v1/projects/import",
        params=params,
        files={"file": (filename, content)},
        headers={**ADMIN, **(headers or {})},
    )


def outbox_count(db: MigratedDatabase) -> int:
    with db.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(OutboxEvent.__table__)) or 0)  # type: ignore[attr-defined]


def library(client: TestClient) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/projects?limit=500").json()["items"])


def row(
    code: str = "", name: str = "港口航道", county: str = "黑山县", status: str = "储备", wan: Any = 1000
) -> list[Any]:
    return [code, name, county, "港口", status, wan, 2021, 2025]


# --------------------------------------------------------------------------- reading


def test_zh_headers_create_projects_and_generate_codes(
    client: TestClient, projects_db: MigratedDatabase
) -> None:
    response = upload(client, csv_bytes([ZH_HEADER, row(), row("JZ-9", "二号", "beizhen", "在建")]))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "dry_run": False, "rows": 2, "created": 2, "updated": 0, "unchanged": 0, "error_count": 0, "errors": [],
    }  # fmt: skip
    items = {p["name"]: p for p in library(client)}
    assert items["港口航道"]["code"].startswith("P-") and items["二号"]["code"] == "JZ-9"
    assert (
        items["二号"]["status"] == "under_construction" and items["二号"]["sector_group"] == "infrastructure"
    )
    history = client.get(f"/api/v1/projects/{items['二号']['id']}/history").json()["items"]
    assert [h["kind"] for h in history] == ["create"] and history[0]["actor"] == "admin"
    assert outbox_count(projects_db) == 2


def test_en_headers_and_codes(client: TestClient) -> None:
    header = [
        "name",
        "county",
        "sector",
        "status",
        "total_investment_wan",
        "start_year",
        "end_year",
        "county_shares",
    ]
    body = csv_bytes(
        [header, ["Port", "heishan", "port", "suspended", 5, 2021, 2022, "heishan:60;beizhen:40"]]
    )
    assert upload(client, body).json()["created"] == 1
    project = library(client)[0]
    assert project["status"] == "suspended" and project["county_shares"] == {"heishan": 60, "beizhen": 40}


def test_gbk_and_bom_csv_are_detected(client: TestClient) -> None:
    assert upload(client, csv_bytes([ZH_HEADER, row(name="甲")], "gbk")).json()["created"] == 1
    assert upload(client, csv_bytes([ZH_HEADER, row(name="乙")], "utf-8-sig")).json()["created"] == 1
    assert upload(client, csv_bytes([ZH_HEADER, row(name="丙")], "utf-16")).json()["created"] == 1
    assert sorted(p["name"] for p in library(client)) == sorted(["甲", "乙", "丙"])


def test_yi_column_converts_exactly(client: TestClient) -> None:
    header = ["名称", "区县", "行业", "总投资(亿元)", "开工年份", "完工年份"]
    body = csv_bytes(
        [header, ["a", "黑山县", "港口", "4.9", 2021, 2025], ["b", "黑山县", "港口", "0.0001", 2021, 2025]]
    )
    assert upload(client, body).json()["created"] == 2
    assert sorted(p["total_investment_wan"] for p in library(client)) == [1, 49000]
    bad = upload(client, csv_bytes([header, ["c", "黑山县", "港口", "1.23456", 2021, 2025]]), headers=EN)
    assert bad.status_code == 422 and bad.json()["errors"][0]["column"] == "总投资(亿元)"


def test_status_zh_words_and_xlsx_sheet(client: TestClient) -> None:
    rows = [ZH_HEADER, *(row(name=w, status=w) for w in ("储备", "前期", "在建", "停缓建", "竣工", "取消"))]
    content = xlsx_bytes([["说明"], rows[0], *rows[1:]], title="第二页")  # a title row above the header
    missing = upload(client, content, "p.xlsx", sheet="项目")
    assert missing.status_code == 422 and "第二页" in missing.json()["detail"]
    response = upload(client, content, "p.xlsx", sheet="第二页")
    assert response.status_code == 200, response.text
    statuses = {p["name"]: p["status"] for p in library(client)}
    assert statuses == {
        "储备": "planned", "前期": "preparing", "在建": "under_construction",
        "停缓建": "suspended", "竣工": "completed", "取消": "cancelled",
    }  # fmt: skip


@given(st.integers(min_value=0, max_value=MAX_WAN))
def test_yi_text_reads_back_as_the_same_wan(wan: int) -> None:
    assert yi_to_wan(wan_to_yi_text(wan)) == wan


# --------------------------------------------------------------------------- rules


def test_update_by_code_goes_through_patch_rules(client: TestClient, projects_db: MigratedDatabase) -> None:
    project = new_project(client, code="JZ-1")
    events = outbox_count(projects_db)
    response = upload(client, csv_bytes([["编码", "名称", "状态"], ["JZ-1", "新名字", "前期"]]))
    assert response.json()["updated"] == 1
    stored = client.get(f"/api/v1/projects/{project['id']}").json()
    assert stored["name"] == "新名字" and stored["status"] == "preparing" and stored["version"] == 2
    assert stored["total_investment_wan"] == 1000  # a column left out is not touched
    history = client.get(f"/api/v1/projects/{project['id']}/history").json()["items"]
    assert history[-1]["kind"] == "update" and set(history[-1]["changed"]) >= {"name", "status"}
    assert outbox_count(projects_db) == events + 2  # project.updated and project.status_changed


def test_illegal_status_move_is_that_rows_error(client: TestClient, projects_db: MigratedDatabase) -> None:
    new_project(client, code="JZ-2", status="completed")
    events = outbox_count(projects_db)
    response = upload(client, csv_bytes([["编码", "状态"], ["JZ-2", "在建"]]), headers=EN)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["row"], error["column"], error["value"]) == (2, "状态", "在建")
    assert "cannot move from completed" in error["message"]
    assert outbox_count(projects_db) == events and library(client)[0]["status"] == "completed"


def test_unchanged_rows_write_nothing(client: TestClient, projects_db: MigratedDatabase) -> None:
    project = new_project(client, code="JZ-3", name="同名")
    events = outbox_count(projects_db)
    response = upload(client, csv_bytes([["编码", "名称", "行业"], ["JZ-3", "同名", "agri_park"]]))
    assert response.json()["unchanged"] == 1 and response.json()["updated"] == 0
    assert client.get(f"/api/v1/projects/{project['id']}").json()["version"] == 1
    assert outbox_count(projects_db) == events


def test_empty_cell_clears_optional_text_but_keeps_status(client: TestClient) -> None:
    new_project(client, code="JZ-4", description="旧备注", status="preparing")
    upload(client, csv_bytes([["编码", "备注", "状态"], ["JZ-4", "", ""]]))
    stored = library(client)[0]
    assert stored["description"] is None and stored["status"] == "preparing"


def test_dry_run_writes_nothing(client: TestClient, projects_db: MigratedDatabase) -> None:
    new_project(client, code="JZ-5")
    events = outbox_count(projects_db)
    body = csv_bytes([ZH_HEADER, row("JZ-5", name="改"), row(name="新"), row("NEW-1", name="新2")])
    response = upload(client, body, dry_run=True)
    assert response.json() | {"errors": []} == {
        "dry_run": True, "rows": 3, "created": 2, "updated": 1, "unchanged": 0, "error_count": 0, "errors": [],
    }  # fmt: skip
    assert [p["name"] for p in library(client)] == ["黑山县测试项目"] and outbox_count(projects_db) == events


def test_one_bad_row_in_the_middle_writes_nothing(client: TestClient, projects_db: MigratedDatabase) -> None:
    body = csv_bytes([ZH_HEADER, row(name="一"), row(name="二", wan="一千万"), row(name="三")])
    response = upload(client, body)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"] == [
        {
            "row": 3,
            "column": "总投资（万元）",
            "value": "一千万",
            "message": "应为整数万元，收到“一千万”",
            "loc": ["row", 3, "总投资（万元）"],
        }
    ]
    assert problem["created"] == 2 and problem["dry_run"] is False
    assert library(client) == [] and outbox_count(projects_db) == 0


# --------------------------------------------------------------------------- many chunks
# An import is read, checked and written in chunks; on PostgreSQL a chunk is written on a
# thread of its own while the next is checked (transfer_apply.BulkWriter). Five rows a chunk
# here, so a file of a few dozen rows goes through every stage of that pipeline.


def _chunked_file(existing: list[dict[str, Any]]) -> bytes:
    header = ["编码", "名称", "区县", "行业", "状态", "总投资（万元）", "已完成投资（万元）", "开工年份", "完工年份", "区县占比"]  # fmt: skip
    rows: list[list[Any]] = [header]
    for n in range(24):
        if n % 4 == 0 and existing:  # an update of a stored project, every fourth row
            project = existing.pop()
            rows.append([project["code"], f"改{n}", "黑山县", "港口", "前期", 2000 + n, n, 2022, 2026, ""])
            continue
        code = f"CH-{n:02d}" if n % 3 else ""  # some codes generated
        shares = "heishan:60;beizhen:40" if n % 5 == 0 else ""
        rows.append(
            [code, f"新{n}", "北镇市" if n % 2 else "义县", "公路", "储备", 100 + n, 0, 2021, 2025, shares]
        )
    return csv_bytes(rows)


def _state(client: TestClient, db: MigratedDatabase) -> tuple[Any, ...]:
    return (library(client), outbox_count(db), client.get("/api/v1/rollups?by=county,sector").json())


def test_an_import_of_many_chunks_writes_each_row_once(
    client: TestClient, projects_db: MigratedDatabase, monkeypatch: Any
) -> None:
    monkeypatch.setattr("services.projects.transfer.CHUNK_ROWS", 5)
    stored = [new_project(client, code=f"OLD-{n}", name=f"旧{n}") for n in range(6)]
    events = outbox_count(projects_db)
    response = upload(client, _chunked_file(list(stored)))
    assert response.status_code == 200, response.text
    assert response.json() | {"errors": []} == {
        "dry_run": False, "rows": 24, "created": 18, "updated": 6, "unchanged": 0, "error_count": 0, "errors": [],
    }  # fmt: skip
    items = library(client)
    assert len(items) == 24 and len({p["id"] for p in items}) == 24 and len({p["code"] for p in items}) == 24
    by_name = {p["name"]: p for p in items}
    assert {f"新{n}" for n in range(24) if n % 4} | {f"改{n}" for n in range(0, 24, 4)} == set(by_name)
    for name, project in by_name.items():
        history = client.get(f"/api/v1/projects/{project['id']}/history").json()["items"]
        kinds = [h["kind"] for h in history]
        assert kinds == (["create", "update"] if name.startswith("改") else ["create"]), (name, kinds)
        assert history[-1]["after"]["name"] == name and history[-1]["version"] == project["version"]
    assert by_name["新5"]["county_shares"] == {"heishan": 60, "beizhen": 40}
    assert by_name["改8"]["status"] == "preparing" and by_name["改8"]["version"] == 2
    # created + updated + the six status changes (planned -> preparing)
    assert outbox_count(projects_db) == events + 18 + 6 + 6
    for by in ("county", "status", "county,sector"):
        cells = client.get(f"/api/v1/rollups?by={by}").json()
        assert cells == client.get(f"/api/v1/rollups?by={by}&min_investment_wan=0").json()  # the row path
    again = upload(client, _chunked_file([]))  # codes CH-… now stored: those rows change nothing
    assert again.json()["unchanged"] == 12 and again.json()["created"] == 12


def test_a_problem_in_a_late_chunk_writes_nothing(
    client: TestClient, projects_db: MigratedDatabase, monkeypatch: Any
) -> None:
    """Earlier chunks were already sent to the database when row 23 fails: all rolled back."""
    monkeypatch.setattr("services.projects.transfer.CHUNK_ROWS", 5)
    stored = [new_project(client, code=f"OLD-{n}", name=f"旧{n}") for n in range(6)]
    before = _state(client, projects_db)
    body = _chunked_file(list(stored)).decode().split("\r\n")
    body[22] = body[22].replace(",公路,", ",火星产业,")
    response = upload(client, "\r\n".join(body).encode())
    assert response.status_code == 422, response.text
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(23, "行业")]
    assert _state(client, projects_db) == before


def test_a_failed_chunk_write_is_the_answer_and_nothing_stays(
    client: TestClient, projects_db: MigratedDatabase, monkeypatch: Any
) -> None:
    """The third chunk's write fails (on PostgreSQL on the writer's thread): the import
    answers with that error, and the chunks written before it are rolled back."""
    from services.common.errors import Conflict
    from services.common.i18n import Msg
    from services.projects.transfer_apply import BulkWriter

    monkeypatch.setattr("services.projects.transfer.CHUNK_ROWS", 5)
    stored = [new_project(client, code=f"OLD-{n}", name=f"旧{n}") for n in range(6)]
    before = _state(client, projects_db)
    write = BulkWriter._write
    calls: list[int] = []

    def failing(self: BulkWriter, batch: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise Conflict(Msg("写入失败", "the write failed"))
        write(self, batch)

    monkeypatch.setattr(BulkWriter, "_write", failing)
    interpreter = (sys.getswitchinterval(), gc.get_threshold())
    response = upload(client, _chunked_file(list(stored)), headers=EN)
    assert response.status_code == 409 and response.json()["detail"] == "the write failed"
    assert len(calls) == 3  # nothing was written after the failure
    assert (sys.getswitchinterval(), gc.get_threshold()) == interpreter  # bulk mode ended with it
    assert _state(client, projects_db) == before


def test_bulk_mode_lasts_while_any_import_runs() -> None:
    from services.projects.transfer_apply import BULK_MODE

    normal = (sys.getswitchinterval(), gc.get_threshold())
    first, second = BULK_MODE.on(), BULK_MODE.on()
    first.__enter__()
    bulk = (sys.getswitchinterval(), gc.get_threshold())
    assert bulk[0] <= 0.0005 and bulk[1][0] >= 50_000
    second.__enter__()
    first.__exit__(None, None, None)  # the other import still runs
    assert (sys.getswitchinterval(), gc.get_threshold()) == bulk
    second.__exit__(None, None, None)
    assert (sys.getswitchinterval(), gc.get_threshold()) == normal


def test_dry_run_lists_every_problem_in_english(client: TestClient) -> None:
    new_project(client, code="DUP")
    body = csv_bytes([ZH_HEADER, row("DUP"), row("DUP"), row(county="火星"), row(name="")])
    response = upload(client, body, dry_run=True, headers=EN)
    assert response.status_code == 200
    errors = {(e["row"], e["column"]): e["message"] for e in response.json()["errors"]}
    assert errors[(3, "编码")] == "Code DUP already appears in row 2"
    assert errors[(4, "区县")].startswith("Unknown county '火星'")
    assert errors[(5, "名称")] == "This field is required"


def test_manager_gets_an_error_for_a_row_of_another_county(client: TestClient) -> None:
    body = csv_bytes([ZH_HEADER, row(name="本县"), row(name="外县", county="义县")])
    response = upload(client, body, headers=HEISHAN_MANAGER)
    assert response.status_code == 422
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(3, "区县")]
    assert library(client) == []
    assert (
        upload(client, csv_bytes([ZH_HEADER, row(name="本县")]), headers=HEISHAN_MANAGER).status_code == 200
    )


def test_viewer_cannot_import(client: TestClient) -> None:
    assert upload(client, csv_bytes([ZH_HEADER, row()]), headers=VIEWER).status_code == 403


def test_import_keeps_rollup_cells_exact(client: TestClient) -> None:
    header = [
        "编码",
        "名称",
        "区县",
        "行业",
        "状态",
        "总投资（万元）",
        "已完成投资（万元）",
        "开工年份",
        "完工年份",
        "区县占比",
    ]
    first = [header, ["R-1", "原", "北镇市", "公路", "储备", 7, 0, 2021, 2025, ""]]
    second = [
        header,
        ["R-1", "改", "北镇市", "公路", "在建", 101, 3, 2022, 2024, "beizhen:30;heishan:70"],
        ["", "新", "义县", "教育", "前期", 55, 80, 2021, 2021, ""],
    ]
    for body in (first, second):
        assert upload(client, csv_bytes(body)).status_code == 200
        for by in ("county", "status", "county,sector_group"):
            cells = client.get(f"/api/v1/rollups?by={by}").json()
            rows = client.get(f"/api/v1/rollups?by={by}&min_investment_wan=0").json()  # the row path
            assert cells == rows
