"""Bulk import and export through the public gateway: uploads passed on with their type,
files streamed back, the caller's role and counties applied, rollups fresh after an import."""

from __future__ import annotations

import csv
import io
import json

import openpyxl

from tests.gateway.conftest import Gateway, GatewayFactory, project_body
from tests.gateway.servers import closed_url

HEADER = "编码,名称,区县,行业,状态,总投资（万元）,开工年份,完工年份\r\n"


def good_row(name: str = "网关导入项目", county: str = "黑山县", wan: int = 12000) -> str:
    return f",{name},{county},港口,储备,{wan},2022,2025\r\n"


def upload(gw: Gateway, headers: dict[str, str], content: str, *, dry_run: bool = False, **extra: str):  # type: ignore[no-untyped-def]
    params = {"dry_run": "true"} if dry_run else {}
    return gw.client.post(
        "/api/v1/projects/import",
        params=params,
        files={"file": ("projects.csv", content.encode("utf-8"), "text/csv")},
        headers={**headers, **extra},
    )


def test_dry_run_reports_row_problems_and_writes_nothing(gw: Gateway, admin: dict[str, str]) -> None:
    checked = upload(gw, admin, HEADER + good_row() + good_row("区县写错", "火星县"), dry_run=True)
    assert checked.status_code == 200, checked.text
    report = checked.json()
    assert report["dry_run"] is True and report["rows"] == 2 and report["error_count"] == 1
    problem = report["errors"][0]
    assert problem["row"] == 3 and problem["value"] == "火星县" and problem["column"] == "区县"
    assert gw.client.get("/api/v1/projects", headers=admin).json()["total"] == 0


def test_import_creates_all_rows_and_the_next_rollup_sees_them(gw: Gateway, admin: dict[str, str]) -> None:
    before = gw.client.get("/api/v1/rollups?by=county", headers=admin).json()["totals"]
    done = upload(gw, admin, HEADER + good_row("甲", wan=100) + good_row("乙", "北镇市", wan=250))
    assert done.status_code == 200, done.text
    assert (done.json()["created"], done.json()["updated"], done.json()["dry_run"]) == (2, 0, False)
    after = gw.client.get("/api/v1/rollups?by=county", headers=admin).json()["totals"]
    assert after["total_investment_wan"] - before["total_investment_wan"] == 350
    project = gw.client.get("/api/v1/projects?q=乙", headers=admin).json()["items"][0]
    history = gw.client.get(f"/api/v1/projects/{project['id']}/history", headers=admin).json()["items"]
    assert history[0]["actor"] == "root"  # the gateway passed the caller on


def test_a_bad_row_in_a_real_import_writes_nothing_and_says_why(gw: Gateway, admin: dict[str, str]) -> None:
    failed = upload(gw, admin, HEADER + good_row() + good_row("坏", wan=-5), **{"Accept-Language": "en"})
    assert failed.status_code == 422
    assert failed.headers["content-type"].startswith("application/problem+json")
    assert failed.json()["errors"][0]["row"] == 3
    assert gw.client.get("/api/v1/projects", headers=admin).json()["total"] == 0


def test_manager_imports_only_its_counties_and_viewer_not_at_all(gw: Gateway) -> None:
    manager = gw.login("hei-importer", "manager", ["heishan"])
    viewer = gw.login("viewer-importer", "viewer")
    refused = upload(gw, manager, HEADER + good_row() + good_row("外县", "北镇市"))
    assert refused.status_code == 422 and "beizhen" in json.dumps(refused.json(), ensure_ascii=False)
    assert upload(gw, manager, HEADER + good_row()).status_code == 200
    denied = upload(gw, viewer, HEADER + good_row())
    assert denied.status_code == 403 and denied.headers["content-type"].startswith("application/problem+json")


def test_export_streams_the_filtered_library_in_the_request_language(
    gw: Gateway, admin: dict[str, str]
) -> None:
    for county in ("heishan", "beizhen", "heishan"):
        assert (
            gw.client.post("/api/v1/projects", json=project_body(county=county), headers=admin).status_code
            == 201
        )
    zh = gw.client.get("/api/v1/projects/export?format=csv&county=heishan", headers=admin)
    assert zh.status_code == 200 and zh.headers["content-type"].startswith("text/csv")
    assert "attachment" in zh.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(zh.content.decode("utf-8-sig"))))
    assert "名称" in rows[0] and len(rows) == 3
    en = gw.client.get("/api/v1/projects/export?format=csv", headers={**admin, "Accept-Language": "en"})
    assert "name" in next(csv.reader(io.StringIO(en.content.decode("utf-8-sig"))))
    xlsx = gw.client.get("/api/v1/projects/export?format=xlsx&county=beizhen", headers=admin)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0]
    assert len(list(sheet.iter_rows(values_only=True))) == 2
    package = gw.client.get("/api/v1/projects/export?format=oc4ids", headers=admin).json()
    assert len(package["projects"]) == 3


def test_export_round_trips_through_the_gateway(gw: Gateway, admin: dict[str, str]) -> None:
    gw.client.post("/api/v1/projects", json=project_body(), headers=admin)
    exported = gw.client.get("/api/v1/projects/export?format=xlsx", headers=admin)
    again = gw.client.post(
        "/api/v1/projects/import",
        files={"file": ("export.xlsx", exported.content)},
        headers=admin,
    )
    assert again.status_code == 200, again.text
    assert (again.json()["unchanged"], again.json()["created"], again.json()["updated"]) == (1, 0, 0)


def test_template_has_the_columns_and_a_sheet_of_codes(gw: Gateway) -> None:
    viewer = gw.login("template-viewer", "viewer")
    template = gw.client.get("/api/v1/projects/import/template?format=xlsx", headers=viewer)
    assert template.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(template.content), read_only=True)
    assert len(workbook.worksheets) >= 2
    header = next(workbook.worksheets[0].iter_rows(values_only=True))
    assert "名称" in header


def test_unknown_format_or_filter_is_422_before_anything_is_fetched(
    gw: Gateway, admin: dict[str, str]
) -> None:
    assert gw.client.get("/api/v1/projects/export?format=pdf", headers=admin).status_code == 422
    assert gw.client.get("/api/v1/projects/export?countyy=heishan", headers=admin).status_code == 422


def test_export_with_the_service_down_is_503_naming_it(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(redis=False, PROJECTS_URL=closed_url())
    admin = gw.login("root-down", "admin")
    down = gw.client.get("/api/v1/projects/export?format=csv", headers=admin)
    assert down.status_code == 503 and "projects" in down.json()["detail"]
    upload_down = upload(gw, admin, HEADER + good_row())
    assert upload_down.status_code == 503
