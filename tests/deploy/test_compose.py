"""docker-compose.yml without a Docker engine: the Compose specification's JSON schema, then
the rules the schema cannot know (healthchecks, start order, published ports, secrets,
the environment each process reads), and the PostgreSQL init script on a real server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator

from services.cli import build_parser
from tests.deploy.support import (
    DEPLOY,
    ENV_EXAMPLE,
    PROCESSES,
    ROOT,
    compose,
    env_example,
    known_env,
    required_env,
)
from tests.support import PG_ADMIN_URL, postgres_available, unavailable

#: vendored from check-jsonschema 0.39.0 (builtin_schemas/vendor/compose-spec.json,
#: Apache-2.0, LICENSE.compose-spec beside it): the Compose specification's own schema
SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"
#: per process, at most (pool_size 10 + max_overflow 20) PostgreSQL connections (services/common/db.py)
CONNECTIONS_PER_PROCESS = 30
SECRET_VARIABLES = re.compile(r"PASSWORD|TOKEN|SECRET|DATABASE_URL|REDIS_URL")
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}")


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def portfolio_services() -> dict[str, dict[str, Any]]:
    """The containers that run the portfolio image (migrators, services, frontend)."""
    return {name: s for name, s in services().items() if "build" in s}


def is_migrator(service: dict[str, Any]) -> bool:
    return bool(service.get("command", [None])[0] == "migrate")


def has_healthcheck(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck") or {}
    return not check.get("disable", False) and bool(check.get("test"))


def served_process(service: dict[str, Any]) -> str | None:
    command = service.get("command", [])
    return command[1] if command[:1] == ["serve"] else None


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment is written as a mapping"
    return {key: str(value) for key, value in env.items()}


def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(Draft202012Validator(schema).iter_errors(compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_every_container_has_an_image_and_a_healthcheck_unless_it_is_a_one_shot_migrator() -> None:
    for name, service in services().items():
        assert service.get("image") or service.get("build"), name
        if is_migrator(service):
            assert service.get("restart") == "no", f"{name} runs once"
            assert not has_healthcheck(service), f"{name} is one-shot: its exit code is its health"
        else:
            assert has_healthcheck(service), f"{name} has no healthcheck"


def test_start_order_waits_for_health_and_for_finished_migrations() -> None:
    all_services = services()
    for name, service in all_services.items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in all_services, f"{name} depends on unknown {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert has_healthcheck(all_services[target]), (
                    f"{name} waits for {target}, which has no healthcheck"
                )
            else:
                assert condition == "service_completed_successfully", f"{name} -> {target}: {condition}"
                assert is_migrator(all_services[target]), f"{name} waits for {target} to finish: not one-shot"
    for name, service in portfolio_services().items():
        process = served_process(service)
        if process in ("projects", "indicators", "gateway"):
            assert service["depends_on"][f"migrate-{process}"] == {
                "condition": "service_completed_successfully"
            }
            assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
            assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        if is_migrator(service):
            assert service["depends_on"] == {"postgres": {"condition": "service_healthy"}}, name


def test_each_database_has_a_migrator_that_runs_portfolio_migrate() -> None:
    migrators = {name: s for name, s in services().items() if is_migrator(s)}
    assert set(migrators) == {"migrate-projects", "migrate-indicators", "migrate-gateway"}
    for name, service in migrators.items():
        assert service["command"] == ["migrate", name.removeprefix("migrate-")]


def test_only_the_gateway_and_the_frontend_publish_ports() -> None:
    publishing = {name for name, s in services().items() if s.get("ports")}
    assert publishing == {"gateway", "frontend"}
    assert services()["gateway"]["ports"] == ["${GATEWAY_PORT:-8000}:8000"]
    assert services()["frontend"]["ports"] == ["${FRONTEND_PORT:-8501}:8501"]


def test_the_frontend_shares_a_network_with_the_gateway_only() -> None:
    networks = {name: set(s.get("networks", [])) for name, s in services().items()}
    for name, joined in networks.items():
        if name not in ("frontend", "gateway"):
            assert not joined & networks["frontend"], f"the frontend can reach {name}"
    assert compose()["networks"]["backend"]["internal"] is True
    assert networks["projects"] == networks["indicators"] == {"backend"}


def test_commands_are_portfolio_commands_and_match_their_service() -> None:
    parser = build_parser()
    for name, service in portfolio_services().items():
        args = parser.parse_args(service["command"])
        if args.command == "serve":
            assert args.service == name, f"{name} runs {args.service}"
            assert args.host == "0.0.0.0", f"{name} must listen beyond the container's loopback"
            health_url = service["healthcheck"]["test"][-1]
            assert urlsplit(health_url).port == args.port, f"{name} is checked on another port"
        else:
            assert args.command == "migrate" and f"migrate-{args.service}" == name


def test_healthchecks_ask_ready_of_api_processes_and_stcore_of_the_frontend() -> None:
    for name, service in portfolio_services().items():
        process = served_process(service)
        if process is None:
            continue
        test = service["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "/opt/portfolio/healthcheck.py"]
        expected = "/_stcore/health" if process == "frontend" else "/ready"
        assert urlsplit(test[-1]).path == expected, name


def test_every_process_runs_in_production_mode_with_what_production_requires() -> None:
    for name, service in portfolio_services().items():
        env = environment(service)
        assert env.get("PORTFOLIO_ENV") == "production", name
        process = served_process(service)
        if process is None:  # a migrator needs its database only
            process = name.removeprefix("migrate-")
            assert f"{process.upper()}_DATABASE_URL" in env, name
        else:
            missing = required_env(process) - set(env)
            assert not missing, f"{name} would refuse to start without {sorted(missing)}"
        unknown = set(env) - known_env(process)
        assert not unknown, f"{name} sets variables its settings do not read: {sorted(unknown)}"


def test_upstream_urls_name_the_compose_services_and_their_ports() -> None:
    all_services = services()
    for name, service in portfolio_services().items():
        for key, value in environment(service).items():
            if key in ("PROJECTS_URL", "INDICATORS_URL", "GATEWAY_URL"):
                url = urlsplit(value)
                target = all_services[url.hostname or ""]
                assert served_process(target) == key.removesuffix("_URL").lower(), f"{name}: {key}"
                assert build_parser().parse_args(target["command"]).port == url.port, f"{name}: {key}"


def test_secrets_are_only_references_to_the_env_file() -> None:
    for name, service in services().items():
        for key, value in environment(service).items():
            if not SECRET_VARIABLES.search(key):
                continue
            references = INTERPOLATION.findall(value)
            assert references, f"{name}: {key} holds a literal value"
            for _variable, operator, _message in references:
                assert operator == "?", f"{name}: {key} must fail when .env lacks it (${{VAR:?message}})"
            if "://" in value:
                password = urlsplit(INTERPOLATION.sub("X", value)).password
                assert password in (None, "X"), f"{name}: {key} has a literal password"
                assert ":${" in value or urlsplit(value).password is None, f"{name}: {key}"


def strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings(key) + strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [node] if isinstance(node, str) else []


def test_every_variable_compose_reads_is_in_env_example_and_secrets_are_left_empty() -> None:
    example = env_example()
    references = [ref for text in strings(compose()) for ref in INTERPOLATION.findall(text)]
    assert len(references) > 10
    for variable, operator, _message in references:
        assert variable in example, f"${{{variable}}} is not in .env.example"
        if operator == "?":
            assert example[variable] == "", f".env.example must not hold a value for the secret {variable}"


def test_the_real_env_file_is_ignored_by_git() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, ".env must be git-ignored"
    kept = subprocess.run(["git", "check-ignore", "-q", ENV_EXAMPLE.name], cwd=ROOT, check=False)
    assert kept.returncode == 1, ".env.example must be committed"


def test_postgres_allows_every_replica_its_full_pool() -> None:
    command = services()["postgres"]["command"]
    max_connections = int(command[command.index("-c") + 1].split("=")[1])
    needed = 0
    for service in portfolio_services().values():
        replicas = service.get("deploy", {}).get("replicas", 1)
        needed += replicas * (CONNECTIONS_PER_PROCESS if served_process(service) != "frontend" else 0)
    needed += 3 + 5  # the migrators (one connection each) and psql sessions of an operator
    assert needed <= max_connections - 3, f"{needed} connections needed, max_connections={max_connections}"


def test_every_process_is_in_the_compose_file() -> None:
    assert {served_process(s) for s in portfolio_services().values()} - {None} == set(PROCESSES)


def test_postgres_init_script_creates_a_private_database_per_service(tmp_path: Path) -> None:
    """Runs deploy/postgres/init.sh against the test server with scratch names."""
    import psycopg

    reason = postgres_available()
    if reason or shutil.which("psql") is None:
        unavailable("PostgreSQL and psql", reason or "psql not installed")
    admin = urlsplit(PG_ADMIN_URL)
    name = f"deploytest_{uuid.uuid4().hex[:8]}"
    password = "p'w \"" + uuid.uuid4().hex  # quotes and spaces: the script must quote them
    env = {
        **os.environ,
        "PGHOST": admin.hostname or "127.0.0.1",
        "PGPORT": str(admin.port or 5432),
        "PGPASSWORD": admin.password or "",
        "POSTGRES_USER": admin.username or "postgres",
        "PORTFOLIO_DATABASES": name,
        f"{name.upper()}_DB_PASSWORD": password,
    }
    try:
        result = subprocess.run(
            ["bash", str(DEPLOY / "postgres" / "init.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        with psycopg.connect(
            host=env["PGHOST"], port=env["PGPORT"], user=name, password=password, dbname=name
        ) as connection:
            connection.execute("CREATE TABLE owned_by_the_service (id int)")
            granted = connection.execute(
                "SELECT has_database_privilege('public', current_database(), 'CONNECT')"
            ).fetchone()
            assert granted == (False,), "other roles may connect to the service's database"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'DROP ROLE IF EXISTS "{name}"')
