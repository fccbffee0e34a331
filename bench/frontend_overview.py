"""P7: how long the Streamlit overview takes to render with cold caches.

    python -m bench.frontend_overview --gateway-url http://127.0.0.1:8000 --username admin \\
        [--repeat 3] [--redis-url redis://127.0.0.1:6379/12]      (password in PORTFOLIO_BENCH_PASSWORD)

It drives ``frontend/app.py`` with ``streamlit.testing.v1.AppTest`` (the script runs in
this process, as in a Streamlit server; what is measured is the script run: every read of
the gateway, building the charts and tables, not the browser drawing them). It logs in
(that run renders the overview once: imports and connections are warm, as on a running
server), then ``--repeat`` times: makes the caches cold (the frontend's ``st.cache_data``
and, with ``--redis-url``, the gateway's rollup and reference caches, by moving their
generations on as a write would) and times one run of the overview, then times a second,
warm run (the floor: the same render with nothing to fetch). It prints one JSON line:
``{"cold_s": [...], "warm_s": [...], "projects": "<the KPI shown>"}``.

A separate process per measurement (:mod:`bench.suite` starts it), so every run begins
from a Streamlit that has seen no other page.

With ``--frontend-url`` (a running ``portfolio serve frontend``) it measures in headless
Chromium instead (:mod:`bench.browser`), what a person sees: from the click on 登录 to
the overview drawn in full (KPIs, every chart, the county map's shapes, Streamlit idle),
timed by the page's own clock. The click comes ``TYPING_S`` (2 s) after the bench has
filled in the form: a person typing a user name and a password takes at least that. Each
login is a new Streamlit session with a new token, so the frontend's caches are cold
(they are per token); the gateway's are made cold before each click as above.

A first visit is a login in a new Chromium with an empty profile (``first_visits_s``,
``--repeat`` of them, each in a browser of its own; ``first_visit_s`` their median): the
browser also fetches and compiles Streamlit's chart and table code (5.9 MB of JavaScript,
kept for a year after: ``Cache-Control: immutable``). The login page does that while the
person types, by drawing a chart and a table out of sight (``warm_up_s``: when its hidden
chart was drawn, from the page's start, for each first visit). One more first visit before
them is not measured: it warms the machine (Chromium's own files), not the site. The last
browser then logs in ``--repeat`` times more, a returning user (``cold_s``). The floor
(``warm_s``): in the same session, another page, then the overview again: the same drawing
with the data in the frontend's cache.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "frontend" / "app.py"
GENERATIONS = ("gw:cache:rollups:gen", "gw:cache:reference:gen")


def cold_gateway_cache(redis_url: str | None) -> None:
    """What a write does to the gateway's cache: the next read looks in a new, empty hash."""
    if not redis_url:
        return
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for key in GENERATIONS:
            if client.exists(key):
                client.incr(key)
    finally:
        client.close()


def logged_in(username: str, password: str) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=300).run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    if at.exception or not at.session_state["token"]:
        raise SystemExit(f"login failed: {[e.value for e in at.exception] or [e.value for e in at.error]}")
    return at.run()


def render(at: Any) -> float:
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception or at.error:
        problems = [e.value for e in at.exception] + [e.value for e in at.error]
        raise SystemExit(f"the overview did not render: {problems}")
    if not at.metric:
        raise SystemExit("the overview rendered no KPI")
    return elapsed


def in_browser(
    frontend_url: str, username: str, password: str, repeat: int, redis_url: str | None
) -> dict[str, Any]:
    from bench.browser import (
        IDLE,
        LOGIN_BUTTON,
        OVERVIEW_DRAWN,
        TYPING_S,
        WARM_UP_DRAWN,
        Browser,
        fill_login,
        find_chromium,
    )

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    leave = "(() => { const m = document.querySelector('[data-testid=stMain]');"
    leave += " return !!m && !m.querySelector('[data-testid=\"stMetric\"]') && m.innerText.length > 0; })()"
    cold: list[float] = []
    warm: list[float] = []
    first_visits: list[float] = []
    warm_ups: list[float] = []
    kpi = ""

    def click_to_drawn(browser: Browser, warm_ups: list[float] | None = None) -> float:
        fill_login(browser, frontend_url, username, password)
        if warm_ups is not None:  # when the login page's hidden chart was drawn, from the page's start
            warm_ups.append(browser.ms_when(WARM_UP_DRAWN) / 1000)
        time.sleep(TYPING_S)
        cold_gateway_cache(redis_url)
        started = browser.now_ms()
        browser.click(LOGIN_BUTTON)
        return (browser.ms_when(OVERVIEW_DRAWN) - started) / 1000

    # attempt 0 warms the machine up, unmeasured: the first Chromium of a run reads its own
    # files and its renderer's from disk (2.8 s against 2.2-2.3 s for the next first visits,
    # measured after dropping the page cache): the machine's cold start, not the site's
    for attempt in range(repeat + 1):
        browser = Browser(chromium)  # an empty profile: nothing of the site cached
        try:
            seconds = click_to_drawn(browser, warm_ups if attempt else None)
            if attempt:
                first_visits.append(seconds)
            if attempt < repeat:
                continue
            for _ in range(repeat):  # the last browser returns
                cold.append(click_to_drawn(browser))
                browser.click('[data-testid="stSidebarNav"] a[href$="/import-export"]')
                browser.ms_when(f"{leave} && {IDLE}")
                started = browser.now_ms()
                browser.click(
                    f'[data-testid="stSidebarNav"] a[href="{frontend_url.rstrip("/")}/"]'
                )  # the default page
                warm.append((browser.ms_when(OVERVIEW_DRAWN) - started) / 1000)
            kpi = browser.evaluate("document.querySelector('[data-testid=\"stMetricValue\"]').innerText")
        finally:
            browser.close()
    return {
        "cold_s": cold,
        "warm_s": warm,
        "first_visit_s": statistics.median(first_visits),
        "first_visits_s": first_visits,
        "warm_up_s": warm_ups,
        "projects": kpi,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="P7: the Streamlit overview's render time, cold and warm")
    parser.add_argument("--gateway-url", required=True)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--redis-url", help="the gateway's Redis (to make its cache cold as well)")
    parser.add_argument("--frontend-url", help="measure in headless Chromium against this running frontend")
    args = parser.parse_args(argv)
    password = os.environ.get("PORTFOLIO_BENCH_PASSWORD", "")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if args.frontend_url:
        result = in_browser(args.frontend_url, args.username, password, args.repeat, args.redis_url)
        print(json.dumps(result))
        return 0
    os.environ["GATEWAY_URL"] = args.gateway_url
    from frontend import data

    at = logged_in(args.username, password)
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(args.repeat):
        cold_gateway_cache(args.redis_url)
        data.clear_all()
        cold.append(render(at))
        warm.append(render(at))
    print(json.dumps({"cold_s": cold, "warm_s": warm, "projects": at.metric[0].value}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
