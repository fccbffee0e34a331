"""Production mode (``PORTFOLIO_ENV=production``): refuse to start without each required
setting, naming it in one line (settings, ``create_app`` and the ``portfolio`` command);
JSON logs with request ids by default; a graceful stop of uvicorn and the outbox relay."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fastapi.testclient import TestClient

from services.common.settings import ConfigurationError
from tests.deploy.support import ROOT, SETTINGS, env_names, production_required
from tests.support import free_port

COMPLETE = {
    "PORTFOLIO_ENV": "production",
    "PROJECTS_DATABASE_URL": "postgresql://projects:x@db.invalid:5432/projects",
    "INDICATORS_DATABASE_URL": "postgresql://indicators:x@db.invalid:5432/indicators",
    "GATEWAY_DATABASE_URL": "postgresql://gateway:x@db.invalid:5432/gateway",
    "REDIS_URL": "redis://redis.invalid:6379/0",
    "INTERNAL_TOKEN": "an-internal-token-for-the-test",
    "JWT_SECRET": "a-jwt-secret-of-at-least-thirty-two-characters",
}
CASES = [
    (service, variable) for service in SETTINGS for variable in sorted(production_required(SETTINGS[service]))
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the process environment: none of a developer's may leak in."""
    for settings in SETTINGS.values():
        for name in env_names(settings):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GATEWAY_URL", raising=False)


def settings_without(service: str, variable: str | None) -> Any:
    values = {k: v for k, v in COMPLETE.items() if k != variable}
    return SETTINGS[service].model_validate(values)


def test_every_service_requires_postgres_redis_and_the_internal_token() -> None:
    for service in SETTINGS:
        assert {"INTERNAL_TOKEN", "REDIS_URL", f"{service.upper()}_DATABASE_URL"} <= production_required(
            SETTINGS[service]
        )
    assert "JWT_SECRET" in production_required(SETTINGS["gateway"])


@pytest.mark.parametrize(("service", "variable"), CASES)
def test_create_app_refuses_without_each_required_setting_naming_it_in_one_line(
    service: str, variable: str
) -> None:
    create_app = importlib.import_module(f"services.{service}.app").create_app
    with pytest.raises(ConfigurationError) as refused:
        create_app(settings_without(service, variable))
    message = str(refused.value)
    assert variable in message and "\n" not in message
    assert message.startswith("production mode needs: ")


@pytest.mark.parametrize("service", list(SETTINGS))
def test_create_app_starts_with_every_required_setting(service: str) -> None:
    create_app = importlib.import_module(f"services.{service}.app").create_app
    app = create_app(settings_without(service, None))  # builds without connecting anywhere
    assert app.state.settings.env == "production"


def test_a_sqlite_url_is_not_enough_in_production() -> None:
    values = {**COMPLETE, "PROJECTS_DATABASE_URL": "sqlite:///./projects.db"}
    with pytest.raises(ConfigurationError, match="PROJECTS_DATABASE_URL"):
        SETTINGS["projects"].model_validate(values).check_production()
    for url in ("postgres://u:p@h/d", "postgresql+psycopg://u:p@h/d"):
        SETTINGS["projects"].model_validate({**COMPLETE, "PROJECTS_DATABASE_URL": url}).check_production()


def test_a_short_jwt_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        SETTINGS["gateway"].model_validate({**COMPLETE, "JWT_SECRET": "short"}).check_production()


def test_the_gateway_never_generates_a_jwt_secret_in_production(tmp_path: Path) -> None:
    from services.gateway.settings import GatewaySettings

    settings = GatewaySettings.model_validate(
        {**COMPLETE, "JWT_SECRET": "", "PORTFOLIO_DATA_DIR": str(tmp_path)}
    )
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        settings.resolved_jwt_secret()
    assert not list(tmp_path.iterdir())


def bare_production_env() -> dict[str, str]:
    names = set().union(*(env_names(s) for s in SETTINGS.values())) | {"GATEWAY_URL"}
    env = {k: v for k, v in os.environ.items() if k not in names}
    return {**env, "PORTFOLIO_ENV": "production"}


def run_portfolio(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env=env or bare_production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("service", [*SETTINGS, "frontend"])
def test_portfolio_serve_without_settings_exits_with_one_line(service: str) -> None:
    result = run_portfolio("serve", service, "--port", str(free_port()))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("portfolio: production mode needs: ")
    expected = {"GATEWAY_URL"} if service == "frontend" else production_required(SETTINGS[service])
    for variable in expected:
        assert variable in lines[0]


def test_portfolio_migrate_in_production_needs_the_postgres_url_only() -> None:
    result = run_portfolio("migrate", "projects")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "portfolio: production mode needs: PROJECTS_DATABASE_URL (a postgresql:// URL)"
    )


def test_an_invalid_setting_is_one_line_too() -> None:
    result = run_portfolio(
        "serve",
        "projects",
        "--port",
        str(free_port()),
        env={**bare_production_env(), "PORTFOLIO_ENV": "prod"},
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "PORTFOLIO_ENV" in result.stderr


def test_portfolio_serve_runs_uvicorn_with_a_graceful_stop_and_json_logs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn

    from services import cli

    for key, value in COMPLETE.items():
        monkeypatch.setenv(key, value)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append({"app": app, **kwargs}))
    args = cli.build_parser().parse_args(["serve", "projects", "--port", str(free_port())])
    assert cli.cmd_serve(args) == 0
    (call,) = calls
    assert call["app"] == "services.projects.app:create_app" and call["factory"] is True
    assert call["timeout_graceful_shutdown"] == 20
    assert call["log_config"] is None, "uvicorn's own lines go through the JSON handler"
    assert call["timeout_keep_alive"] > _gateway_pool_keepalive_s(), (
        "the service must keep an idle connection open longer than the gateway's pool reuses "
        "it, or it closes one the gateway is sending a write on (a 503 under load)"
    )
    root = logging.getLogger()
    assert any(type(h.formatter).__name__ == "JsonLogFormatter" for h in root.handlers)


def _gateway_pool_keepalive_s() -> float:
    from prometheus_client import CollectorRegistry, Counter

    from services.gateway.upstream import Upstream

    async def read() -> float:
        errors = Counter("e", "e", ["service", "kind"], registry=CollectorRegistry())
        upstream = Upstream("projects", "http://127.0.0.1:1", "t", 5.0, 1.0, errors)
        try:
            connector = upstream.session().connector
            assert isinstance(connector, aiohttp.TCPConnector)
            return float(connector._keepalive_timeout)  # aiohttp has no getter
        finally:
            await upstream.close()

    return asyncio.run(read())


# --------------------------------------------------------------------------- JSON logs


def test_production_logs_json_by_default_and_can_be_told_otherwise() -> None:
    projects = SETTINGS["projects"]
    assert projects.model_validate(COMPLETE).log_json is True
    assert projects.model_validate({**COMPLETE, "PORTFOLIO_LOG_JSON": "false"}).log_json is False
    assert projects.model_validate({"PORTFOLIO_ENV": "embedded"}).log_json is False


def test_every_log_line_written_during_a_request_carries_its_id(capsys: pytest.CaptureFixture[str]) -> None:
    from services.common.http import base_app

    app = base_app("test", "projects", json_logs=True)
    access = logging.getLogger("portfolio.access")
    level = access.level
    access.setLevel(logging.INFO)  # tests/conftest.py quiets it

    @app.get("/work")
    def work() -> dict[str, bool]:  # a sync route: runs in the thread pool
        logging.getLogger("portfolio.test").warning("doing the work")
        return {"ok": True}

    try:
        with TestClient(app) as client:
            response = client.get("/work", headers={"X-Request-ID": "req-jinzhou-1"})
        assert response.headers["x-request-id"] == "req-jinzhou-1"
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        work_line = next(line for line in lines if line["message"] == "doing the work")
        access_line = next(line for line in lines if line["logger"] == "portfolio.access")
        assert work_line["request_id"] == access_line["request_id"] == "req-jinzhou-1"
        assert access_line["service"] == "projects"
    finally:
        access.setLevel(level)
        logging.getLogger().handlers.clear()


# --------------------------------------------------------------------------- graceful stop


class BlockingRedis:
    """Stands in for Redis: XADD batches wait until released, so a stop arrives mid-batch."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.published = 0

    def pipeline(self, transaction: bool = False) -> BlockingRedis:
        return self

    def xadd(self, *args: Any, **kwargs: Any) -> None:
        self.published += 1

    def execute(self) -> None:
        self.entered.set()
        assert self.release.wait(10)


def test_the_outbox_relay_finishes_its_current_batch_then_stops(tmp_path: Path) -> None:
    from sqlalchemy import select
    from sqlmodel import Session

    from services.common.db import make_engine
    from services.common.migrate import upgrade
    from services.common.outbox import OutboxRelay, record_event
    from services.projects.models import OutboxEvent

    url = f"sqlite:///{tmp_path / 'projects.db'}"
    upgrade("projects", url)
    engine = make_engine(url)
    with Session(engine) as session:
        for entity in range(3):
            record_event(
                session, OutboxEvent, type="project.created", entity_id=entity, version=1, actor="t", data={}
            )
        session.commit()

    relay = OutboxRelay(engine, OutboxEvent, "redis://127.0.0.1:9/0", interval_s=0.05)
    fake = BlockingRedis()
    relay.redis = fake  # type: ignore[assignment]
    relay.start()
    assert fake.entered.wait(5), "the relay did not pick up the batch"
    stopping = threading.Thread(target=relay.stop, kwargs={"timeout": 10})
    stopping.start()
    time.sleep(0.1)
    fake.release.set()
    stopping.join(10)
    assert not relay._thread.is_alive()
    with Session(engine) as session:
        rows = list(session.scalars(select(OutboxEvent)))
    assert fake.published == 3
    assert all(row.published_at is not None for row in rows), "the batch in flight was committed"
    engine.dispose()


def test_the_outbox_relay_stops_promptly_when_redis_is_down(tmp_path: Path) -> None:
    from services.common.db import make_engine
    from services.common.migrate import upgrade
    from services.common.outbox import OutboxRelay
    from services.projects.models import OutboxEvent

    url = f"sqlite:///{tmp_path / 'projects.db'}"
    upgrade("projects", url)
    engine = make_engine(url)
    relay = OutboxRelay(engine, OutboxEvent, f"redis://127.0.0.1:{free_port()}/0", interval_s=30)
    relay.start()
    time.sleep(0.2)
    started = time.monotonic()
    relay.stop(timeout=10)
    assert not relay._thread.is_alive() and time.monotonic() - started < 5
    engine.dispose()
