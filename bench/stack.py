"""The system under test, started for one benchmark run and always taken down again.

:class:`BenchStack` creates three scratch PostgreSQL databases (``bench_<service>_<run>``)
on the server of ``admin_url``, migrates them, creates the ``admin`` user (a generated
password) and an admin API key in the gateway's database, and starts the three services
as real processes with ``portfolio serve <service> --port <free port> --workers N`` (the
command a container runs), in production mode (``PORTFOLIO_ENV=production``: PostgreSQL,
Redis, real secrets, JSON access logs), plus the P2 floor app (:mod:`bench.floor`) under
uvicorn with the gateway's number of workers, and, with ``frontend=True``, the Streamlit
frontend (``portfolio serve frontend``: P7 in a browser). The gateway's rate limit stays
on (its Redis round trip is part of every request) with a limit no run reaches.

Redis: the database of ``redis_url`` belongs to the run: it must be empty at the start
(the run never empties a database holding someone else's keys), a key ``bench:lock``
keeps a second run off it, and it is emptied at the end.

:meth:`BenchStack.close` stops every process it started (each in its own process group,
so uvicorn's workers go too: SIGTERM, then SIGKILL), drops the databases, empties Redis
and removes the logs, unless the run failed: then the logs are kept and their folder is
printed. It runs on failure and on Ctrl-C (see :mod:`bench.suite`).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("projects", "indicators", "gateway")
DATABASE_ENV = {
    "projects": "PROJECTS_DATABASE_URL",
    "indicators": "INDICATORS_DATABASE_URL",
    "gateway": "GATEWAY_DATABASE_URL",
}
LOCK_KEY = "bench:lock"
LOCK_TTL_S = 6 * 3600
BENCH_ACTOR = "bench"
#: the status in an access log line of ``services.common.http`` (JSON: "GET /path 200 1.2ms")
ACCESS_STATUS = re.compile(r'"message":\s*"[A-Z]+ \S+ (\d{3}) [\d.]+ms"')
LOGGED_PROBLEM = re.compile(
    r'"level":\s*"(WARNING|ERROR|CRITICAL)",\s*"logger":\s*"[^"]*",\s*"message":\s*"([^"]*)'
)


class StackError(RuntimeError):
    """The stack could not be set up (a service did not start, a database is missing …)."""


def make_redis_db(url: str) -> str:
    """The database number of a Redis URL (for the hints in messages)."""
    path = url.rsplit("/", 1)[-1] if url.count("/") >= 3 else ""
    return path if path.isdigit() else "0"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scratch_url(admin_url: str, database: str) -> str:
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


@dataclass
class Process:
    name: str
    url: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class BenchStack:
    admin_url: str
    redis_url: str
    workers: int = 2
    log: Callable[[str], None] = print
    frontend: bool = False  # also serve the Streamlit frontend (P7 in a browser)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    databases: dict[str, str] = field(default_factory=dict)  # service -> URL
    processes: dict[str, Process] = field(default_factory=dict)
    internal_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    api_key: str = ""
    failed: bool = False
    _redis_owned: bool = False
    _logs: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="portfolio-bench-")))

    # ------------------------------------------------------------------ setup

    def say(self, line: str) -> None:
        self.log(line)

    def start(self) -> None:
        self._own_redis()
        for service in SERVICES:
            self._create_database(service)
        from services.common.migrate import upgrade

        for service in SERVICES:
            upgrade(service, self.databases[service])
        self.say(f"databases: {', '.join(make_url(u).database or '' for u in self.databases.values())}")
        self._create_admin()
        ports = {name: free_port() for name in (*SERVICES, "floor", "frontend")}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        env = self.environment(urls)
        for service in SERVICES:
            self._spawn(service, urls[service], self._serve_command(service, ports[service]), env)
        floor = [sys.executable, "-m", "uvicorn", "bench.floor:create_app", "--factory"]
        floor += ["--host", "127.0.0.1", "--port", str(ports["floor"]), "--workers", str(self.workers)]
        floor += ["--log-level", "warning", "--no-access-log"]
        self._spawn("floor", urls["floor"], floor, env)
        if self.frontend:
            self._spawn("frontend", urls["frontend"], self._serve_command("frontend", ports["frontend"]), env)
        ready = {"floor": "/health", "frontend": "/_stcore/health"}
        for name, process in self.processes.items():
            self._wait_ready(process, ready.get(name, "/ready"))
        plural = "s" if self.workers != 1 else ""
        workers = f"{self.workers} worker{plural} each for projects, gateway and the floor; indicators 1"
        self.say(f"services up ({workers}); logs in {self._logs}")

    def environment(self, urls: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.update({DATABASE_ENV[service]: url for service, url in self.databases.items()})
        env.update(
            {
                "PORTFOLIO_ENV": "production",
                "REDIS_URL": self.redis_url,
                "PROJECTS_URL": urls["projects"],
                "INDICATORS_URL": urls["indicators"],
                "GATEWAY_URL": urls["gateway"],
                "INTERNAL_TOKEN": self.internal_token,
                "JWT_SECRET": self.jwt_secret,
                "PORTFOLIO_ADMIN_PASSWORD": self.admin_password,
                "RATE_LIMIT_PER_MINUTE": "1000000000",  # on (a Redis round trip per call), never reached
                "LOGIN_RATE_LIMIT_PER_MINUTE": "1000",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            }
        )
        env.pop("PORTFOLIO_DATA_DIR", None)
        return env

    def _serve_command(self, service: str, port: int) -> list[str]:
        command = [sys.executable, "-m", "services.cli", "serve", service, "--host", "127.0.0.1"]
        command += ["--port", str(port)]
        if service != "frontend":  # Streamlit is one process
            command += ["--workers", str(1 if service == "indicators" else self.workers)]
        return command

    def _own_redis(self) -> None:
        """Take an empty Redis database for the run; never empty one that holds others' data."""
        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=3)
        db = make_redis_db(self.redis_url)
        try:
            holder = client.get(LOCK_KEY)
            if holder is not None:
                raise StackError(
                    f"another benchmark run ({holder.decode()}) is using {self.redis_url}; choose another "
                    f"database with --redis-url (or, if no run is going on: redis-cli -n {db} del {LOCK_KEY})"
                )
            keys = int(client.dbsize())  # type: ignore[arg-type]
            if keys:
                sample = ", ".join(k.decode(errors="replace") for k in client.scan(count=5)[1][:3])  # type: ignore[index]
                raise StackError(
                    f"{self.redis_url} is not empty ({keys} keys, e.g. {sample}): the benchmark needs a Redis "
                    f"database of its own and empties it at the end; choose an empty one with --redis-url "
                    f"(or, if the data is yours and may go: redis-cli -n {db} flushdb)"
                )
            if not client.set(LOCK_KEY, f"run {self.run_id}, pid {os.getpid()}", ex=LOCK_TTL_S, nx=True):
                raise StackError(f"another benchmark run took {self.redis_url} just now; choose another")
            self._redis_owned = True
        finally:
            client.close()

    def _create_database(self, service: str) -> None:
        name = f"bench_{service}_{self.run_id}"
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.databases[service] = scratch_url(self.admin_url, name)

    def _create_admin(self) -> None:
        from sqlmodel import Session

        from services.gateway import accounts
        from services.gateway.cli import ensure_admin
        from services.gateway.schemas import ApiKeyCreate
        from services.gateway.settings import GatewaySettings

        settings = GatewaySettings(
            GATEWAY_DATABASE_URL=self.databases["gateway"],
            PORTFOLIO_ADMIN_PASSWORD=self.admin_password,
            JWT_SECRET=self.jwt_secret,
        )
        ensure_admin(settings)
        from services.common.db import Database

        db = Database(settings.database_url)
        try:
            with Session(db.writer) as session:
                _row, self.api_key = accounts.create_api_key(
                    session, ApiKeyCreate(name=BENCH_ACTOR, role="admin"), BENCH_ACTOR
                )
                session.commit()
        finally:
            db.dispose()

    def _spawn(self, name: str, url: str, argv: list[str], env: dict[str, str]) -> None:
        log = self._logs / f"{name}.log"
        with log.open("wb") as handle:
            popen = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes[name] = Process(name, url, popen, log)

    def _wait_ready(self, process: Process, path: str, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise StackError(
                    f"{process.name} exited with {process.popen.returncode}:\n{self.tail(process)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(process.url + path, timeout=3).status_code == 200:
                    return
            time.sleep(0.25)
        raise StackError(f"{process.name} was not ready at {process.url}{path} within {timeout_s:.0f} s")

    def log_offsets(self) -> dict[str, int]:
        return {name: _size(process.log) for name, process in self.processes.items()}

    def failed_answers_since(self, offsets: dict[str, int]) -> dict[str, dict[str, int]]:
        """The statuses other than 2xx/3xx in each service's access log since ``offsets``
        (wrk counts failed answers but does not say which)."""
        found: dict[str, dict[str, int]] = {}
        for name, process in self.processes.items():
            for status in ACCESS_STATUS.findall(_read_from(process.log, offsets.get(name, 0))):
                if not status.startswith(("2", "3")):
                    counts = found.setdefault(name, {})
                    counts[status] = counts.get(status, 0) + 1
        return found

    def warnings_since(self, offsets: dict[str, int]) -> dict[str, dict[str, int]]:
        """Warnings and errors the services logged since ``offsets`` (e.g. the gateway
        deciding Redis is down), counted by their first words."""
        found: dict[str, dict[str, int]] = {}
        for name, process in self.processes.items():
            for level, message in LOGGED_PROBLEM.findall(_read_from(process.log, offsets.get(name, 0))):
                key = f"{level}: {message[:70]}"
                counts = found.setdefault(name, {})
                counts[key] = counts.get(key, 0) + 1
        return found

    @staticmethod
    def tail(process: Process, lines: int = 30) -> str:
        try:
            return "\n".join(process.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # ------------------------------------------------------------------ use

    def url(self, name: str) -> str:
        return self.processes[name].url

    @property
    def gateway_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}

    @property
    def service_headers(self) -> dict[str, str]:
        """What the gateway sends for the bench API key: the internal token and the actor."""
        return {
            "X-Internal-Token": self.internal_token,
            "X-Actor": f"key:{BENCH_ACTOR}",
            "X-Actor-Role": "admin",
        }

    def seed_env(self) -> dict[str, str]:
        return {
            "PROJECTS_URL": self.url("projects"),
            "INDICATORS_URL": self.url("indicators"),
            "INTERNAL_TOKEN": self.internal_token,
        }

    def check_alive(self) -> None:
        for process in self.processes.values():
            if process.popen.poll() is not None:
                raise StackError(
                    f"{process.name} stopped with {process.popen.returncode}:\n{self.tail(process)}"
                )

    def refresh_lock(self) -> None:
        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=3)
            client.expire(LOCK_KEY, LOCK_TTL_S)
            client.close()

    # ------------------------------------------------------------------ teardown

    def close(self) -> None:
        """Stop the processes, drop the databases, empty Redis; never raises."""
        for process in self.processes.values():
            _signal_group(process.popen, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal_group(process.popen, signal.SIGKILL)  # the workers, should any outlive their parent
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=5)
        for service, url in list(self.databases.items()):
            try:
                with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as connection:
                    connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
                del self.databases[service]
            except psycopg.Error as exc:
                self.say(f"could not drop the database of {service} ({make_url(url).database}): {exc}")
        if self._redis_owned:
            try:
                client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=3)
                client.flushdb()
                client.close()
            except redis.RedisError as exc:
                self.say(f"could not empty {self.redis_url}: {exc}")
        if self.failed and any(self._logs.glob("*.log")):
            self.say(f"the services' logs are kept in {self._logs}")
        else:
            for log in self._logs.glob("*"):
                log.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self._logs.rmdir()


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _signal_group(popen: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the process group the child leads (it was started in a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signum)
