"""The scenarios P1-P7, each measured beside its floor in the same run.

Each function adds its :class:`~bench.report.Check` rows to ``checks`` before it measures,
so a scenario that fails half-way still shows up (with its error) in the report.

- P1 forwarded read: ``GET /api/v1/projects/{random id}`` through the gateway vs the same
  call at the projects service (internal token and actor headers), 32 connections;
  throughput ratio >= 0.5.
- P2 cached county rollup: ``GET /api/v1/rollups/counties`` through the gateway, warmed, vs
  :mod:`bench.floor` (the same bytes read from Redis by a bare ASGI app); throughput ratio
  >= 0.5 at 32 connections, and p50 <= 1 ms at one connection.
- P3 uncached county x sector rollup at the projects service (nothing caches it there) at
  every step of the library: p50 <= 5 ms at one connection; floor: the cheapest answer of
  the same service (``/reference/statuses``, no database). The curve: p50 at the largest
  step over p50 at the smallest <= 1.5 (flat).
- P4 status change through the gateway vs at the service, one connection, the project
  moving between two statuses with ``If-Match`` from the previous answer: p50 ratio <= 2.
- P5 a filtered, sorted list page (limit 50) at the largest library: p50 <= 10 ms through
  the gateway (floor: the same page at the service); a deep page by cursor (after following
  ``next_cursor`` up to 200 pages) over the first page <= 1.5.
- P6 import of 100,000 rows posted to the projects service: <= 30 s; floor: the same
  number of synthetic projects written by ``COPY`` (:mod:`bench.loader`, same run).
- P7 the Streamlit overview's first render with cold caches, logged in as admin: <= 2 s
  with the plan's data, <= 3 s with the largest library; floor: the same render warm.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench.report import Check
from bench.stack import ROOT, BenchStack
from bench.wrk_runner import Load, WrkError, WrkResult, run_wrk

LIST_QUERY = "county=heishan&status=planned&sort=-total_investment_wan&limit=50"


@dataclass
class Runner:
    stack: BenchStack
    duration_s: int
    warmup_s: int
    connections: int
    say: Callable[[str], None] = print

    def measure(self, load: Load | Callable[[], Load], connections: int, label: str) -> WrkResult:
        """A warm-up run (not kept), then the measured run; ``load`` may be built afresh
        for each (a status change needs the ETag of the moment)."""
        build = load if callable(load) else (lambda: load)
        offsets = self.stack.log_offsets()
        try:
            if self.warmup_s:
                run_wrk(build(), connections, self.warmup_s)
            result = run_wrk(build(), connections, self.duration_s)
        except WrkError as exc:
            failed = self.stack.failed_answers_since(offsets)
            raise WrkError(f"{exc}; failed answers in the services' logs: {failed or 'none'}") from None
        self.stack.check_alive()
        result.logged = self.stack.warnings_since(offsets)
        self.say(
            f"  {label:<46} {result.requests_per_s:>9,.0f} req/s  p50 {result.p50_ms:7.2f} ms"
            f"  p99 {result.p99_ms:7.2f} ms  ({connections} conn)"
        )
        for service, messages in result.logged.items():
            for message, count in messages.items():
                self.say(f"    note: {service} logged {count} × {message}")
        return result

    def gateway(self, path: str) -> Load:
        return Load(self.stack.url("gateway") + path, self.stack.gateway_headers)

    def service(self, path: str) -> Load:
        return Load(self.stack.url("projects") + path, self.stack.service_headers)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """A read straight at the projects service (setting up a scenario)."""
        answer = httpx.get(
            self.stack.url("projects") + path, params=params, headers=self.stack.service_headers, timeout=60
        )
        answer.raise_for_status()
        return answer


# --------------------------------------------------------------------------- P1


def forwarded_read(run: Runner, first_id: int, last_id: int, checks: list[Check]) -> None:
    c = run.connections
    check = Check(
        "P1",
        f"`GET /projects/{{id}}` via gateway, random ids, {c} conn: throughput",
        "req/s",
        "same call at the projects service",
        "ratio",
        ">=",
        0.5,
    )
    checks.append(check)
    args = ("/api/v1/projects/", str(first_id), str(last_id))
    floor = run.measure(
        Load(run.stack.url("projects"), run.stack.service_headers, "random_project.lua", args),
        c,
        "P1 service",
    )
    measured = run.measure(
        Load(run.stack.url("gateway"), run.stack.gateway_headers, "random_project.lua", args), c, "P1 gateway"
    )
    check.floor, check.measured = floor.requests_per_s, measured.requests_per_s
    check.details = {"ids": [first_id, last_id], "gateway": measured.summary(), "service": floor.summary()}


# --------------------------------------------------------------------------- P2


def cached_rollup(run: Runner, checks: list[Check]) -> None:
    c = run.connections
    throughput = Check(
        "P2",
        f"cached `GET /rollups/counties` via gateway, {c} conn: throughput",
        "req/s",
        "bare ASGI app, same bytes from Redis",
        "ratio",
        ">=",
        0.5,
    )
    latency = Check(
        "P2",
        "cached `GET /rollups/counties` via gateway, 1 conn: p50",
        "ms",
        "bare ASGI app, 1 conn",
        "measured",
        "<=",
        1.0,
    )
    checks += [throughput, latency]
    path = "/api/v1/rollups/counties"
    gateway_url, floor_url = run.stack.url("gateway") + path, run.stack.url("floor") + path
    with httpx.Client(timeout=60) as client:
        # warm: until the gateway answers from its cache (after a Redis hiccup it serves
        # uncached for a few seconds, then starts a new generation)
        deadline = time.monotonic() + 20
        while True:
            warm = client.get(gateway_url, headers=run.stack.gateway_headers)
            warm.raise_for_status()
            if warm.headers.get("x-cache") == "hit" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        floor_body = client.get(floor_url)
    if warm.headers.get("x-cache") != "hit":
        raise RuntimeError(
            f"the county rollup is not served from the cache (X-Cache: {warm.headers.get('x-cache')})"
        )
    if floor_body.content != warm.content:
        raise RuntimeError("the floor app does not return the bytes the gateway serves from its cache")
    results: dict[str, WrkResult] = {}
    for connections in (c, 1):
        results[f"floor_{connections}"] = run.measure(Load(floor_url), connections, "P2 floor app")
        results[f"gateway_{connections}"] = run.measure(run.gateway(path), connections, "P2 gateway")
    throughput.floor = results[f"floor_{c}"].requests_per_s
    throughput.measured = results[f"gateway_{c}"].requests_per_s
    latency.floor, latency.measured = results["floor_1"].p50_ms, results["gateway_1"].p50_ms
    details = {name: result.summary() for name, result in results.items()}
    throughput.details = latency.details = {"bytes": len(warm.content), **details}


# --------------------------------------------------------------------------- P3


def uncached_rollup(run: Runner, library: int, checks: list[Check]) -> WrkResult:
    check = Check(
        "P3",
        f"`GET /rollups?by=county,sector` at the service, N={library:,}, 1 conn: p50",
        "ms",
        "`GET /reference/statuses`, same service, no database",
        "measured",
        "<=",
        5.0,
    )
    checks.append(check)
    floor = run.measure(run.service("/api/v1/reference/statuses"), 1, "P3 service floor")
    measured = run.measure(run.service("/api/v1/rollups?by=county,sector"), 1, f"P3 rollup N={library:,}")
    check.floor, check.measured = floor.p50_ms, measured.p50_ms
    check.details = {"library": library, "rollup": measured.summary(), "floor": floor.summary()}
    return measured


def rollup_curve(curve: list[tuple[int, WrkResult]], checks: list[Check]) -> None:
    (first, first_result), (last, last_result) = curve[0], curve[-1]
    checks.append(
        Check(
            "P3",
            f"curve: p50 at N={last:,} over p50 at N={first:,} (flat)",
            "ms",
            f"p50 at N={first:,}",
            "ratio",
            "<=",
            1.5,
            measured=last_result.p50_ms,
            floor=first_result.p50_ms,
            details={"curve": [{"library": n, **r.summary()} for n, r in curve]},
        )
    )


# --------------------------------------------------------------------------- P4


def status_change(run: Runner, checks: list[Check]) -> None:
    check = Check(
        "P4",
        "`POST /projects/{id}/status` via gateway (If-Match chained), 1 conn: p50",
        "ms",
        "same change at the projects service",
        "ratio",
        "<=",
        2.0,
    )
    checks.append(check)
    items = run.get_json("/api/v1/projects", {"status": "preparing", "limit": 2, "sort": "-id"}).json()[
        "items"
    ]
    if len(items) < 2:
        raise RuntimeError("the library has fewer than two projects in preparation")
    service_project, gateway_project = items[0]["id"], items[1]["id"]

    def cycle(base_url: str, headers: dict[str, str], project_id: int) -> Callable[[], Load]:
        def load() -> Load:
            answer = run.get_json(f"/api/v1/projects/{project_id}")
            status = answer.json()["status"]
            other = "preparing" if status == "suspended" else "suspended"
            args = (str(project_id), answer.headers["etag"], status, other)
            return Load(base_url, headers, "status_cycle.lua", args)

        return load

    floor = run.measure(
        cycle(run.stack.url("projects"), run.stack.service_headers, service_project), 1, "P4 service"
    )
    measured = run.measure(
        cycle(run.stack.url("gateway"), run.stack.gateway_headers, gateway_project), 1, "P4 gateway"
    )
    check.floor, check.measured = floor.p50_ms, measured.p50_ms
    check.details = {
        "projects": {"service": service_project, "gateway": gateway_project},
        "service": floor.summary(),
        "gateway": measured.summary(),
    }


# --------------------------------------------------------------------------- P5


def list_pages(run: Runner, library: int, deep_pages: int, checks: list[Check]) -> None:
    first = Check(
        "P5",
        f"filtered, sorted list page 1 via gateway, N={library:,}, 1 conn: p50",
        "ms",
        "same page at the projects service",
        "measured",
        "<=",
        10.0,
    )
    deep = Check(
        "P5", "deep page by cursor via gateway, 1 conn: p50", "ms", "page 1 via gateway", "ratio", "<=", 1.5
    )
    checks += [first, deep]
    path = f"/api/v1/projects?{LIST_QUERY}"
    cursor, pages = None, 0
    for _ in range(deep_pages):
        body = run.get_json(path + (f"&cursor={quote(cursor)}" if cursor else "")).json()
        if not body["next_cursor"]:
            break
        cursor, pages = body["next_cursor"], pages + 1
    total = run.get_json(path).json()["total"]
    deep.check = f"the same list, page {pages + 1} by cursor, via gateway, 1 conn: p50"
    floor = run.measure(run.service(path), 1, "P5 page 1, service")
    page_one = run.measure(run.gateway(path), 1, "P5 page 1, gateway")
    deep_path = path + (f"&cursor={quote(cursor)}" if cursor else "")
    deep_page = run.measure(run.gateway(deep_path), 1, f"P5 page {pages + 1}, gateway")
    first.floor, first.measured = floor.p50_ms, page_one.p50_ms
    deep.floor, deep.measured = page_one.p50_ms, deep_page.p50_ms
    details = {
        "query": LIST_QUERY,
        "matching": total,
        "deep_page": pages + 1,
        "service_page_1": floor.summary(),
        "gateway_page_1": page_one.summary(),
        "gateway_deep_page": deep_page.summary(),
    }
    first.details = deep.details = details


# --------------------------------------------------------------------------- P6


def bulk_import(run: Runner, rows: int, copy_seconds_per_row: float, checks: list[Check]) -> None:
    from bench.import_bench import post, write_csv

    check = Check(
        "P6",
        f"import of {rows:,} CSV rows posted to the projects service",
        "s",
        f"COPY of {rows:,} synthetic projects (bench/loader.py)",
        "measured",
        "<=",
        30.0,
    )
    checks.append(check)
    with tempfile.TemporaryDirectory(prefix="portfolio-bench-import-") as folder:
        path = Path(folder) / "projects.csv"
        write_csv(path, rows)
        size = path.stat().st_size
        try:
            seconds, counts = post(run.stack.url("projects"), run.stack.internal_token, path, dry_run=False)
        except SystemExit as exc:  # import_bench's way of saying the service refused the file
            raise RuntimeError(str(exc)) from None
    if counts.get("created") != rows:
        raise RuntimeError(f"the import did not create every row: {counts}")
    check.measured, check.floor = seconds, copy_seconds_per_row * rows
    check.details = {"rows": rows, "bytes": size, "counts": counts}
    run.say(f"  P6 import of {rows:,} rows{'':<25} {seconds:9.1f} s")


# --------------------------------------------------------------------------- P7


def _overview_measure(run: Runner, repeat: int, *extra: str) -> dict[str, Any]:
    """``bench.frontend_overview`` in a process of its own; its JSON line."""
    argv = [sys.executable, "-m", "bench.frontend_overview", "--gateway-url", run.stack.url("gateway")]
    argv += ["--username", "admin", "--repeat", str(repeat), "--redis-url", run.stack.redis_url, *extra]
    env = {**os.environ, "PORTFOLIO_BENCH_PASSWORD": run.stack.admin_password, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"the overview render failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def overview_render(run: Runner, label: str, target_s: float, repeat: int, checks: list[Check]) -> None:
    check = Check(
        "P7",
        f"Streamlit overview, first render, cold caches ({label}): the script run",
        "s",
        "same render, warm caches",
        "measured",
        "<=",
        target_s,
    )
    checks.append(check)
    result = _overview_measure(run, repeat)
    check.measured = statistics.median(result["cold_s"])
    check.floor = statistics.median(result["warm_s"])
    check.details = result
    run.say(
        f"  P7 overview ({label}){'':<10} cold {check.measured:6.2f} s, warm {check.floor:6.2f} s"
        f"  (KPI projects: {result['projects']})"
    )


def overview_in_browser(run: Runner, label: str, target_s: float, repeat: int, checks: list[Check]) -> None:
    """P7 as a person sees it: headless Chromium, from the click on 登录 to the overview
    drawn in full (see :mod:`bench.frontend_overview`)."""
    returning = Check(
        "P7",
        f"overview in Chromium, click on 登录 to drawn, caches cold ({label})",
        "s",
        "same drawing, frontend cache warm (another page, then back)",
        "measured",
        "<=",
        target_s,
    )
    first = Check(
        "P7",
        f"the same, first visit: empty browser cache ({label})",
        "s",
        "a returning browser (the row above)",
        "measured",
        "<=",
        target_s,
    )
    checks += [returning, first]
    result = _overview_measure(run, repeat, "--frontend-url", run.stack.url("frontend"))
    returning.measured = statistics.median(result["cold_s"])
    returning.floor = statistics.median(result["warm_s"])
    first.measured, first.floor = result["first_visit_s"], returning.measured
    returning.details = first.details = result
    run.say(
        f"  P7 in Chromium ({label}){'':<4} cold {returning.measured:6.2f} s, warm {returning.floor:6.2f} s,"
        f" first visit {first.measured:6.2f} s"
    )
