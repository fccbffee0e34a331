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
"""

from __future__ import annotations

import argparse
import json
import os
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="P7: the Streamlit overview's render time, cold and warm")
    parser.add_argument("--gateway-url", required=True)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--redis-url", help="the gateway's Redis (to make its cache cold as well)")
    args = parser.parse_args(argv)
    password = os.environ.get("PORTFOLIO_BENCH_PASSWORD", "")
    os.environ["GATEWAY_URL"] = args.gateway_url
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
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
