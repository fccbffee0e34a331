"""Every label and message of the frontend, in Chinese (first) and English.

``t(key, lang, **values)`` looks a text up and fills ``{placeholders}``. The language is
``"zh"`` or ``"en"``; without one, the session's choice (``st.session_state["lang"]``) is
used, Chinese when there is none. A missing key shows the key itself, so a gap is visible
without breaking a page; ``tests/frontend/test_format.py`` checks both languages are there.

Names of counties and sectors come from the gateway's ``/reference`` lists; statuses and
indicator progress statuses are here because they carry the frontend's colours too.
"""

from __future__ import annotations

LANGS: tuple[str, ...] = ("zh", "en")
DEFAULT_LANG = "zh"

TEXT: dict[str, tuple[str, str]] = {
    # app, login, navigation
    "app.title": ("锦州市“十四五”规划项目库", "Jinzhou 14th Five-Year Plan portfolio"),
    "app.language": ("语言", "Language"),
    "nav.overview": ("总览", "Overview"),
    "nav.county": ("区县", "Counties"),
    "nav.projects": ("项目", "Projects"),
    "nav.indicators": ("指标", "Indicators"),
    "nav.import_export": ("导入导出", "Import / export"),
    "nav.login": ("登录", "Log in"),
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.missing": ("请输入用户名和密码。", "Enter your username and password."),
    "login.expired": ("登录已过期，请重新登录。", "Your session has expired. Please log in again."),
    "login.logged_out": ("您已退出登录。", "You have logged out."),
    "login.as": ("当前用户：{user}（{role}）", "Logged in as {user} ({role})"),
    "login.counties": ("负责区县：{counties}", "Counties: {counties}"),
    "login.logout": ("退出登录", "Log out"),
    "role.viewer": ("查看者", "viewer"),
    "role.manager": ("区县管理员", "county manager"),
    "role.admin": ("管理员", "administrator"),
    # errors
    "error.gateway_down": (
        "无法连接到项目库服务（网关 {url}）。请稍后重试；如持续出现，请联系系统管理员。",
        "The portfolio service (gateway {url}) cannot be reached. Try again in a moment; "
        "if it persists, contact the system administrator.",
    ),
    "error.unexpected": (
        "页面出现意外问题，已记录。请刷新页面重试；如持续出现，请联系系统管理员。",
        "Something unexpected went wrong on this page; it has been logged. Reload the page to "
        "try again; if it persists, contact the system administrator.",
    ),
    "error.http": (
        "服务返回错误（{status}）。请稍后重试。",
        "The service answered with an error ({status}). Try again later.",
    ),
    "error.forbidden": ("您没有权限执行此操作。", "You are not allowed to do this."),
    "error.not_found": ("未找到所请求的内容。", "What you asked for was not found."),
    "error.field": ("{field}：{message}", "{field}: {message}"),
    # common
    "common.all": ("全部", "All"),
    "common.none": ("—", "—"),
    "common.filters": ("筛选", "Filters"),
    "common.status": ("状态", "Status"),
    "common.county": ("区县", "County"),
    "common.sector": ("行业", "Sector"),
    "common.sector_group": ("行业大类", "Sector group"),
    "common.start_year": ("开工年份", "Start year"),
    "common.search": ("名称搜索", "Search by name"),
    "common.save": ("保存", "Save"),
    "common.note": ("说明", "Note"),
    "common.no_data": ("暂无数据。", "No data."),
    "common.saved": ("已保存。", "Saved."),
    "common.unit_yi": ("亿元", "RMB bn"),
    # KPIs
    "kpi.projects": ("项目数", "Projects"),
    "kpi.total": ("总投资", "Total investment"),
    "kpi.completed": ("已完成投资", "Investment completed"),
    "kpi.by_status": ("按状态", "By status"),
    "kpi.over_budget": ("超概算项目", "Over budget"),
    # overview
    "overview.title": ("总览", "Overview"),
    "overview.map": ("区县分布", "By county"),
    "overview.metric": ("地图指标", "Map shows"),
    "metric.investment": ("总投资", "Total investment"),
    "metric.completion_rate": ("投资完成率", "Completion rate"),
    "metric.count": ("项目数", "Number of projects"),
    "overview.citywide": (
        "市本级及跨区县项目（不在地图上）：{count} 个，{money}。",
        "City-level and multi-county projects (not on the map): {count}, {money}.",
    ),
    "overview.new_area": ("新区（点位）", "New area (point)"),
    "overview.points": (
        "带黑边的圆点是滨海新区和松山新区（新区没有行政边界，以点位表示，颜色同一色阶）。",
        "The ringed dots are Binhai and Songshan New Areas (they have no administrative boundary; "
        "same colour scale).",
    ),
    "overview.by_group": ("按行业大类", "By sector group"),
    "overview.by_sector": ("按二级行业", "By sector"),
    "overview.heatmap": ("区县 × 行业投资", "Investment by county and sector"),
    "overview.indicators": ("指标概览", "Indicators at a glance"),
    "overview.indicator_count": ("共 {count} 项指标", "{count} indicators"),
    "overview.filters_note": (
        "筛选条件作用于本页所有项目数字和图表（指标概览不按项目筛选）。",
        "The filters apply to every project figure and chart on this page (not to the indicators).",
    ),
    # county page
    "county.title": ("区县", "Counties"),
    "county.pick": ("选择区县", "Choose a county"),
    "county.projects": ("项目", "Projects"),
    "county.indicators": ("指标", "Indicators"),
    "county.stalled": ("停滞项目", "Stalled projects"),
    "county.stalled_help": (
        "停缓建，或在建但 3 个月以上没有进度报告（含从未报告）的项目。",
        "Suspended, or not reported for more than 3 months (or never, while under construction).",
    ),
    "county.no_stalled": ("没有停滞项目。", "No stalled projects."),
    "county.stalled_reason.suspended": ("停缓建", "suspended"),
    "county.stalled_reason.never": ("在建但从未报告进度", "under construction, never reported"),
    "county.stalled_reason.old": ("最近报告 {period}", "last report {period}"),
    # projects
    "projects.title": ("项目", "Projects"),
    "projects.sort": ("排序", "Sort by"),
    "sort.-total_investment_wan": ("总投资（高→低）", "Investment (high to low)"),
    "sort.total_investment_wan": ("总投资（低→高）", "Investment (low to high)"),
    "sort.code": ("编码", "Code"),
    "sort.name": ("名称", "Name"),
    "sort.-updated_at": ("最近更新", "Recently updated"),
    "projects.min": ("最低投资（亿元）", "Minimum investment (RMB bn)"),
    "projects.max": ("最高投资（亿元）", "Maximum investment (RMB bn)"),
    "projects.count": ("共 {total} 个项目", "{total} projects"),
    "projects.truncated": (
        "只显示前 {shown} 个，请缩小筛选范围。",
        "Showing the first {shown}; narrow the filters.",
    ),
    "projects.open": ("打开项目", "Open a project"),
    "projects.pick_hint": (
        "在表格中选中一行，或在此选择项目查看详情。",
        "Select a row in the table, or pick a project here.",
    ),
    "col.code": ("编码", "Code"),
    "col.count_short": ("项目", "Projects"),
    "col.name": ("项目名称", "Project"),
    "col.total": ("总投资（亿元）", "Investment (RMB m)"),
    "col.completed": ("已完成（亿元）", "Completed (RMB m)"),
    "col.progress": ("形象进度", "Physical progress"),
    "col.rate": ("投资完成率", "Investment completed"),
    "col.last_report": ("最近报告", "Last report"),
    "col.years": ("建设年限", "Years"),
    "col.reason": ("原因", "Reason"),
    # project detail
    "detail.fields": ("基本信息", "Details"),
    "detail.history": ("变更记录", "History"),
    "detail.reports": ("进度报告", "Progress reports"),
    "report.actor": ("填报人", "By"),
    "report.at": ("填报时间", "Submitted"),
    "detail.no_reports": ("还没有进度报告。", "No progress reports yet."),
    "detail.read_only": ("您可以查看此项目，但无权修改。", "You can view this project but not change it."),
    "detail.final": (
        "项目已处于最终状态，不能再变更状态。",
        "The project is in a final status; it cannot move on.",
    ),
    "field.code": ("编码", "Code"),
    "field.name": ("名称", "Name"),
    "field.name_en": ("英文名称", "English name"),
    "field.description": ("说明", "Description"),
    "field.sector": ("行业", "Sector"),
    "field.sector_group": ("行业大类", "Sector group"),
    "field.county": ("所属区县", "County"),
    "field.county_shares": ("区县分摊", "County shares"),
    "field.zone": ("园区", "Zone"),
    "field.owner_org": ("业主单位", "Owner"),
    "field.total_investment_wan": ("总投资", "Total investment"),
    "field.completed_investment_wan": ("已完成投资", "Investment completed"),
    "field.start_year": ("开工年份", "Start year"),
    "field.end_year": ("完工年份", "End year"),
    "field.status": ("状态", "Status"),
    "field.status_note": ("状态说明", "Status note"),
    "field.status_changed_at": ("状态变更时间", "Status changed"),
    "field.physical_progress_pct": ("形象进度", "Physical progress"),
    "field.last_report_period": ("最近报告月份", "Last report"),
    "field.over_budget": ("超概算", "Over budget"),
    "field.plan_section": ("规划专栏", "Plan column"),
    "field.plan_category": ("专栏类别", "Column category"),
    "field.plan_line": ("规划原文行号", "Line in the plan"),
    "field.parent_code": ("所属项目", "Part of"),
    "field.tags": ("标签", "Tags"),
    "field.version": ("版本", "Version"),
    "field.updated_at": ("最近更新", "Updated"),
    "field.lat": ("纬度", "Latitude"),
    "field.lon": ("经度", "Longitude"),
    "field.parent_id": ("上级项目", "Parent project"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "kind.create": ("创建", "created"),
    "kind.update": ("修改", "updated"),
    "kind.status": ("状态变更", "status changed"),
    "kind.report": ("提交进度报告", "progress report"),
    "kind.delete": ("删除", "deleted"),
    "history.entry": ("{at} · {actor} · {kind}", "{at} · {actor} · {kind}"),
    # forms
    "form.status": ("变更状态", "Change status"),
    "form.new_status": ("新状态", "New status"),
    "form.status_submit": ("变更状态", "Change status"),
    "form.status_done": ("状态已变更为“{status}”。", "Status changed to '{status}'."),
    "form.edit": ("修改项目", "Edit project"),
    "form.edit_submit": ("保存修改", "Save changes"),
    "form.nothing_changed": ("没有需要保存的修改。", "Nothing to save: no field was changed."),
    "form.wan_help": ("单位：万元（1 亿元 = 10,000 万元）", "In 万元 (10,000 yuan; 1 亿元 = 10,000 万元)"),
    "form.change_note": ("修改说明（可选）", "Reason for the change (optional)"),
    "form.report": ("月度进度报告", "Monthly progress report"),
    "form.period": ("报告月份（YYYY-MM）", "Month (YYYY-MM)"),
    "form.report_status": ("报告后的状态", "Status after this report"),
    "form.investment_this_period": ("本期完成投资（万元）", "Invested this month (万元)"),
    "form.progress": ("形象进度（%）", "Physical progress (%)"),
    "form.issues": ("存在问题", "Issues"),
    "form.next_steps": ("下步计划", "Next steps"),
    "form.report_submit": ("提交报告", "Submit report"),
    "form.report_done": ("{period} 的进度报告已提交。", "The report for {period} has been submitted."),
    "conflict.title": (
        "{actor} 在 {time} 修改了此项目；以下是变更内容。您填写的内容已保留，请核对后重新提交。",
        "{actor} changed this project at {time}; here is what changed. Your input is kept: "
        "check it and submit again.",
    ),
    "conflict.someone": ("其他用户", "Someone"),
    "conflict.no_details": ("（变更记录中没有更多细节）", "(no further details in the history)"),
    # indicators
    "indicators.title": ("指标", "Indicators"),
    "indicators.scope": ("范围", "Scope"),
    "indicators.city": ("全市", "City"),
    "indicators.pick": ("查看指标", "Show an indicator"),
    "indicators.pick_hint": (
        "在表格中选中一行，或在此选择指标。",
        "Select a row in a table, or pick an indicator here.",
    ),
    "indicators.count": ("共 {count} 项", "{count} indicators"),
    "ind.name": ("指标", "Indicator"),
    "ind.scope": ("范围", "Scope"),
    "ind.unit": ("单位", "Unit"),
    "ind.baseline": ("基期值", "Baseline"),
    "ind.target": ("目标值", "Target"),
    "ind.latest": ("最新值", "Latest"),
    "ind.progress": ("进度", "Progress"),
    "ind.expected": ("应达进度", "Expected"),
    "ind.status": ("状态", "Status"),
    "ind.explanation": ("说明", "Explanation"),
    "ind.observed": ("实际值", "Observed"),
    "ind.path": ("按直线路径至目标", "Straight path to the target"),
    "ind.path_growth": ("按年均增速路径至目标", "Growth path to the target"),
    "ind.target_point": ("目标", "Target"),
    "ind.year": ("年份", "Year"),
    "ind.value": ("数值", "Value"),
    "ind.observations": ("历年数据", "Observations"),
    "ind.record": ("录入数据", "Record a value"),
    "ind.record_submit": ("保存数据", "Save value"),
    "ind.recorded": ("{year} 年数据已保存。", "The value for {year} has been saved."),
    "ind.unchanged": (
        "{year} 年的数据与已有数值相同，未作修改。",
        "{year} already has this value; nothing changed.",
    ),
    "ind.source": ("来源", "Source"),
    "ind.cumulative_note": (
        "累计类指标：图中为规划期内累计值。",
        "Cumulative target: the chart shows the running total.",
    ),
    "pstatus.achieved": ("已实现", "Achieved"),
    "pstatus.on_track": ("正常推进", "On track"),
    "pstatus.at_risk": ("有风险", "At risk"),
    "pstatus.off_track": ("滞后", "Off track"),
    "pstatus.no_data": ("暂无数据", "No data"),
    "pstatus.not_measurable": ("不可量化", "Not measurable"),
    # statuses
    "status.planned": ("储备", "Planned"),
    "status.preparing": ("前期", "Preparing"),
    "status.under_construction": ("在建", "Under construction"),
    "status.suspended": ("停缓建", "Suspended"),
    "status.completed": ("竣工", "Completed"),
    "status.cancelled": ("取消", "Cancelled"),
    # import / export
    "io.title": ("导入导出", "Import and export"),
    "io.import": ("导入项目", "Import projects"),
    "io.import_help": (
        "上传 CSV 或 XLSX 文件。先检查（不写入），确认无误后再正式导入：全部成功或全部不导入。",
        "Upload a CSV or XLSX file. It is checked first (nothing is written); then import it: "
        "all rows or none.",
    ),
    "io.file": ("选择文件", "File"),
    "io.check": ("检查文件", "Check the file"),
    "io.commit": ("正式导入", "Import"),
    "io.errors": (
        "发现 {count} 处问题，请修改文件后重新上传：",
        "{count} problems found; fix the file and upload it again:",
    ),
    "io.ok": ("检查通过：{summary}。可以正式导入。", "The file is valid: {summary}. You can import it now."),
    "io.done": ("导入完成：{summary}。", "Imported: {summary}."),
    "io.rows": ("{count} 行", "{count} rows"),
    "io.summary.created": ("新增 {count} 个", "{count} new"),
    "io.summary.updated": ("更新 {count} 个", "{count} updated"),
    "io.summary.unchanged": ("未变 {count} 个", "{count} unchanged"),
    "io.row": ("行", "Row"),
    "io.column": ("列", "Column"),
    "io.message": ("问题", "Problem"),
    "io.value": ("填写的值", "Value"),
    "io.more_errors": ("只列出前 {shown} 处（共 {total} 处）。", "Showing the first {shown} of {total}."),
    "io.template": ("导入模板", "Import template"),
    "io.template_get": ("获取模板", "Get the template"),
    "io.no_permission": (
        "只有管理员和区县管理员可以导入项目。",
        "Only administrators and county managers can import projects.",
    ),
    "io.unavailable": (
        "网关暂未提供{what}功能（404）。请稍后再试或联系系统管理员。",
        "The gateway does not offer {what} yet (404). Try later or contact the system administrator.",
    ),
    "io.what_import": ("导入", "import"),
    "io.what_export": ("导出", "export"),
    "io.export": ("导出项目清单", "Export the project list"),
    "io.format": ("文件格式", "Format"),
    "io.prepare": ("生成文件", "Prepare the file"),
    "io.download": ("下载 {name}", "Download {name}"),
    "io.ready": ("文件已生成（{size}）。", "The file is ready ({size})."),
}


def t(key: str, lang: str | None = None, **values: object) -> str:
    """The text for ``key`` in ``lang`` (default: the session's language), filled in."""
    pair = TEXT.get(key)
    if pair is None:
        return key
    text = pair[1] if (lang or current_lang()) == "en" else pair[0]
    return text.format(**values) if values else text


def current_lang() -> str:
    """The session's language; Chinese outside a Streamlit session."""
    try:
        import streamlit as st

        lang = st.session_state.get("lang", DEFAULT_LANG)
    except Exception:  # noqa: BLE001 - no session (unit tests, scripts)
        return DEFAULT_LANG
    return lang if lang in LANGS else DEFAULT_LANG
