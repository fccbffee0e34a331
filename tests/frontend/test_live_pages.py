"""Every page against the live, seeded stack: logging in and out, the overview's numbers
are the gateway's rollups (with and without filters), the county, projects, indicators and
import/export pages, what a viewer and a manager may see, English, and speed."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from frontend import data
from frontend.charts import chart_money
from frontend.format import money, pct
from tests.frontend.conftest import APP, PASSWORDS, Stack
from tests.frontend.helpers import (
    county_shapes,
    go,
    heishan_projects,
    labels,
    logged_in,
    markdown,
    metrics,
    open_project,
    texts,
    trace,
)


def test_login_lands_on_the_overview_with_the_gateways_totals(stack: Stack) -> None:
    at = logged_in("admin")
    totals = stack.client().rollup("status")["totals"]  # type: ignore[attr-defined]
    shown = metrics(at)
    assert at.title[0].value == "总览"
    assert shown["项目数"] == f"{totals['project_count']:,}"
    assert shown["总投资"] == money(totals["total_investment_wan"], "zh")
    assert shown["已完成投资"] == money(totals["completed_investment_wan"], "zh")
    assert shown["投资完成率"] == pct(totals["completion_rate"])
    by_county = {r["county"]: r for r in stack.client().rollup("county")["rows"]}  # type: ignore[attr-defined]
    counties = county_shapes(at)
    assert len(counties) == 7
    for code, text in counties.items():
        assert f"总投资: {money(by_county[code]['total_investment_wan'], 'zh')}" in text
    assert "储备" in markdown(at)


def test_the_overview_filters_go_to_every_rollup(stack: Stack) -> None:
    at = logged_in("admin")
    at.multiselect(key="ov_group.zh").set_value(["industry"]).run()
    client: Any = stack.client()
    industry = client.rollup("status", {"sector_group": "industry"})["totals"]
    assert metrics(at)["总投资"] == money(industry["total_investment_wan"], "zh")
    heat = trace(at, "heatmap")
    cells = client.rollup("county,sector", {"sector_group": "industry"})["rows"]
    assert sum(v for row in heat["z"] for v in row if v) == pytest.approx(
        chart_money(sum(c["total_investment_wan"] for c in cells), "zh")
    )
    rows = {r["county"]: r for r in client.rollup("county", {"sector_group": "industry"})["rows"]}
    heishan = county_shapes(at)["heishan"]
    assert f"总投资: {money(rows['heishan']['total_investment_wan'], 'zh')}" in heishan


def test_a_wrong_password_is_refused_with_the_gateways_sentence(stack: Stack) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.text_input(key="login_username").input("admin")
    at.text_input(key="login_password").input("not-the-password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["用户名或密码错误。"]
    assert not at.session_state["token"] if "token" in at.session_state else True


def test_a_refused_token_returns_to_login_with_a_message(stack: Stack) -> None:
    admin: Any = stack.client()
    body = {"username": "short.lived", "password": PASSWORDS["short.lived"], "role": "viewer", "counties": []}
    user = admin.request("POST", "/users", json=body).json()
    at = logged_in("short.lived")
    admin.request("PATCH", f"/users/{user['id']}", json={"active": False})  # its token is refused from now on
    data.clear_all()
    at.run()
    assert not at.exception
    assert [i.label for i in at.text_input] == ["用户名", "密码"]
    assert "登录已过期，请重新登录。" in [i.value for i in at.info]
    assert "token" not in at.session_state


def test_logout_forgets_the_token(stack: Stack) -> None:
    at = logged_in("viewer")
    at.button(key="logout").click().run()
    assert "token" not in at.session_state
    assert "您已退出登录。" in [i.value for i in at.info]


def test_english_switch_changes_labels_money_and_statuses_and_keeps_the_filters(stack: Stack) -> None:
    at = logged_in("admin")
    at.multiselect(key="ov_group.zh").set_value(["industry"]).run()
    at.radio(key="lang").set_value("en").run()
    assert at.title[0].value == "Overview"
    industry = stack.client().rollup("status", {"sector_group": "industry"})["totals"]  # type: ignore[attr-defined]
    total = metrics(at)["Total investment"]
    assert (
        total == money(industry["total_investment_wan"], "en")
        and total.startswith("RMB ")
        and total.endswith(" bn")
    )
    assert at.multiselect(key="ov_group.en").value == ["industry"]
    assert "Planned" in markdown(at) and "储备" not in markdown(at)
    go(at, "projects")
    assert at.title[0].value == "Projects" and "projects" in texts(at)
    at.radio(key="lang").set_value("zh").run()
    assert at.title[0].value == "项目"


def test_the_county_page_shows_the_county_rollup_projects_and_indicators(stack: Stack) -> None:
    at = go(logged_in("admin"), "county")
    at.selectbox(key="county_pick.zh").set_value("heishan").run()
    client: Any = stack.client()
    row = next(r for r in client.county_rollup()["rows"] if r["county"] == "heishan")
    shown = metrics(at)
    assert shown["项目数"] == str(row["project_count"]) and shown["总投资"] == money(
        row["total_investment_wan"], "zh"
    )
    projects = at.dataframe[0].value
    assert len(projects) == client.projects({"county": "heishan"})["total"]
    indicators = client.indicators({"scope": "heishan"})["items"]
    if indicators:
        assert len(at.dataframe[1].value) == len(indicators)


def test_a_manager_starts_on_its_own_county(stack: Stack) -> None:
    at = go(logged_in("heishan.manager"), "county")
    assert at.selectbox(key="county_pick.zh").value == "heishan"


def test_the_projects_page_lists_filters_and_opens_a_project(stack: Stack) -> None:
    at = go(logged_in("admin"), "projects")
    client: Any = stack.client()
    table = at.dataframe[0].value
    assert len(table) == client.projects()["total"]
    at.text_input(key="pf_q").input("锦州港").run()
    assert len(at.dataframe[0].value) == client.projects({"q": "锦州港"})["total"] > 0
    project = heishan_projects(stack)[0]
    open_project(at, project["id"])
    assert f"{project['code']} · {project['name']}" in [s.value for s in at.subheader]
    assert "储备" in markdown(at) and "创建" in markdown(at)  # field table and history timeline
    assert "修改项目" in [tab.label for tab in at.tabs]


def test_a_viewer_sees_no_edit_controls(stack: Stack) -> None:
    at = logged_in("viewer")
    project = heishan_projects(stack)[0]
    open_project(at, project["id"])
    assert "修改项目" not in [tab.label for tab in at.tabs]
    assert not {"变更状态", "保存修改", "提交报告"} & set(labels(at))
    assert "您可以查看此项目，但无权修改。" in [c.value for c in at.caption]
    go(at, "import_export")
    assert "只有管理员和区县管理员可以导入项目。" in [i.value for i in at.info]
    go(at, "indicators")
    assert "保存数据" not in labels(at)


def test_a_manager_edits_only_its_own_county(stack: Stack) -> None:
    client: Any = stack.client()
    at = logged_in("heishan.manager")
    own = heishan_projects(stack)[0]
    open_project(at, own["id"])
    assert "变更状态" in labels(at)
    allowed = client.project(own["id"]).data["allowed_transitions"]
    assert at.selectbox(key=f"status:{own['id']}:status.zh").options == [
        {"planned": "储备", "preparing": "前期", "under_construction": "在建", "suspended": "停缓建",
         "cancelled": "取消", "completed": "竣工"}[s] for s in allowed
    ]  # fmt: skip
    other = client.projects({"county": "guta"})["items"][0]
    open_project(at, other["id"])
    assert "变更状态" not in labels(at) and "修改项目" not in [tab.label for tab in at.tabs]


def test_the_indicators_page_groups_by_category_and_shows_progress(stack: Stack) -> None:
    client: Any = stack.client()
    items = client.indicators()["items"]
    at = go(logged_in("admin"), "indicators")
    categories = list(dict.fromkeys(i["category"] for i in items))
    assert [s.value for s in at.subheader][: len(categories)] == categories
    assert sum(len(frame.value) for frame in at.dataframe) == len(items)
    observed = next(i for i in items if i["progress"]["latest_value"] is not None)
    at.session_state["indicator_id"] = observed["id"]
    at.run()
    assert observed["progress"]["explanation"] in texts(at)
    assert trace(at, "scatter")["name"] in ("按直线路径至目标", "按年均增速路径至目标", "实际值")
    assert "保存数据" in labels(at)


def test_the_indicators_page_names_categories_in_english_as_the_service_does(stack: Stack) -> None:
    client: Any = stack.client()
    english = {c["code"]: c["en"] for c in client.reference("indicator-categories")}
    at = go(logged_in("admin"), "indicators")
    at.radio(key="lang").set_value("en").run()
    shown = [s.value for s in at.subheader]
    assert "Economic development" in shown and "经济发展" not in shown
    assert all(name in english.values() for name in shown[: len(english)])


def test_the_import_export_page_offers_upload_and_download(stack: Stack) -> None:
    at = go(logged_in("admin"), "import_export")
    assert at.title[0].value == "导入导出" and len(at.get("file_uploader")) == 1
    at.button(key="io_prepare").click().run()
    assert not at.exception and not at.error
    assert len(at.get("download_button")) >= 1


def test_the_overview_with_the_whole_plan_renders_the_same_cold_and_warm(stack: Stack) -> None:
    """Its speed is measured by ``bench/frontend_overview.py``; here, that the cached
    second render shows what the cold one read from the gateway."""
    at = logged_in("admin")
    data.clear_all()  # cold: every rollup read from the gateway again
    at.run()
    cold = metrics(at)
    at.run()
    assert metrics(at) == cold and cold["项目数"] == "176"
