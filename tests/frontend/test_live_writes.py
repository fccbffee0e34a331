"""Writing through the app against the live stack: a status change, a monthly progress
report (and a second one for the same month), a 412 conflict that keeps the user's input,
recording an indicator value, and the stalled list. Each test works on its own project;
every write must be visible in the app's next read (the cache is cleared)."""

from __future__ import annotations

from typing import Any

from frontend.format import money
from tests.frontend.conftest import Stack
from tests.frontend.helpers import (
    button,
    go,
    heishan_projects,
    logged_in,
    markdown,
    metrics,
    open_project,
    texts,
)


def test_a_status_change_through_the_form(stack: Stack) -> None:
    client: Any = stack.client()
    project = heishan_projects(stack)[1]
    at = open_project(logged_in("heishan.manager"), project["id"])
    at.selectbox(key=f"status:{project['id']}:status.zh").set_value("under_construction")
    at.text_input(key=f"status:{project['id']}:note").input("已开工")
    button(at, "变更状态").click().run()
    assert not at.exception and not at.error
    assert "状态已变更为“在建”。" in [s.value for s in at.success]
    assert client.project(project["id"]).data["status"] == "under_construction"
    last = client.history(project["id"])[-1]
    assert last["actor"] == "heishan.manager" and last["note"] == "已开工"
    assert "在建" in markdown(at)  # the page shows the new status at once
    assert at.selectbox(key=f"status:{project['id']}:status.zh").options == ["停缓建", "竣工", "取消"]
    counts = client.rollup("status")["totals"]["status_counts"]
    go(at, "overview")
    assert f"在建 {counts['under_construction']}" in markdown(at)


def test_a_monthly_report_through_the_form_and_a_second_for_the_month(stack: Stack) -> None:
    client: Any = stack.client()
    project = heishan_projects(stack)[2]
    at = open_project(logged_in("admin"), project["id"])
    key = f"report:{project['id']}"
    at.text_input(key=f"{key}:period").input("2025-03")
    at.selectbox(key=f"{key}:status.zh").set_value("under_construction")
    at.number_input(key=f"{key}:invest").set_value(1200)
    at.slider(key=f"{key}:progress").set_value(35)
    at.text_area(key=f"{key}:issues").input("征地进度偏慢")
    button(at, "提交报告").click().run()
    assert not at.exception and not at.error
    assert "2025-03 的进度报告已提交。" in [s.value for s in at.success]
    after = client.project(project["id"]).data
    assert after["completed_investment_wan"] == project["completed_investment_wan"] + 1200
    assert after["physical_progress_pct"] == 35 and after["last_report_period"] == "2025-03"
    assert [r["period"] for r in client.reports(project["id"])] == ["2025-03"]
    assert metrics(at)["已完成投资"] == money(after["completed_investment_wan"], "zh")
    assert "征地进度偏慢" in str(at.dataframe[-1].value["issues"].tolist())

    at.text_input(key=f"{key}:period").input("2025-03")
    button(at, "提交报告").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "2025-03" in at.error[0].value and "{" not in at.error[0].value
    assert len(client.reports(project["id"])) == 1


def test_a_412_conflict_keeps_the_input_and_shows_what_changed(stack: Stack) -> None:
    client: Any = stack.client()
    manager: Any = stack.client("heishan.manager")
    project = heishan_projects(stack)[3]
    pid = project["id"]
    at = open_project(logged_in("admin"), pid)
    seen = client.project(pid)
    manager.update_project(pid, seen.etag, {"owner_org": "黑山县城投公司", "note": "补充业主"})

    typed_total = project["total_investment_wan"] + 5000
    at.number_input(key=f"edit:{pid}:total_investment_wan").set_value(typed_total)
    button(at, "保存修改").click().run()
    assert not at.exception and not at.error
    warning = at.warning[0].value
    assert (
        warning.startswith("heishan.manager 在 ")
        and "修改了此项目" in warning
        and "您填写的内容已保留" in warning
    )
    before = project.get("owner_org") or "—"
    assert f"业主单位: {before} → 黑山县城投公司" in markdown(at) and "补充业主" in markdown(at)
    assert at.number_input(key=f"edit:{pid}:total_investment_wan").value == typed_total
    assert at.text_input(key=f"edit:{pid}:owner_org").value == "黑山县城投公司"  # follows the newer version

    button(at, "保存修改").click().run()
    assert not at.exception and not at.error and not at.warning
    saved = client.project(pid).data
    assert saved["total_investment_wan"] == typed_total and saved["owner_org"] == "黑山县城投公司"
    assert metrics(at)["总投资"] == money(typed_total, "zh")


def test_recording_an_indicator_value(stack: Stack) -> None:
    client: Any = stack.client()
    indicator = next(
        i
        for i in client.indicators()["items"]
        if i["target_kind"] in ("absolute", "at_most") and i["period_start"] <= 2024 <= i["period_end"]
    )
    at = go(logged_in("admin"), "indicators")
    at.session_state["indicator_id"] = indicator["id"]
    at.run()
    iid = indicator["id"]
    at.number_input(key=f"obs:{iid}:year").set_value(2024)
    at.text_input(key=f"obs:{iid}:value").input("12.5")
    at.text_input(key=f"obs:{iid}:note").input("统计公报")
    button(at, "保存数据").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "2024 年数据已保存。" in [s.value for s in at.success]
    observations = client.indicator(iid)["observations"]
    assert any(o["year"] == 2024 and float(o["value"]) == 12.5 for o in observations)
    observed = next(d.value for d in at.dataframe if "年份" in d.value.columns)
    assert "2024" in observed["年份"].tolist()

    at.text_input(key=f"obs:{iid}:value").input("twelve")
    button(at, "保存数据").click().run()
    assert len(at.error) == 1 and "twelve" in at.error[0].value


def test_a_suspended_project_is_listed_as_stalled_on_its_county_page(stack: Stack) -> None:
    client: Any = stack.client()
    project = heishan_projects(stack)[4]
    found = client.project(project["id"])
    client.change_status(project["id"], found.etag, "suspended", "资金未到位")
    at = go(logged_in("admin"), "county")
    at.selectbox(key="county_pick.zh").set_value("heishan").run()
    stalled = at.dataframe[-1].value
    assert project["code"] in stalled["code"].tolist()
    assert "停缓建" in stalled["reason"].tolist()
    assert "没有停滞项目。" not in texts(at)


IMPORT_HEADER = "编码,名称,区县,行业,状态,总投资（万元）,开工年份,完工年份\n"
GOOD_ROW = "FE-0001,前端导入测试项目,heishan,port,planned,12000,2024,2026\n"
BAD_ROW = "FE-0002,区县写错的项目,nowhere,port,planned,100,2024,2026\n"


def test_import_checks_the_file_shows_row_errors_then_imports(stack: Stack) -> None:
    client: Any = stack.client()
    at = go(logged_in("admin"), "import_export")
    at.file_uploader[0].set_value(("projects.csv", (IMPORT_HEADER + GOOD_ROW + BAD_ROW).encode(), "text/csv"))
    at.run()
    at.button(key="io_check").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("发现 1 处问题")
    problems = at.dataframe[0].value
    assert problems["行"].tolist() == ["3"] and "nowhere" in problems["填写的值"].tolist()
    assert "正式导入" not in [b.label for b in at.button]

    at.file_uploader[0].set_value(("projects.csv", (IMPORT_HEADER + GOOD_ROW).encode(), "text/csv"))
    at.run()
    at.button(key="io_check").click().run()
    assert at.success[0].value.startswith("检查通过：1 行")
    assert client.projects({"q": "前端导入测试项目"})["total"] == 0  # a dry run writes nothing
    at.button(key="io_commit").click().run()
    assert not at.error and "导入完成" in texts(at)
    assert client.projects({"q": "前端导入测试项目"})["total"] == 1
