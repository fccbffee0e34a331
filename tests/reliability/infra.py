"""The moving parts the reliability tests break on purpose: our own Redis and PostgreSQL
servers (never the machine's shared ones), the services as real subprocesses, and a
whole stack (projects, indicators, gateway) to put load on.

Everything listens on 127.0.0.1 only, on free ports, and is stopped by the fixture that
started it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.common.migrate import upgrade
from tests.support import INTERNAL_TOKEN, free_port

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "reliability-tests-jwt-secret-0123456789abcdef"
ADMIN_PASSWORD = "reliability-admin-password"
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


def wait_until(condition: Any, timeout_s: float = 20.0, every_s: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what or condition}")
        time.sleep(every_s)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


# --------------------------------------------------------------------------- Redis


class RedisServer:
    """Our own ``redis-server`` (no persistence), so stopping it disturbs nobody else."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        def answers() -> bool:
            try:
                return bool(redis.Redis(port=self.port, socket_connect_timeout=0.2).ping())
            except redis.RedisError:
                return False

        wait_until(answers, 10, what=f"redis-server on {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


# --------------------------------------------------------------------------- PostgreSQL


class PostgresCluster:
    """A throwaway PostgreSQL cluster of our own (initdb in a temp folder, run as the
    ``postgres`` system user when we are root), so it can be restarted under load."""

    def __init__(self) -> None:
        if PG_BIN is None:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="jz-reliability-pg-"))
        self.data = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=60)

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )

    def init(self) -> PostgresCluster:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self.start()

    def start(self) -> PostgresCluster:
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            self._options(),
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------- services as processes


class ServiceProcess:
    """``portfolio serve <service>`` as a real child process (what a container runs)."""

    def __init__(self, service: str, env: dict[str, str], log_dir: Path, port: int | None = None) -> None:
        self.service = service
        self.env = env
        self.port = port or free_port()
        self.log_path = log_dir / f"{service}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, wait: bool = True) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", self.service, "--port", str(self.port)],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = 60) -> None:
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.service} exited: {self.log_path.read_text()[-2000:]}")
            try:
                return httpx.get(self.url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout_s, every_s=0.1, what=f"{self.service} on {self.port}")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, as when a node dies or the OOM killer strikes."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(25)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# --------------------------------------------------------------------------- a whole stack


@dataclass
class Urls:
    projects_db: str
    indicators_db: str
    gateway_db: str


def sqlite_urls(data_dir: Path) -> Urls:
    return Urls(
        projects_db=f"sqlite:///{data_dir / 'projects.db'}",
        indicators_db=f"sqlite:///{data_dir / 'indicators.db'}",
        gateway_db=f"sqlite:///{data_dir / 'gateway.db'}",
    )


def migrate_all(urls: Urls) -> None:
    upgrade("projects", urls.projects_db)
    upgrade("indicators", urls.indicators_db)
    upgrade("gateway", urls.gateway_db)


def base_env(redis_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("_DATABASE_URL") and key not in ("REDIS_URL", "PROJECTS_URL", "INDICATORS_URL")
    }
    env.update(
        INTERNAL_TOKEN=INTERNAL_TOKEN,
        JWT_SECRET=JWT_SECRET,
        PORTFOLIO_ENV="test",
        PORTFOLIO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        OUTBOX_RELAY_INTERVAL_S="0.1",
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


@dataclass
class ProcessStack:
    """projects, indicators and gateway as child processes on one data dir."""

    data_dir: Path
    urls: Urls
    redis_url: str | None
    gateway_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def start(self) -> ProcessStack:
        env = base_env(self.redis_url)
        projects = ServiceProcess(
            "projects", {**env, "PROJECTS_DATABASE_URL": self.urls.projects_db}, self.data_dir
        )
        indicators = ServiceProcess(
            "indicators", {**env, "INDICATORS_DATABASE_URL": self.urls.indicators_db}, self.data_dir
        )
        self.processes = {"projects": projects.start(wait=False), "indicators": indicators.start(wait=False)}
        projects.wait_ready()
        indicators.wait_ready()
        gateway_env = {
            **env,
            "GATEWAY_DATABASE_URL": self.urls.gateway_db,
            "PROJECTS_URL": projects.url,
            "INDICATORS_URL": indicators.url,
            "RATE_LIMIT_PER_MINUTE": "0",
            "LOGIN_RATE_LIMIT_PER_MINUTE": "1000",
            **self.gateway_env,
        }
        from services.gateway.cli import ensure_admin
        from services.gateway.settings import GatewaySettings

        ensure_admin(
            GatewaySettings(
                GATEWAY_DATABASE_URL=self.urls.gateway_db, PORTFOLIO_ADMIN_PASSWORD=ADMIN_PASSWORD
            )
        )
        self.processes["gateway"] = ServiceProcess("gateway", gateway_env, self.data_dir).start()
        return self

    @property
    def gateway_url(self) -> str:
        return self.processes["gateway"].url

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()


def login(base_url: str, username: str = "admin", password: str = ADMIN_PASSWORD) -> dict[str, str]:
    response = httpx.post(
        f"{base_url}/api/v1/auth/token", data={"username": username, "password": password}, timeout=10
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def make_user(
    base_url: str, admin: dict[str, str], role: str, counties: tuple[str, ...] = ("heishan", "linghai")
) -> dict[str, str]:
    """A new user with ``role`` (and, for a manager, ``counties``), logged in: its headers."""
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{base_url}/api/v1/users",
        json={"username": username, "password": "password-123", "role": role, "counties": list(counties)},
        headers=admin,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return login(base_url, username, "password-123")


def project_body(**fields: Any) -> dict[str, Any]:
    return {
        "name": "可靠性测试项目",
        "sector": "port",
        "county": "linghai",
        "total_investment_wan": 1000,
        "start_year": 2022,
        "end_year": 2025,
        **fields,
    }


# --------------------------------------------------------------------------- process metrics


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def open_sockets(pid: int) -> int:
    count = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                count += 1
    return count


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- load


@dataclass
class Sample:
    at: float
    label: str
    status: int  # 0: no HTTP answer at all
    seconds: float


class Load:
    """Threads that repeat a request until stopped, keeping every answer (time, status,
    latency). ``work(client, n)`` sends the n-th request and returns its status."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def add(
        self,
        label: str,
        base_url: str,
        headers: dict[str, str],
        work: Callable[[httpx.Client, int], int],
        threads: int = 1,
        pause_s: float = 0.0,
    ) -> Load:
        for _ in range(threads):
            thread = threading.Thread(
                target=self._run, args=(label, base_url, headers, work, pause_s), daemon=True
            )
            self._threads.append(thread)
        return self

    def _run(
        self,
        label: str,
        base_url: str,
        headers: dict[str, str],
        work: Callable[[httpx.Client, int], int],
        pause_s: float,
    ) -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            n = 0
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = work(client, n)
                except httpx.HTTPError:
                    status = 0
                with self._lock:
                    self.samples.append(Sample(started, label, status, time.monotonic() - started))
                n += 1
                if pause_s:
                    self._stop.wait(pause_s)

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> Load:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        return self

    def select(self, label: str | None = None, start: float = 0.0, end: float = float("inf")) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if (label is None or s.label == label) and start <= s.at < end]

    def statuses(
        self, label: str | None = None, start: float = 0.0, end: float = float("inf")
    ) -> dict[int, int]:
        counts: dict[int, int] = {}
        for sample in self.select(label, start, end):
            counts[sample.status] = counts.get(sample.status, 0) + 1
        return dict(sorted(counts.items()))
