"""``portfolio bench``: the whole benchmark in one run, every number beside its floor.

Order of a run (each step's numbers come from the library as it is at that moment):

1. the stack (:mod:`bench.stack`): scratch databases, migrations, admin and API key, the
   three services and the P2 floor app as processes;
2. the plan's data through the services' API (``portfolio seed``'s code), then P7 with
   the plan (176 projects and the plan's indicators);
3. synthetic projects loaded step by step (:mod:`bench.loader`, the same seeded stream, so
   every step contains the previous one), P3 measured after each step;
4. at the largest library: P1, P2, P5, P4 (it writes: after the reads), P7, then P6 (the
   import adds its rows to the library, so it comes last);
5. ``<out>/<UTC date-time>.json`` and ``.md``; the table is printed.

The stack is taken down whatever happens (failure, Ctrl-C, SIGTERM). A scenario that fails
is reported as an error row and the run goes on with the next one; the exit code is 0 when
every check has a number (targets met or not: a missed target is a finding, not a failure
of the tool), 1 when some check could not be measured, 130 when interrupted.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from bench import report, scenarios
from bench.browser import find_chromium
from bench.report import Check
from bench.stack import BenchStack
from bench.wrk_runner import WrkResult, wrk_path, wrk_version

DEFAULT_STEPS = (10_000, 100_000, 1_000_000)
POOL_PER_PROCESS = 10  # services.common.db: pool_size 10 (and max_overflow 10)


@dataclass(frozen=True)
class Smoke:
    """``--smoke``: small enough to run in a test (about a minute), every scenario still runs."""

    projects: int = 2_000
    steps: tuple[int, ...] = (1_000, 2_000)
    duration_s: int = 1
    warmup_s: int = 0
    import_rows: int = 2_000
    overview_repeat: int = 1


SMOKE = Smoke()


class BenchError(RuntimeError):
    """The benchmark cannot run here (wrk, PostgreSQL or Redis missing); one line."""


@dataclass
class Options:
    projects: int
    steps: tuple[int, ...]
    duration_s: int
    warmup_s: int
    connections: int
    workers: int
    import_rows: int
    overview_repeat: int
    deep_pages: int
    smoke: bool
    out: Path
    admin_url: str
    redis_url: str
    chromium: str | None  # P7 in a browser too (None: the script run only)

    @classmethod
    def from_args(cls, args: Any) -> Options:
        smoke = bool(args.smoke)
        projects = args.projects or (SMOKE.projects if smoke else DEFAULT_STEPS[-1])
        steps = args.steps or (SMOKE.steps if smoke else DEFAULT_STEPS)
        wanted = sorted({s for s in steps if 0 < s <= projects} | {projects})
        return cls(
            projects=projects,
            steps=tuple(wanted),
            duration_s=args.duration or (SMOKE.duration_s if smoke else 10),
            warmup_s=args.warmup if args.warmup is not None else (SMOKE.warmup_s if smoke else 2),
            connections=args.connections,
            workers=args.workers or default_workers(),
            import_rows=args.import_rows or (SMOKE.import_rows if smoke else 100_000),
            overview_repeat=SMOKE.overview_repeat if smoke else 3,
            deep_pages=200,
            smoke=smoke,
            out=Path(args.out),
            admin_url=args.admin_url,
            redis_url=args.redis_url,
            chromium=None if args.no_browser else find_chromium(),
        )


def default_workers() -> int:
    """2 to 4: one uvicorn process uses one core, so a second worker lets a service use both
    cores of a small machine (measured on 2 CPUs, N=10,000: the cached rollup through the
    gateway 662 -> 1,482 req/s, a read at the service 302 -> 383 req/s); beyond 4 the
    PostgreSQL pools (up to 20 connections per process) outgrow a default server."""
    return max(2, min(4, os.cpu_count() or 1))


def connections_needed(workers: int) -> int:
    """PostgreSQL connections the stack keeps open under load: a pool of 10 per process
    (projects and gateway: ``workers`` each, indicators 1; up to 10 more each under heavy
    concurrency), and a few for the loader."""
    return POOL_PER_PROCESS * (2 * workers + 1) + 5


def check_prerequisites(options: Options) -> tuple[dict[str, str], list[str]]:
    """Versions of what the run uses, and notes on what may spoil it; raises
    :class:`BenchError` when something is missing."""
    import psycopg
    import redis

    versions = {"wrk": wrk_version()}
    notes: list[str] = []
    if wrk_path() is None:
        raise BenchError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    try:
        with psycopg.connect(options.admin_url, connect_timeout=5) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            versions["postgresql"] = str(row[0]) if row else "?"
            limit = connection.execute(
                "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
                " - (SELECT count(*) FROM pg_stat_activity)"
            ).fetchone()
            free, needed = int(limit[0]) if limit else 0, connections_needed(options.workers)
            if free < needed:
                notes.append(
                    f"PostgreSQL has {free} free connections, the stack keeps {needed} open under load "
                    f"(--workers {options.workers}): calls may fail with 'too many clients'"
                )
    except psycopg.Error as exc:
        raise BenchError(f"PostgreSQL does not answer at {options.admin_url}: {exc}") from None
    try:
        client = redis.Redis.from_url(options.redis_url, socket_connect_timeout=3)
        versions["redis"] = str(client.info("server").get("redis_version"))
        client.close()
    except redis.RedisError as exc:
        raise BenchError(f"Redis does not answer at {options.redis_url}: {exc}") from None
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        notes.append(f"the machine is busy (load average {load:.1f} on {os.cpu_count()} CPUs): expect noise")
    return versions, notes


def guarded(
    scenario: str, checks: list[Check], say: Callable[[str], None], measure: Callable[[], Any]
) -> Any:
    """Run one scenario; a failure becomes an error on its rows, and the run goes on."""
    before = len(checks)
    try:
        return measure()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported in the results, run continues
        message = f"{type(exc).__name__}: {exc}"
        say(f"  {scenario} failed: {message[:500]}")
        unmeasured = [c for c in checks[before:] if c.measured is None or c.floor is None]
        for check in unmeasured:
            check.error = message
        if len(checks) == before:
            checks.append(Check(scenario, "(did not run)", "s", "–", "measured", "<=", 0, error=message))
        return None


def _synthetic_ids(database_url: str) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT MIN(id), MAX(id) FROM project WHERE code LIKE 'SYN-%'").fetchone()
    if not row or row[0] is None:
        raise RuntimeError("no synthetic projects in the library")
    return int(row[0]), int(row[1])


def run(options: Options, say: Callable[[str], None] = print) -> int:
    versions, notes = check_prerequisites(options)
    for note in notes:
        say(f"note: {note}")
    started = datetime.now(UTC)
    stamp = started.strftime("%Y-%m-%dT%H-%M-%SZ") + ("-smoke" if options.smoke else "")
    machine = {**report.machine(), "versions": versions}
    stack = BenchStack(
        options.admin_url,
        options.redis_url,
        workers=options.workers,
        log=say,
        frontend=bool(options.chromium),
    )
    checks: list[Check] = []
    library: dict[str, Any] = {}

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    say(
        f"portfolio bench: {options.projects:,} synthetic projects, steps {', '.join(f'{s:,}' for s in options.steps)}"
    )
    clock = time.perf_counter()
    try:
        stack.start()
        runner = scenarios.Runner(stack, options.duration_s, options.warmup_s, options.connections, say)
        _measure(options, stack, runner, checks, library, say)
    except KeyboardInterrupt:
        say("\ninterrupted: taking the stack down …")
        return 130
    except BaseException:
        stack.failed = True
        raise
    finally:
        # a second Ctrl-C must not stop the cleanup half-way
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            stack.close()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous)
    heading = (
        f"### N = {options.projects:,} synthetic projects (+ the plan's {library.get('plan_projects', '?')}), "
        f"{started:%Y-%m-%d %H:%M} UTC, {machine.get('cpu_model', '?')} × {machine.get('cpus')}, "
        f"{options.workers} worker{'s' if options.workers != 1 else ''} per service, "
        f"{options.duration_s} s per wrk run{', smoke run' if options.smoke else ''}"
    )
    document = {
        "heading": heading,
        "started_at": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - clock, 1),
        "machine": machine,
        "git": report.git_commit(),
        "settings": {
            "projects": options.projects,
            "steps": list(options.steps),
            "duration_s": options.duration_s,
            "warmup_s": options.warmup_s,
            "connections": options.connections,
            "workers": {
                "projects": options.workers,
                "gateway": options.workers,
                "floor": options.workers,
                "indicators": 1,
            },
            "import_rows": options.import_rows,
            "smoke": options.smoke,
        },
        "library": library,
        "notes": notes,
        "results": [check.as_json() for check in checks],
    }
    table = report.render(document)
    json_path, md_path = report.write(options.out, stamp, document, table)
    say("\n" + table)
    say(f"results: {json_path}\n         {md_path}")
    return 1 if any(check.error or check.measured is None for check in checks) else 0


def _measure(
    options: Options,
    stack: BenchStack,
    runner: scenarios.Runner,
    checks: list[Check],
    library: dict[str, Any],
    say: Callable[[str], None],
) -> None:
    from bench.loader import Loader
    from services.seed import seed

    say(str(seed(env=stack.seed_env())))
    library["plan_projects"] = runner.get_json("/api/v1/projects", {"limit": 1}).json()["total"]
    say("P7 with the plan's data")
    guarded(
        "P7",
        checks,
        say,
        lambda: scenarios.overview_render(
            runner, "the plan's data only", 2.0, options.overview_repeat, checks
        ),
    )
    if options.chromium and not options.smoke:  # smoke: in the browser at the largest library only
        guarded(
            "P7",
            checks,
            say,
            lambda: scenarios.overview_in_browser(
                runner, "the plan's data only", 2.0, options.overview_repeat, checks
            ),
        )
    loader = Loader(stack.databases["projects"])
    curve: list[tuple[int, WrkResult]] = []
    library["load_seconds"] = {}
    for step in options.steps:
        say(f"loading the library up to {step:,} synthetic projects")
        library["load_seconds"][str(step)] = round(loader.load_to(step, progress=say), 1)
        stack.refresh_lock()
        result = guarded("P3", checks, say, partial(scenarios.uncached_rollup, runner, step, checks))
        if result is not None:
            curve.append((step, result))
    if curve:
        scenarios.rollup_curve(curve, checks)
    library["synthetic_projects"] = loader.loaded
    library["total_projects"] = runner.get_json("/api/v1/projects", {"limit": 1}).json()["total"]
    first_id, last_id = _synthetic_ids(stack.databases["projects"])
    size = f"N={options.projects:,} + the plan"
    say(f"at the largest library ({library['total_projects']:,} projects)")
    guarded("P1", checks, say, lambda: scenarios.forwarded_read(runner, first_id, last_id, checks))
    guarded("P2", checks, say, lambda: scenarios.cached_rollup(runner, checks))
    guarded(
        "P5", checks, say, lambda: scenarios.list_pages(runner, options.projects, options.deep_pages, checks)
    )
    guarded("P4", checks, say, lambda: scenarios.status_change(runner, checks))
    guarded(
        "P7",
        checks,
        say,
        lambda: scenarios.overview_render(runner, size, 3.0, options.overview_repeat, checks),
    )
    if options.chromium:
        guarded(
            "P7",
            checks,
            say,
            lambda: scenarios.overview_in_browser(runner, size, 3.0, options.overview_repeat, checks),
        )
    stack.refresh_lock()
    seconds_per_row = loader.seconds / max(1, loader.loaded)
    guarded(
        "P6", checks, say, lambda: scenarios.bulk_import(runner, options.import_rows, seconds_per_row, checks)
    )
    checks.sort(key=lambda check: check.scenario)  # stable: each scenario's rows keep their order
    if any(check.error for check in checks):
        stack.failed = True  # keep the services' logs for a look at what went wrong
