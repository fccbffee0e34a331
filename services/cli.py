"""The ``portfolio`` command: run, migrate and seed the system.

    portfolio up [--data-dir DIR] [--host H] [--gateway-port 8000] [--projects-port 8001]
                 [--indicators-port 8002] [--frontend-port 8501] [--no-frontend]
    portfolio serve projects|indicators|gateway|frontend [--host H] [--port P] [--workers N]
    portfolio migrate [SERVICE] [--revision REV] [--down REV]
    portfolio seed [--dataset jinzhou-14th-fyp]
    portfolio import FILE [--dry-run] [--sheet NAME]   (services.projects.cli)
    portfolio bench [--projects N] [--steps …] [--smoke]  (services.bench_cli; bench/README.md)

Other modules add their own subcommands through ``REGISTRARS``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from services.common.settings import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("projects", "indicators", "gateway")
DEFAULT_PORTS = {"gateway": 8000, "projects": 8001, "indicators": 8002, "frontend": 8501}
DATABASE_ENV = {
    "projects": "PROJECTS_DATABASE_URL",
    "indicators": "INDICATORS_DATABASE_URL",
    "gateway": "GATEWAY_DATABASE_URL",
}

#: modules with ``register(subparsers)`` adding their own subcommands
REGISTRARS: list[str] = [
    "services.gateway.cli",
    "services.projects.cli",
    "services.backup",
    "services.bench_cli",
]


class CliError(RuntimeError):
    """A problem the user can fix; printed as one line, exit code 2."""


def available_services() -> list[str]:
    return [name for name in SERVICES if (ROOT / "services" / name / "app.py").exists()]


def settings_for(service: str) -> Any:
    module = importlib.import_module(f"services.{service}.settings")
    cls = next(getattr(module, n) for n in dir(module) if n.endswith("Settings") and n != "ServiceSettings")
    return cls()


# --------------------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace) -> int:
    port = args.port or DEFAULT_PORTS[args.service]
    ensure_port_free(args.host, port)
    if args.service == "frontend":
        if os.environ.get("PORTFOLIO_ENV") == "production" and not os.environ.get("GATEWAY_URL"):
            raise CliError("production mode needs: GATEWAY_URL (where the frontend finds the gateway)")
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "frontend" / "server.py"),  # app.py behind the security headers
            "--server.port",
            str(port),
            "--server.address",
            args.host,
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ]
        # exec, not a child: in a container Streamlit is then PID 1 and gets SIGTERM itself
        os.execv(command[0], command)
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from services.common.http import SERVER_OPTIONS, configure_logging

    settings = settings_for(args.service)
    settings.check_production()
    if settings.log_json:  # uvicorn's own lines go through the same JSON handler
        configure_logging(True)
    uvicorn.run(
        f"services.{args.service}.app:create_app",
        factory=True,
        host=args.host,
        port=port,
        workers=args.workers,
        timeout_graceful_shutdown=20,
        **SERVER_OPTIONS,
        log_config=None if settings.log_json else LOGGING_CONFIG,
    )
    return 0


def ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CliError(
                f"port {port} on {host} is already in use ({exc.strerror}); choose another with --*-port"
            ) from None


# --------------------------------------------------------------------------- migrate


def cmd_migrate(args: argparse.Namespace) -> int:
    from services.common import migrate

    targets = [args.service] if args.service else available_services()
    for service in targets:
        settings = settings_for(service)
        settings.check_production_database()
        url = settings.database_url
        if args.down:
            migrate.downgrade(service, url, args.down)
            print(f"{service}: downgraded to {args.down}")
        else:
            migrate.upgrade(service, url, args.revision)
            print(f"{service}: upgraded to {args.revision}")
    return 0


# --------------------------------------------------------------------------- up


def _secret(data_dir: Path, name: str) -> str:
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def embedded_environment(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    """Environment of the children: SQLite per service in the data dir, local URLs,
    secrets generated once per data dir (kept there, readable by the owner only)."""
    env = dict(os.environ)
    for service, variable in DATABASE_ENV.items():
        env.setdefault(variable, f"sqlite:///{data_dir / (service + '.db')}")
    env.setdefault("PROJECTS_URL", f"http://{args.host}:{args.projects_port}")
    env.setdefault("INDICATORS_URL", f"http://{args.host}:{args.indicators_port}")
    env.setdefault("GATEWAY_URL", f"http://{args.host}:{args.gateway_port}")
    env.setdefault("INTERNAL_TOKEN", _secret(data_dir, "internal-token"))
    env.setdefault("JWT_SECRET", _secret(data_dir, "jwt-secret"))
    env.setdefault("PORTFOLIO_DATA_DIR", str(data_dir))
    return env


def wait_ready(name: str, url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CliError(
                f"{name} exited with code {process.returncode} while starting; see the lines above"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise CliError(f"{name} did not become ready at {url} within {timeout_s:.0f} s")


def cmd_up(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    services = available_services()
    ports = {"projects": args.projects_port, "indicators": args.indicators_port, "gateway": args.gateway_port}
    wanted = [(s, ports[s]) for s in services]
    if not args.no_frontend and (ROOT / "frontend" / "app.py").exists():
        wanted.append(("frontend", args.frontend_port))
    for _name, port in wanted:
        ensure_port_free(args.host, port)

    env = embedded_environment(args, data_dir)
    os.environ.update({k: v for k, v in env.items() if k not in os.environ})
    from services.common import migrate

    for service in services:
        migrate.upgrade(service, env[DATABASE_ENV[service]])
    login_line = _ensure_admin()

    children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def stop_children(*_: object) -> None:
        for _name, child in children:
            if child.poll() is None:
                child.terminate()
        for _name, child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        for name, port in wanted:
            command = [
                sys.executable,
                "-m",
                "services.cli",
                "serve",
                name,
                "--host",
                args.host,
                "--port",
                str(port),
            ]
            child = subprocess.Popen(command, env=env)
            children.append((name, child))
            ready = f"http://{args.host}:{port}" + ("/_stcore/health" if name == "frontend" else "/ready")
            wait_ready(name, ready, child)
        seed_line = _seed_if_empty(env)
        print("\nJinzhou portfolio is running (embedded: SQLite in " + str(data_dir) + ")")
        for name, port in wanted:
            suffix = "  (API docs: /docs, OpenAPI: /api/v1/openapi.json)" if name == "gateway" else ""
            print(f"  {name:<11} http://{args.host}:{port}{suffix}")
        for line in (login_line, seed_line):
            if line:
                print("  " + line)
        print("Press Ctrl-C to stop.", flush=True)
        while True:
            for name, child in children:
                if child.poll() is not None:
                    raise CliError(f"{name} stopped unexpectedly with code {child.returncode}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping …", flush=True)
        stop_children()
        return 0
    except CliError:
        stop_children()
        raise


def _ensure_admin() -> str | None:
    if "gateway" not in available_services():
        return None
    from services.gateway.cli import ensure_admin  # type: ignore[import-not-found,unused-ignore]

    generated = ensure_admin(settings_for("gateway"))
    if generated:
        return f"login: admin / {generated}   (generated; set PORTFOLIO_ADMIN_PASSWORD to choose it)"
    return "login: admin / (the password you set, PORTFOLIO_ADMIN_PASSWORD)"


def _seed_if_empty(env: dict[str, str]) -> str | None:
    try:
        seed = importlib.import_module("services.seed")
    except ModuleNotFoundError:
        return None
    return str(seed.seed_if_empty(env))


def cmd_seed(args: argparse.Namespace) -> int:
    seed = importlib.import_module("services.seed")
    env = dict(os.environ)
    token_file = Path(args.data_dir) / "internal-token"
    if "INTERNAL_TOKEN" not in env and token_file.exists():
        env["INTERNAL_TOKEN"] = token_file.read_text().strip()
    try:
        print(seed.seed(args.dataset, env))
    except (seed.SeedError, httpx.HTTPError) as exc:
        raise CliError(f"seed failed: {exc}") from None
    return 0


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portfolio", description="Jinzhou 14th Five-Year Plan portfolio tracker"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole system on the embedded default (SQLite)")
    up.add_argument("--data-dir", default="./.portfolio")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--gateway-port", type=int, default=DEFAULT_PORTS["gateway"])
    up.add_argument("--projects-port", type=int, default=DEFAULT_PORTS["projects"])
    up.add_argument("--indicators-port", type=int, default=DEFAULT_PORTS["indicators"])
    up.add_argument("--frontend-port", type=int, default=DEFAULT_PORTS["frontend"])
    up.add_argument("--no-frontend", action="store_true")
    up.set_defaults(handler=cmd_up)

    serve = sub.add_parser("serve", help="run one process")
    serve.add_argument("service", choices=[*SERVICES, "frontend"])
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply (or undo) database migrations")
    migrate.add_argument("service", nargs="?", choices=SERVICES)
    migrate.add_argument("--revision", default="head")
    migrate.add_argument("--down", metavar="REV", help="downgrade to REV (e.g. base or -1)")
    migrate.set_defaults(handler=cmd_migrate)

    seed = sub.add_parser("seed", help="load the plan's data through the services (idempotent)")
    seed.add_argument("--dataset", default="jinzhou-14th-fyp")
    seed.add_argument("--data-dir", default="./.portfolio", help="where `portfolio up` keeps its secrets")
    seed.set_defaults(handler=cmd_seed)

    for module_name in REGISTRARS:
        register: Callable[[Any], None] = importlib.import_module(module_name).register
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (CliError, ConfigurationError) as exc:
        print(f"portfolio: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # a setting with a value of the wrong shape
        where = ", ".join(".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in exc.errors())
        print(f"portfolio: invalid setting: {where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # run the imported module's main, not this __main__ copy: subcommand modules import
    # services.cli, and its CliError must be the class main() catches
    from services.cli import main as entry_point

    sys.exit(entry_point())
