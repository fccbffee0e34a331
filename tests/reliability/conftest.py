"""Fixtures of the reliability tests, and the ledger that writes ``results.md``.

- ``own_redis``: a ``redis-server`` of our own (session), never the machine's shared one.
- ``live``: the whole system as real uvicorn servers in threads (projects, indicators,
  gateway) on SQLite files, its Redis our own, rate limits off; users of each role.
- ``record("...")``: a line of measured result for this test, written to ``results.md``
  next to the test's first docstring line and its outcome at the end of the session
  (only when the whole folder ran, so a ``-k`` run does not overwrite the table).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway.app import create_app as create_gateway
from services.gateway.cli import ensure_admin
from services.gateway.settings import GatewaySettings
from services.indicators.app import create_app as create_indicators
from services.indicators.settings import IndicatorsSettings
from services.projects.app import create_app as create_projects
from services.projects.settings import ProjectsSettings
from tests.reliability.infra import (
    ADMIN_PASSWORD,
    JWT_SECRET,
    RedisServer,
    Urls,
    login,
    make_user,
    migrate_all,
    sqlite_urls,
)
from tests.support import INTERNAL_TOKEN, LiveServer

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"

# --------------------------------------------------------------------------- ledger

_notes: dict[str, list[str]] = defaultdict(list)
_outcomes: dict[str, tuple[str, float, str]] = {}
_deselected: list[str] = []


def _ours(nodeid: str) -> bool:
    return nodeid.startswith("tests/reliability/")


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``record("503 meanwhile; 0 of 212 acknowledged writes lost")`` for results.md."""

    def add(line: str) -> None:
        _notes[request.node.nodeid].append(line)
        print(f"[result] {line}")  # shown by pytest -rP

    return add


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(item.nodeid for item in items if _ours(item.nodeid))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not _ours(report.nodeid):
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        reason = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        elif report.failed:
            reason = str(getattr(report.longrepr, "reprcrash", None) and report.longrepr.reprcrash.message)  # type: ignore[union-attr]
        _outcomes[report.nodeid] = (report.outcome, report.duration, reason[:300])


def _first_line(item: pytest.Item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or item.name
    return " ".join(doc.strip().split("\n\n")[0].split())


_items: dict[str, pytest.Item] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _items.update({item.nodeid: item for item in items if _ours(item.nodeid)})


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A module skipped as a whole (a missing optional tool) still gets its row."""
    if _ours(report.nodeid) and report.nodeid.endswith(".py") and report.skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else "skipped"
        _outcomes[report.nodeid] = ("skipped", 0.0, reason.removeprefix("Skipped: ")[:300])
        _skipped_modules[report.nodeid] = reason


_skipped_modules: dict[str, str] = {}


def _complete_run(session: pytest.Session) -> bool:
    """Every module of this folder collected, nothing deselected, nothing left unrun."""
    modules = {nodeid.split("::")[0] for nodeid in _items} | set(_skipped_modules)
    every = {f"tests/reliability/{path.name}" for path in HERE.glob("test_*.py")}
    ran_all = all(nodeid in _outcomes for nodeid in _items)
    return modules == every and ran_all and not _deselected and not session.config.option.keyword


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _complete_run(session):  # a -k, -m or single-file run, or interrupted: keep the table
        return
    ran = [nodeid for nodeid in _items if nodeid in _outcomes] + list(_skipped_modules)
    lines = [
        "# Reliability and security results",
        "",
        f"Written by `tests/reliability/conftest.py` at the end of the last full run "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC). Do not edit by hand; see README.md for what each area means.",
        "",
        "| test | what it tries | outcome | measured |",
        "| --- | --- | --- | --- |",
    ]
    total = 0.0
    for nodeid in ran:
        outcome, duration, reason = _outcomes[nodeid]
        total += duration
        notes = "; ".join(_notes.get(nodeid, [])) or reason or "-"
        if reason and _notes.get(nodeid):
            notes += f" ({reason})"
        name = nodeid.removeprefix("tests/reliability/")
        cell = f"{outcome} ({duration:.1f} s)"
        what = _first_line(_items[nodeid]) if nodeid in _items else "(the whole module)"
        lines.append(f"| `{name}` | {what} | {cell} | {notes.replace('|', '/')} |")
    lines += ["", f"Total time of these tests: {total:.0f} s.", ""]
    RESULTS.write_text("\n".join(lines))


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="session")
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@dataclass
class Live:
    """The whole system in this process: real servers on free ports, our own Redis."""

    gateway_url: str
    projects_url: str
    indicators_url: str
    urls: Urls
    redis_url: str
    gateway_app: Any
    servers: list[LiveServer] = field(default_factory=list)
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        """Bearer headers of a fresh-enough user with ``role`` (made on first use, checked
        and made again if a test deactivated it, changed its role or its password)."""
        cached = self._headers.get(role)
        if cached:
            me = httpx.get(f"{self.gateway_url}/api/v1/me", headers=cached, timeout=10)
            if me.status_code == 200 and me.json()["role"] == role:
                return cached
        admin = login(self.gateway_url)
        if role == "admin":
            self._headers[role] = admin
            return admin
        self._headers[role] = make_user(self.gateway_url, admin, role)
        return self._headers[role]

    def client(self, role: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.gateway_url, headers=self.headers(role), timeout=30)


def start_live(data_dir: Path, redis_url: str, **gateway_overrides: Any) -> Live:
    """Migrate SQLite files in ``data_dir`` and start the services and the gateway. A
    ``PROJECTS_URL`` override means the projects service runs elsewhere (a subprocess)."""
    urls = sqlite_urls(data_dir)
    migrate_all(urls)
    common: dict[str, Any] = {
        "INTERNAL_TOKEN": INTERNAL_TOKEN,
        "PORTFOLIO_ENV": "test",
        "REDIS_URL": redis_url,
        "OUTBOX_RELAY_INTERVAL_S": 0.05,
    }
    servers = []
    if "PROJECTS_URL" not in gateway_overrides:
        projects = LiveServer(
            create_projects(ProjectsSettings(PROJECTS_DATABASE_URL=urls.projects_db, **common))
        )
        servers.append(projects.start())
        gateway_overrides["PROJECTS_URL"] = projects.url
    indicators = LiveServer(
        create_indicators(IndicatorsSettings(INDICATORS_DATABASE_URL=urls.indicators_db, **common))
    ).start()
    servers.append(indicators)
    values: dict[str, Any] = {
        "GATEWAY_DATABASE_URL": urls.gateway_db,
        "INDICATORS_URL": indicators.url,
        "JWT_SECRET": JWT_SECRET,
        "PORTFOLIO_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "RATE_LIMIT_PER_MINUTE": 0,
        "LOGIN_RATE_LIMIT_PER_MINUTE": 100_000,
        "WEBHOOK_RETRY_BASE_S": 0.2,
        "WEBHOOK_TIMEOUT_S": 1,
        "INTERNAL_TOKEN": INTERNAL_TOKEN,
        "PORTFOLIO_ENV": "test",
        "REDIS_URL": redis_url,
        **gateway_overrides,
    }
    settings = GatewaySettings(**values)
    ensure_admin(settings)
    app = create_gateway(settings)
    gateway = LiveServer(app).start()
    servers.append(gateway)
    return Live(gateway.url, values["PROJECTS_URL"], indicators.url, urls, redis_url, app, servers)


def stop_live(live: Live) -> None:
    for server in reversed(live.servers):
        server.stop()


@pytest.fixture(scope="session")
def live(own_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    stack = start_live(tmp_path_factory.mktemp("live"), own_redis.url(1))
    yield stack
    stop_live(stack)
