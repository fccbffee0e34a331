"""Bad files change nothing and say what is wrong; exports and templates import back as is."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from services.projects.app import create_app
from tests.projects.conftest import ADMIN, new_project, projects_settings
from tests.projects.test_import_export import (
    EN,
    ZH_HEADER,
    csv_bytes,
    library,
    outbox_count,
    row,
    upload,
    xlsx_bytes,
)
from tests.support import INTERNAL_TOKEN, MigratedDatabase

# --------------------------------------------------------------------------- bad files


def test_empty_file(client: TestClient) -> None:
    response = upload(client, b"", headers=EN)
    assert response.status_code == 422 and response.json()["detail"] == "The file is empty."


def test_header_names_unknown_and_missing_columns(client: TestClient) -> None:
    response = upload(
        client, csv_bytes([["名字", "区县", "行业", "开工年份"], ["a", "黑山县", "港口", 2021]])
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "不认识的列：名字" in detail and "缺少必填列：名称、总投资（万元）、完工年份" in detail
    assert library(client) == []


def test_template_without_rows_says_no_rows(client: TestClient) -> None:
    for fmt, name in (("xlsx", "t.xlsx"), ("csv", "t.csv")):
        template = client.get(f"/api/v1/projects/import/template?format={fmt}", headers=EN)
        assert template.status_code == 200
        response = upload(client, template.content, name, headers=EN)
        assert (
            response.status_code == 422
            and response.json()["detail"] == "The file has no rows (only the header)."
        )


def test_file_over_the_limit_is_413(projects_db: MigratedDatabase) -> None:
    projects_db.clean()
    with TestClient(create_app(projects_settings(projects_db.url, PROJECTS_IMPORT_MAX_BYTES=2000))) as small:
        body = csv_bytes([ZH_HEADER, *(row(name=f"p{i}") for i in range(100))])
        response = upload(small, body)
        assert response.status_code == 413 and "MB" in response.json()["detail"]
        assert upload(small, b"x" * 200_000).status_code == 413  # refused from Content-Length, unread
        assert upload(small, csv_bytes([ZH_HEADER, row()])).status_code == 200


def test_truncated_xlsx_is_not_a_valid_xlsx(client: TestClient) -> None:
    content = xlsx_bytes([ZH_HEADER, row()])
    response = upload(client, content[: len(content) // 2], "p.xlsx", headers=EN)
    assert response.status_code == 422 and response.json()["detail"].startswith("Not a valid XLSX")
    renamed = upload(client, csv_bytes([ZH_HEADER, row()]), "p.xlsx")
    assert renamed.status_code == 422


def test_unsupported_types_are_415(client: TestClient) -> None:
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    for content in (
        b"%PDF-1.7 ...",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100,
        docx.getvalue(),
        b"\0\1\2",
    ):
        assert upload(client, content, "p.bin").status_code == 415
    raw = client.post(
        "/api/v1/projects/import", content=b"a,b", headers={**ADMIN, "Content-Type": "text/csv"}
    )
    assert raw.status_code == 415


# --------------------------------------------------------------------------- round trips


def test_export_then_import_changes_nothing(client: TestClient, projects_db: MigratedDatabase) -> None:
    new_project(
        client,
        code="A-1",
        name="=SUM(1)",
        description="含,逗号\n和换行",
        county_shares={"heishan": 60, "beizhen": 40},
    )
    new_project(
        client,
        code="A-2",
        county="binhai",
        sector="port",
        status="under_construction",
        total_investment_wan=49001,
    )
    new_project(
        client,
        name="无编码",
        owner_org="锦州港",
        zone="西海工业区",
        completed_investment_wan=5,
        total_investment_wan=4,
    )
    versions = {p["code"]: p["version"] for p in library(client)}
    events = outbox_count(projects_db)
    for fmt, lang in (("csv", {}), ("csv", EN), ("xlsx", {}), ("xlsx", EN)):
        export = client.get(f"/api/v1/projects/export?format={fmt}", headers=lang)
        assert export.status_code == 200 and f".{fmt}" in export.headers["content-disposition"]
        response = upload(client, export.content, f"export.{fmt}")
        assert response.status_code == 200, response.text
        assert (response.json()["unchanged"], response.json()["updated"]) == (3, 0)
    assert outbox_count(projects_db) == events
    assert {p["code"]: p["version"] for p in library(client)} == versions


def test_export_has_template_columns_and_follows_filters(client: TestClient) -> None:
    new_project(client, code="H-1", total_investment_wan=49000)
    new_project(client, code="Y-1", county="yixian")
    export = client.get("/api/v1/projects/export?county=heishan")
    lines = export.content.decode("utf-8-sig").splitlines()
    template = client.get("/api/v1/projects/import/template?format=csv").content.decode("utf-8-sig")
    assert lines[0] == template.strip() and len(lines) == 2
    assert lines[1].startswith("H-1,黑山县测试项目,,黑山县,现代农业产业园,储备,49000,4.9,")
    english = client.get("/api/v1/projects/export?format=csv&county=yixian", headers=EN).content.decode(
        "utf-8-sig"
    )
    assert english.splitlines()[1].startswith("Y-1,黑山县测试项目,,yixian,agri_park,planned,1000,0.1,")
    assert client.get("/api/v1/projects/export?countyy=heishan").status_code == 422
    assert client.get("/api/v1/projects/export?county=mars").status_code == 422


def test_xlsx_template_lists_the_codes_and_a_filled_in_template_imports(client: TestClient) -> None:
    template = client.get("/api/v1/projects/import/template")
    workbook = openpyxl.load_workbook(io.BytesIO(template.content))
    assert workbook.sheetnames == ["项目", "代码表"]
    codes = {(r[0], r[1]): r for r in workbook["代码表"].iter_rows(min_row=2, values_only=True)}
    assert codes[("区县", "heishan")][2:4] == ("黑山县", "Heishan County")
    assert codes[("行业", "port")][4] == "infrastructure" and ("状态", "suspended") in codes
    sheet = workbook["项目"]
    header = [c.value for c in sheet[1]]
    values = {
        "名称": "新港区",
        "区县": "滨海新区",
        "行业": "port",
        "总投资（亿元）": 1.5,
        "开工年份": 2023,
        "完工年份": 2025,
    }
    sheet.append([values.get(str(h)) for h in header])
    filled = io.BytesIO()
    workbook.save(filled)
    assert upload(client, filled.getvalue(), "t.xlsx").json()["created"] == 1
    assert library(client)[0]["total_investment_wan"] == 15000


def test_oc4ids_package(client: TestClient) -> None:
    new_project(
        client, code="O-1", sector="port", status="suspended", county_shares={"heishan": 60, "beizhen": 40}
    )
    new_project(client, code="O-2", sector="farmland", description="高标准农田")
    response = client.get("/api/v1/projects/export?format=oc4ids")
    assert response.status_code == 200 and "oc4ids.json" in response.headers["content-disposition"]
    package = response.json()
    assert package["version"] == "0.9" and package["publisher"]["name"] and package["uri"].startswith("http")
    assert package["publishedDate"]
    first, second = package["projects"]
    assert first["id"] == "oc4ids-jz14fyp-O-1" and first["title"] == "黑山县测试项目"
    assert first["status"] == "implementation" and first["statusDetails"].startswith("停缓建")
    assert first["sector"] == ["transport", "transport.water", "port"]
    assert [loc["address"]["locality"] for loc in first["locations"]] == ["黑山县", "北镇市"]
    assert first["locations"][0]["address"]["region"] == "锦州市"
    assert first["budget"] == {"amount": {"amount": 10_000_000, "currency": "CNY"}}
    assert first["period"]["startDate"].startswith("2021-01-01") and first["period"]["endDate"].startswith(
        "2025-12-31"
    )
    assert second["status"] == "identification" and second["sector"] == ["economy", "farmland"]
    assert second["description"] == "高标准农田"


def test_cli_import_calls_the_service(
    client: TestClient,
    live_projects: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from services.cli import main

    monkeypatch.setenv("PROJECTS_URL", live_projects)
    monkeypatch.setenv("INTERNAL_TOKEN", INTERNAL_TOKEN)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(csv_bytes([ZH_HEADER, row(name="命令行")], "gbk"))
    bad.write_bytes(csv_bytes([ZH_HEADER, row(wan="很多")]))
    assert main(["import", str(good), "--dry-run"]) == 0
    assert "1 would be created" in capsys.readouterr().out and library(client) == []
    assert main(["import", str(bad), "--lang", "en"]) == 1
    assert "row 2, 总投资（万元）: Must be a whole number of 万元" in capsys.readouterr().out
    assert main(["import", str(good)]) == 0
    assert [p["name"] for p in library(client)] == ["命令行"]
    history = client.get(f"/api/v1/projects/{library(client)[0]['id']}/history").json()["items"]
    assert history[0]["actor"] == "cli"
