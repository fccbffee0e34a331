"""What the deployment tests share: the files under test, the settings each process reads,
and kustomize rendering.

Rendering uses the real kustomize built into ``kubectl`` (``kubectl kustomize DIR``; the
machine image ships kubectl). Without kubectl the rendered-overlay tests are skipped with a
message saying so, and the base manifests are still validated file by file (each one is a
complete object; only the overlay needs kustomize).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.settings import ServiceSettings
from services.gateway.settings import GatewaySettings
from services.indicators.settings import IndicatorsSettings
from services.projects.settings import ProjectsSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
K8S_BASE = DEPLOY / "k8s" / "base"
K8S_PRODUCTION = DEPLOY / "k8s" / "overlays" / "production"
README = DEPLOY / "README.md"

SETTINGS: dict[str, type[ServiceSettings]] = {
    "projects": ProjectsSettings,
    "indicators": IndicatorsSettings,
    "gateway": GatewaySettings,
}
PROCESSES = ("projects", "indicators", "gateway", "frontend")
PORTS = {"gateway": 8000, "projects": 8001, "indicators": 8002, "frontend": 8501}
#: what each process answers for "alive" and "ready"
LIVENESS = {
    "gateway": "/health",
    "projects": "/health",
    "indicators": "/health",
    "frontend": "/_stcore/health",
}
READINESS = {"gateway": "/ready", "projects": "/ready", "indicators": "/ready", "frontend": "/_stcore/health"}

#: the keys of the Secret ``portfolio-secrets`` (documented in deploy/README.md)
SECRET_KEYS = frozenset(
    {
        "PROJECTS_DATABASE_URL",
        "INDICATORS_DATABASE_URL",
        "GATEWAY_DATABASE_URL",
        "REDIS_URL",
        "INTERNAL_TOKEN",
        "JWT_SECRET",
        "PORTFOLIO_ADMIN_PASSWORD",
    }
)
SECRET_NAME = "portfolio-secrets"


def env_names(settings: type[ServiceSettings]) -> set[str]:
    """Every environment variable a settings class reads."""
    return {f.validation_alias for f in settings.model_fields.values() if isinstance(f.validation_alias, str)}


def production_required(settings: type[ServiceSettings]) -> set[str]:
    """The variables production mode refuses to start without (from the class's own check,
    on its defaults: ``model_construct`` reads no environment)."""
    blank = settings.model_construct(env="production")
    return {item.split(" ", 1)[0] for item in blank.missing_for_production()}


@cache
def frontend_env_names() -> frozenset[str]:
    """The variables the frontend reads (it has no settings class: ``os.environ`` lookups),
    plus the shared ones the ``portfolio`` command reads for it."""
    names = {"PORTFOLIO_ENV", "PORTFOLIO_LOG_JSON", "GATEWAY_URL"}
    pattern = re.compile(r"""(?:environ\.get|environ\[|getenv)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")
    for path in (ROOT / "frontend").rglob("*.py"):
        names |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return frozenset(names)


def known_env(process: str) -> set[str]:
    return set(frontend_env_names()) if process == "frontend" else env_names(SETTINGS[process])


def required_env(process: str) -> set[str]:
    return {"GATEWAY_URL"} if process == "frontend" else production_required(SETTINGS[process])


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@cache
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


# --------------------------------------------------------------------------- kustomize


def kubectl() -> str | None:
    return shutil.which("kubectl")


@cache
def _render(directory: Path) -> tuple[dict[str, Any], ...]:
    binary = kubectl()
    if binary is None:
        pytest.skip(
            "kubectl (with its built-in kustomize) is not installed: the rendered overlays are not checked"
        )
    result = subprocess.run(
        [binary, "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {directory.relative_to(ROOT)} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def render(directory: Path) -> list[dict[str, Any]]:
    return list(_render(directory))


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container_env_names(container: dict[str, Any], config_maps: dict[str, dict[str, Any]]) -> set[str]:
    names = {item["name"] for item in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(config_maps[source["configMapRef"]["name"]]["data"])
    return names
