"""The real app in a real browser: ``streamlit run frontend/server.py`` (the app behind its security headers) against the live
stack, driven by headless Chromium over the DevTools protocol. Logs in through the form
(typing, clicking), waits for the overview (KPIs, the county map's shapes,
charts) and the projects page (table, then a project opened by clicking its row), and
saves ``tests/artifacts/overview.png`` and ``projects.png`` for a person to look at.

Skips when Chromium is not installed, unless ``PORTFOLIO_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from bench.browser import (
    IDLE,
    LOGIN_BUTTON,
    OVERVIEW_DRAWN,
    WARM_UP,
    WARM_UP_DRAWN,
    Browser,
    fill_login,
    find_chromium,
)
from tests.frontend.conftest import PASSWORDS, ROOT, Stack
from tests.support import streamlit_server

ARTIFACTS = ROOT / "tests" / "artifacts"
REQUIRE_BROWSER = os.environ.get("PORTFOLIO_REQUIRE_BROWSER") == "1"

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        reason = "chromium is not installed (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(reason + " and PORTFOLIO_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    if (
        shutil.which("fc-list")
        and not subprocess.run(
            ["fc-list", ":lang=zh"], capture_output=True, text=True, check=False
        ).stdout.strip()
    ):
        # without a Chinese font every label is drawn as empty boxes: the screenshots lie
        reason = "no Chinese font is installed (apt-get install fonts-noto-cjk)"
        if REQUIRE_BROWSER:
            pytest.fail(reason + " and PORTFOLIO_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def frontend_url(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with streamlit_server(stack.gateway_url, tmp_path_factory.mktemp("streamlit") / "streamlit.log") as url:
        yield url


@pytest.fixture
def browser(chromium: str) -> Iterator[Browser]:
    opened = Browser(chromium, width=1600, height=1000)
    yield opened
    opened.close()


def text_of(selector: str) -> str:
    return f"Array.from(document.querySelectorAll({json.dumps(selector)})).map(e => e.innerText).join('\\n')"


def wait_idle(browser: Browser, condition: str, timeout: float = 60) -> None:
    browser.wait_for(f"({condition}) && {IDLE}", timeout=timeout)
    time.sleep(1.0)
    browser.wait_for(f"({condition}) && {IDLE}", timeout=timeout)


def test_overview_and_projects_in_a_browser(browser: Browser, frontend_url: str) -> None:
    started = time.monotonic()
    fill_login(browser, frontend_url, "admin", PASSWORDS["admin"])
    browser.click(LOGIN_BUTTON)
    wait_idle(browser, OVERVIEW_DRAWN)
    assert time.monotonic() - started < 30
    page = browser.evaluate(text_of("[data-testid=stMain]"))
    assert "总览" in page and "总投资" in page and "亿元" in page
    assert "Traceback" not in page and "{" not in browser.evaluate(text_of('[data-testid="stMetric"]'))
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "page overflows"
    browser.screenshot(ARTIFACTS / "overview.png")

    browser.click('[data-testid="stSidebarNav"] a[href$="/project-library"]')
    wait_idle(
        browser,
        "document.querySelector('[data-testid=\"stDataFrame\"]') && " + f"{text_of('h1')}.includes('项目')",
    )
    grid = browser.evaluate(
        "(() => { const r = document.querySelector('[data-testid=\"stDataFrame\"]').getBoundingClientRect();"
        " return [r.x, r.y]; })()"
    )
    for kind in ("mousePressed", "mouseReleased"):  # the first row's selection marker
        browser.send(
            "Input.dispatchMouseEvent", type=kind, x=grid[0] + 18, y=grid[1] + 52, button="left", clickCount=1
        )
    wait_idle(browser, f"{text_of('[data-testid=stMain]')}.includes('变更记录')")
    page = browser.evaluate(text_of("[data-testid=stMain]"))
    assert "打开项目" in page and "基本信息" in page and "总投资" in page and "Traceback" not in page
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "page overflows"
    browser.screenshot(ARTIFACTS / "projects.png")
    assert not [e for e in browser.console_errors() if "Traceback" in e]


def test_the_login_page_runs_the_chart_and_table_code_out_of_sight(
    browser: Browser, frontend_url: str
) -> None:
    """A new browser fetches and compiles the chart and table code while the person types,
    not after the click (bench/README, "P7 in a browser"); nothing of it shows."""
    browser.navigate(frontend_url)
    browser.wait_for(
        f"{WARM_UP_DRAWN} && {WARM_UP}.querySelector('[data-testid=\"stDataFrame\"] canvas')", timeout=60
    )
    visibility, right = browser.evaluate(
        f"(() => {{ const r = {WARM_UP}.getBoundingClientRect();"
        f" return [getComputedStyle({WARM_UP}).visibility, r.right]; }})()"
    )
    assert visibility == "hidden" and right <= 0
    assert browser.evaluate(f"{WARM_UP}.innerText") == ""
    visible = browser.evaluate(text_of("[data-testid=stMain]")).split()
    assert visible[:3] == ["锦州市“十四五”规划项目库", "用户名", "密码"] and visible[-1] == "登录"
