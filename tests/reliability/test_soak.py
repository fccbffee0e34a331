"""A bounded soak (marked ``slow``): the whole stack as real processes (``portfolio serve``
gateway, projects, indicators) on fresh PostgreSQL databases of the machine's server and
our own Redis, under a steady mixed load, watched from outside.

``RELIABILITY_SOAK_SECONDS`` sets the length of the load (default 45, so CI's whole suite
stays under ten minutes on a 2-CPU VM; the real soak is ``RELIABILITY_SOAK_SECONDS=600``). The run is cut
into six windows; the first is the warm-up, the second the baseline ("first steady").

Load: seven clients (threads, keep-alive connections, a short pause after each request):
lists with filters, sorts and pages; single projects; rollups (cached by the gateway) and
indicator summaries and indicators (not cached); PATCH with ``If-Match``; status changes
back and forth; monthly progress reports; indicator observations (a year's first value,
then corrections of it). Readers are a viewer, writers an admin and a manager.

Sampled every few seconds, per process (and its children, if any): RSS (``VmRSS`` of
``/proc/<pid>/status``), open file descriptors (``/proc/<pid>/fd``), established TCP
connections (its socket fds found in ``/proc/<pid>/net/tcp{,6}``), the PostgreSQL backends
on its database (``pg_stat_activity``); and Redis's connected clients. Per window: the
p50/p99 latency of every request.

Asserted after the warm-up: no 5xx and no unanswered request at all (every answer is a
200/201: the clients own their rows, so not even a 412 is expected); every client still
running in the last window; RSS of each process grew by less than ``RSS_GROWTH_MAX_MIB``
from the first steady window to the last (maxima of the windows); fds, TCP connections,
PostgreSQL backends and Redis clients: the last window's maximum at most the first steady
window's plus a small slack; the last window's p99 at most ``P99_FACTOR`` times the first
steady window's (itself taken as at least ``P99_FLOOR_S``); and every acknowledged write is
there at the end: versions, report counts and sums, observation revisions, last values.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session, col

from services.common.db import make_engine
from services.indicators.models import Indicator, Observation
from services.projects.models import ProgressReport, Project
from tests.reliability.infra import (
    Load,
    ProcessStack,
    RedisServer,
    Urls,
    login,
    make_user,
    migrate_all,
    open_fds,
    percentile,
    project_body,
    rss_kib,
)
from tests.support import (
    PG_ADMIN_URL,
    RUN_ID,
    create_pg_database,
    drop_pg_database,
    postgres_available,
    unavailable,
)

SOAK_S = float(os.environ.get("RELIABILITY_SOAK_SECONDS", "45"))
WINDOWS = 6
WINDOW_S = SOAK_S / WINDOWS
SAMPLE_EVERY_S = min(5.0, max(1.0, WINDOW_S / 5))
READ_PAUSE_S = 0.02
WRITE_PAUSE_S = 0.05

#: RSS growth allowed per process from the first steady window to the last. The processes
#: sit at 120-140 MiB and grew by less than 1 MiB in 60 s runs and by 1 MiB in a 600 s run
#: (allocator and caches settle within the warm-up). A leak of 1 KB per request over the
#: 600 s soak (~40,000 requests through the gateway) is 40 MB and fails; 30 MiB is also
#: about 20-25% of a process, so the two bounds the issue suggests agree.
RSS_GROWTH_MAX_MIB = 30
FD_SLACK = 4  #: a keep-alive connection opened late, a log rotation: not a leak
TCP_SLACK = 4
PG_SLACK = 3  #: the pools keep what they opened; a rare peak of concurrency opens one more
REDIS_SLACK = 3
P99_FACTOR = 3.0
#: on a two-core machine shared with other test runs a healthy window's p99 varied between
#: 100 and 320 ms (scheduling noise): the baseline is taken as at least 150 ms, so the bound
#: is at least 450 ms, still far below what a leaking pool or a creeping query shows (seconds)
P99_FLOOR_S = 0.15

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(int(SOAK_S) + 300)]

SERVICES = ("projects", "indicators", "gateway")
PM25: dict[str, Any] = {
    "name": "黑山县 PM2.5（浸泡测试）",
    "category": "生态环境",
    "unit": "μg/m³",
    "scope": "heishan",
    "direction": "decrease",
    "baseline_year": 2020,
    "baseline_value": 46,
    "target_year": 2025,
    "target_value": 35,
    "target_kind": "absolute",
}
OBSERVATION_YEARS = (2021, 2022, 2023, 2024, 2025)
PERIODS = [f"{year}-{month:02d}" for year in range(2000, 2101) for month in range(1, 13)]


# --------------------------------------------------------------------------- the stack


@dataclass
class Soak:
    stack: ProcessStack
    databases: dict[str, str]  # service -> database name
    redis_url: str


@pytest.fixture
def soak(own_redis: RedisServer, tmp_path: Path) -> Iterator[Soak]:
    reason = postgres_available()
    if reason:
        unavailable("PostgreSQL", reason)
    names = {service: f"soak_{service}_{RUN_ID}" for service in SERVICES}
    urls = Urls(**{f"{service}_db": create_pg_database(name) for service, name in names.items()})
    migrate_all(urls)
    stack = ProcessStack(tmp_path, urls, own_redis.url(9))
    try:
        stack.start()
        yield Soak(stack, names, own_redis.url(9))
    finally:
        stack.stop()
        for name in names.values():
            with contextlib.suppress(Exception):
                drop_pg_database(name)


# --------------------------------------------------------------------------- probes


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``--workers N`` would fork; one worker does not)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
                todo.extend(int(child) for child in children)
    return pids


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for name in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{name}")
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    return inodes


def established_tcp(pid: int) -> int:
    """Established TCP connections of ``pid``: its socket fds that ``/proc/<pid>/net/tcp``
    (and ``tcp6``) list in state 01 (the table is the network namespace's, so we match by
    inode)."""
    established: set[int] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                parts = line.split()
                if len(parts) > 9 and parts[3] == "01":
                    established.add(int(parts[9]))
    return len(socket_inodes(pid) & established)


@dataclass
class Probe:
    at: float
    process: str
    rss_kib: int
    fds: int
    tcp: int
    pg: int


@dataclass
class Sampler:
    """Samples every process of the stack, its database's backends and Redis's clients."""

    soak: Soak
    every_s: float
    probes: list[Probe] = field(default_factory=list)
    redis_clients: list[tuple[float, int, int]] = field(default_factory=list)  # at, clients, used bytes
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self, pg: Any, redis: Any) -> None:
        at = time.monotonic()
        rows = pg.execute(
            "SELECT datname, count(*) FROM pg_stat_activity WHERE datname = ANY(%s) GROUP BY datname",
            (list(self.soak.databases.values()),),
        ).fetchall()
        backends = {name: count for name, count in rows}
        for service, process in self.soak.stack.processes.items():
            pids = process_tree(process.pid)
            self.probes.append(
                Probe(
                    at,
                    service,
                    rss_kib=sum(rss_kib(pid) for pid in pids),
                    fds=sum(open_fds(pid) for pid in pids),
                    tcp=sum(established_tcp(pid) for pid in pids),
                    pg=backends.get(self.soak.databases[service], 0),
                )
            )
        info = redis.info()
        # our own connection is one of the clients, the same one all along
        self.redis_clients.append((at, int(info["connected_clients"]), int(info["used_memory"])))

    def _run(self) -> None:
        import psycopg
        import redis as redis_lib

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
            client = redis_lib.Redis.from_url(self.soak.redis_url)
            try:
                while True:
                    self.sample(pg, client)
                    if self._stop.wait(self.every_s):
                        break
            finally:
                client.close()

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


# --------------------------------------------------------------------------- clients


@dataclass
class Writes:
    """What each writer was told happened (only 200/201 answers count)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    etags: dict[int, str | None] = field(default_factory=dict)
    patches: Counter[int] = field(default_factory=Counter)
    last_total: dict[int, int] = field(default_factory=dict)
    moves: Counter[int] = field(default_factory=Counter)
    status: dict[int, str] = field(default_factory=dict)
    reports: Counter[int] = field(default_factory=Counter)
    reported_wan: Counter[int] = field(default_factory=Counter)
    next_period: Counter[int] = field(default_factory=Counter)
    observations: Counter[int] = field(default_factory=Counter)
    last_value: dict[tuple[int, int], str] = field(default_factory=dict)


def _cycle(values: list[Any]) -> Callable[[int], Any]:
    return lambda n: values[n % len(values)]


def make_clients(
    ids: dict[str, list[int]], indicators: list[int], writes: Writes, cache: Counter[str]
) -> dict[str, Callable[[httpx.Client, int], int]]:
    """The work of each client: ``work(client, n)`` sends one request, returns its status."""
    lists = _cycle(
        [
            "/api/v1/projects?limit=20",
            "/api/v1/projects?county=linghai&limit=50",
            "/api/v1/projects?sort=-total_investment_wan&limit=10",
            "/api/v1/projects?status=under_construction,suspended",
            "/api/v1/projects?sector_group=industry&sort=name",
            "/api/v1/projects?q=浸泡&min_investment_wan=500",
        ]
    )
    cursors: dict[str, str | None] = {"next": None}

    def list_projects(client: httpx.Client, n: int) -> int:
        if n % 7 == 6 and cursors["next"]:  # the next page of the first list
            response = client.get("/api/v1/projects", params={"limit": 20, "cursor": cursors["next"]})
        else:
            response = client.get(lists(n))
            if response.status_code == 200 and n % 6 == 0:
                cursors["next"] = response.json().get("next_cursor")
        return response.status_code

    every_project = _cycle([pid for group in ids.values() for pid in group])

    def get_project(client: httpx.Client, n: int) -> int:
        return client.get(f"/api/v1/projects/{every_project(n)}").status_code

    rollups = _cycle(
        [
            "/api/v1/rollups?by=county",
            "/api/v1/rollups?by=county",  # at once again: a hit unless a write came between
            "/api/v1/rollups?by=sector,status",
            "/api/v1/rollups/counties",
            "/api/v1/rollups/sectors?level=1",
            "/api/v1/summary?by=scope",  # not cached
            f"/api/v1/indicators/{indicators[0]}",  # not cached
            "/api/v1/indicators?limit=20",
        ]
    )

    def read_rollups(client: httpx.Client, n: int) -> int:
        response = client.get(rollups(n))
        cache[response.headers.get("x-cache", "none")] += 1
        return response.status_code

    def refetch(client: httpx.Client, pid: int) -> int:
        response = client.get(f"/api/v1/projects/{pid}")
        if response.status_code == 200:
            with writes.lock:
                writes.etags[pid] = response.headers["etag"]
        return response.status_code

    patch_ids = _cycle(ids["patch"])

    def patch(client: httpx.Client, n: int) -> int:
        pid = patch_ids(n)
        etag = writes.etags.get(pid)
        if etag is None:
            return refetch(client, pid)
        total = 1000 + n
        response = client.patch(
            f"/api/v1/projects/{pid}", json={"total_investment_wan": total}, headers={"If-Match": etag}
        )
        with writes.lock:
            if response.status_code == 200:
                writes.etags[pid] = response.headers["etag"]
                writes.patches[pid] += 1
                writes.last_total[pid] = total
            else:
                writes.etags[pid] = None
        return response.status_code

    status_ids = _cycle(ids["status"])

    def move(client: httpx.Client, n: int) -> int:
        pid = status_ids(n)
        etag = writes.etags.get(pid)
        if etag is None:
            return refetch(client, pid)
        target = "suspended" if writes.status[pid] == "under_construction" else "under_construction"
        response = client.post(
            f"/api/v1/projects/{pid}/status",
            json={"status": target, "note": f"浸泡 {n}"},
            headers={"If-Match": etag},
        )
        with writes.lock:
            if response.status_code == 200:
                writes.etags[pid] = response.headers["etag"]
                writes.moves[pid] += 1
                writes.status[pid] = target
            else:
                writes.etags[pid] = None
        return response.status_code

    report_ids = _cycle(ids["report"])

    def report(client: httpx.Client, n: int) -> int:
        pid = report_ids(n)
        index = writes.next_period[pid]
        assert index < len(PERIODS), "more reports than periods: add report projects"
        amount = 1 + n % 9
        response = client.post(
            f"/api/v1/projects/{pid}/reports",
            json={
                "period": PERIODS[index],
                "investment_this_period_wan": amount,
                "physical_progress_pct": index % 101,
                "issues": "无",
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        with writes.lock:
            if response.status_code == 201:
                writes.reports[pid] += 1
                writes.reported_wan[pid] += amount
                writes.next_period[pid] += 1
        return response.status_code

    def observe(client: httpx.Client, n: int) -> int:
        indicator = indicators[n % len(indicators)]
        year = OBSERVATION_YEARS[(n // len(indicators)) % len(OBSERVATION_YEARS)]
        value = f"{40 + (n % 1000) / 100:.2f}"  # differs from the year's current value
        response = client.post(
            f"/api/v1/indicators/{indicator}/observations",
            json={"year": year, "value": value, "source": "浸泡测试"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        with writes.lock:
            if response.status_code == 201:
                writes.observations[indicator] += 1
                writes.last_value[(indicator, year)] = value
        return response.status_code

    return {
        "list": list_projects,
        "project": get_project,
        "rollup": read_rollups,
        "patch": patch,
        "status": move,
        "report": report,
        "observation": observe,
    }


def seed(gateway_url: str, admin: dict[str, str]) -> tuple[dict[str, list[int]], list[int]]:
    """40 projects (4 patched, 4 moved, 20 reported on, 12 only read) and 2 indicators."""
    counties = ["linghai", "heishan", "guta", "beizhen"]
    sectors = ["port", "agri_park", "petrochemicals", "big_data", "farmland"]
    groups = {"patch": 4, "status": 4, "report": 20, "read": 12}
    ids: dict[str, list[int]] = {group: [] for group in groups}
    numbers = itertools.count()
    with httpx.Client(base_url=gateway_url, headers=admin, timeout=30) as http:
        for group, count in groups.items():
            for _ in range(count):
                n = next(numbers)
                body = project_body(
                    name=f"浸泡测试 {group} {n}",
                    county="linghai" if group == "report" else counties[n % len(counties)],
                    sector=sectors[n % len(sectors)],
                    total_investment_wan=500 + 37 * n,
                )
                created = http.post("/api/v1/projects", json=body)
                assert created.status_code == 201, created.text
                ids[group].append(created.json()["id"])
        indicators = []
        for n in range(2):
            created = http.post("/api/v1/indicators", json={**PM25, "code": f"SOAK-PM25-{n}"})
            assert created.status_code == 201, created.text
            indicators.append(created.json()["id"])
    return ids, indicators


# --------------------------------------------------------------------------- windows


@dataclass
class Window:
    index: int
    requests: int
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    labels: set[str]
    rss_mib: dict[str, float]  # maximum of the window, per process
    fds: dict[str, int]
    tcp: dict[str, int]
    pg: dict[str, int]
    redis_clients: int


def windows(load: Load, sampler: Sampler, t0: float) -> list[Window]:
    result = []
    for index in range(WINDOWS):
        start, end = t0 + index * WINDOW_S, t0 + (index + 1) * WINDOW_S
        samples = load.select(start=start, end=end)
        seconds = [s.seconds for s in samples]
        probes = [p for p in sampler.probes if start <= p.at < end]
        clients = [c for at, c, _used in sampler.redis_clients if start <= at < end]

        def peak(attribute: str, probes: list[Probe] = probes) -> dict[str, int]:
            return {
                s: max((getattr(p, attribute) for p in probes if p.process == s), default=0) for s in SERVICES
            }

        result.append(
            Window(
                index=index,
                requests=len(samples),
                p50_ms=percentile(seconds, 50) * 1000,
                p99_ms=percentile(seconds, 99) * 1000,
                statuses=load.statuses(start=start, end=end),
                labels={s.label for s in samples},
                rss_mib={s: kib / 1024 for s, kib in peak("rss_kib").items()},
                fds=peak("fds"),
                tcp=peak("tcp"),
                pg=peak("pg"),
                redis_clients=max(clients, default=0),
            )
        )
    return result


def table(rows: list[Window]) -> str:
    lines = ["window  requests  p50 ms  p99 ms  RSS MiB g/p/i      fds g/p/i    tcp g/p/i   pg g/p/i  redis"]
    for w in rows:
        triple = lambda values: "/".join(f"{values[s]:.0f}" for s in ("gateway", "projects", "indicators"))  # noqa: E731
        lines.append(
            f"{w.index:>6}  {w.requests:>8}  {w.p50_ms:>6.1f}  {w.p99_ms:>6.1f}  {triple(w.rss_mib):<17}  "
            f"{triple(w.fds):<11}  {triple(w.tcp):<10}  {triple(w.pg):<8}  {w.redis_clients}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- the soak


def test_soak_mixed_load_keeps_memory_connections_and_latency_steady(
    soak: Soak, record: Callable[[str], None]
) -> None:
    """Mixed reads and writes from seven clients for RELIABILITY_SOAK_SECONDS (default 60;
    600 is the real soak) against the stack as real processes on PostgreSQL: RSS, fds, TCP
    and database connections do not grow, p99 stays steady, no 5xx, no acknowledged write lost."""
    gateway_url = soak.stack.gateway_url
    admin = login(gateway_url)
    viewer = make_user(gateway_url, admin, "viewer")
    manager = make_user(gateway_url, admin, "manager")
    ids, indicators = seed(gateway_url, admin)
    writes = Writes()
    for pid in ids["patch"] + ids["status"]:
        writes.etags[pid] = None
    for pid in ids["status"]:
        writes.status[pid] = "planned"  # first move: planned -> under_construction, then back and forth
    cache: Counter[str] = Counter()
    work = make_clients(ids, indicators, writes, cache)

    load = Load()
    for label in ("list", "project", "rollup"):
        load.add(label, gateway_url, viewer, work[label], pause_s=READ_PAUSE_S)
    for label in ("patch", "status"):
        load.add(label, gateway_url, admin, work[label], pause_s=WRITE_PAUSE_S)
    for label in ("report", "observation"):
        load.add(label, gateway_url, manager, work[label], pause_s=WRITE_PAUSE_S)
    sampler = Sampler(soak, SAMPLE_EVERY_S)
    t0 = time.monotonic()
    sampler.start()
    load.start()
    try:
        time.sleep(SOAK_S)
    finally:
        load.stop()
        sampler.stop()
    rows = windows(load, sampler, t0)
    print(table(rows))
    first, last = rows[1], rows[-1]
    everything = load.statuses()
    total = sum(everything.values())

    # -- answers: never a 5xx, never unanswered; not even a 4xx (each client owns its rows)
    failures = {code: n for code, n in everything.items() if code == 0 or code >= 500}
    assert not failures, f"5xx or no answer: {failures} of {total}"
    assert set(everything) <= {200, 201}, f"unexpected answers: {everything}"
    assert last.labels == set(work), f"clients that stopped: {set(work) - last.labels}"

    # -- resources: steady after the warm-up
    for service in SERVICES:
        growth = last.rss_mib[service] - first.rss_mib[service]
        assert growth < RSS_GROWTH_MAX_MIB, (
            f"{service} RSS {first.rss_mib[service]:.0f} -> {last.rss_mib[service]:.0f} MiB\n{table(rows)}"
        )
        assert last.fds[service] <= first.fds[service] + FD_SLACK, f"{service} fds\n{table(rows)}"
        assert last.tcp[service] <= first.tcp[service] + TCP_SLACK, f"{service} TCP\n{table(rows)}"
        assert last.pg[service] <= first.pg[service] + PG_SLACK, f"{service} PostgreSQL\n{table(rows)}"
    assert last.redis_clients <= first.redis_clients + REDIS_SLACK, f"Redis clients\n{table(rows)}"
    baseline_ms = max(first.p99_ms, P99_FLOOR_S * 1000)
    assert last.p99_ms <= P99_FACTOR * baseline_ms, (
        f"p99 {first.p99_ms:.0f} -> {last.p99_ms:.0f} ms\n{table(rows)}"
    )

    # -- every acknowledged write is there
    projects = make_engine(soak.stack.urls.projects_db, poolclass=None)
    with Session(projects) as session:
        stored = {p.id: p for p in session.scalars(select(Project).where(col(Project.id).in_(writes.etags)))}
        report_rows = {
            row[0]: (row[1], row[2])
            for row in session.execute(
                select(
                    col(ProgressReport.project_id),
                    func.count(),
                    func.sum(col(ProgressReport.investment_this_period_wan)),
                )
                .where(col(ProgressReport.project_id).in_(ids["report"]))
                .group_by(col(ProgressReport.project_id))
            )
        }
        reported = {
            p.id: p for p in session.scalars(select(Project).where(col(Project.id).in_(ids["report"])))
        }
    projects.dispose()
    for pid in ids["patch"]:
        assert stored[pid].version == 1 + writes.patches[pid], f"project {pid}: lost or extra PATCH"
        assert stored[pid].total_investment_wan == writes.last_total.get(
            pid, stored[pid].total_investment_wan
        )
    for pid in ids["status"]:
        assert stored[pid].version == 1 + writes.moves[pid], f"project {pid}: lost or extra status change"
        assert stored[pid].status == writes.status[pid]
    for pid in ids["report"]:
        count, wan = report_rows.get(pid, (0, 0))
        assert count == writes.reports[pid], (
            f"project {pid}: {count} reports stored, {writes.reports[pid]} acknowledged"
        )
        assert (wan or 0) == writes.reported_wan[pid]
        assert reported[pid].version == 1 + writes.reports[pid]
    indicators_db = make_engine(soak.stack.urls.indicators_db, poolclass=None)
    with Session(indicators_db) as session:
        versions = {
            row[0]: row[1]
            for row in session.execute(
                select(col(Indicator.id), col(Indicator.version)).where(col(Indicator.id).in_(indicators))
            )
        }
        revisions = Counter(
            session.scalars(
                select(col(Observation.indicator_id)).where(col(Observation.indicator_id).in_(indicators))
            )
        )
        current = {
            (row[0], row[1]): row[2]
            for row in session.execute(
                select(col(Observation.indicator_id), col(Observation.year), col(Observation.value)).where(
                    col(Observation.indicator_id).in_(indicators), col(Observation.superseded_at).is_(None)
                )
            )
        }
    indicators_db.dispose()
    for indicator in indicators:
        assert revisions[indicator] == writes.observations[indicator], (
            f"indicator {indicator}: observations lost"
        )
        assert versions[indicator] == 1 + writes.observations[indicator]
    for key, value in writes.last_value.items():
        assert Decimal(current[key]) == Decimal(value), f"indicator {key[0]} year {key[1]}: last value"

    # -- the numbers
    acknowledged = {
        "PATCH": sum(writes.patches.values()),
        "status": sum(writes.moves.values()),
        "reports": sum(writes.reports.values()),
        "observations": sum(writes.observations.values()),
    }
    per_label = {
        label: f"{percentile([s.seconds for s in load.select(label)], 99) * 1000:.0f}" for label in work
    }
    rss = ", ".join(
        f"{s} {first.rss_mib[s]:.0f}->{last.rss_mib[s]:.0f}" for s in ("gateway", "projects", "indicators")
    )
    steady = lambda name: ", ".join(  # noqa: E731
        f"{s} {getattr(first, name)[s]}->{getattr(last, name)[s]}"
        for s in ("gateway", "projects", "indicators")
    )
    record(
        f"{SOAK_S:.0f} s, {WINDOWS} windows of {WINDOW_S:.0f} s: {total} requests ({total / SOAK_S:.0f}/s), "
        f"answers {everything}, rollup cache {dict(cache)}"
    )
    record(f"RSS MiB first steady->last window max: {rss}")
    record(
        f"fds {steady('fds')}; TCP established {steady('tcp')}; PostgreSQL backends {steady('pg')}; "
        f"Redis clients {first.redis_clients}->{last.redis_clients}"
    )
    record(
        "p50/p99 ms per window: "
        + ", ".join(f"{w.p50_ms:.0f}/{w.p99_ms:.0f}" for w in rows)
        + f"; p99 by client {per_label}"
    )
    record(f"acknowledged writes {acknowledged}, all stored (versions, report counts and sums, last values)")
