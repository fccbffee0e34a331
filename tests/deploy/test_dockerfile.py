"""deploy/Dockerfile and .dockerignore without a Docker engine: the stages, what reaches the
final image, the user, the entrypoint and command, and the health check script."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from services.cli import DEFAULT_PORTS, build_parser
from tests.deploy.support import DEPLOY, DOCKERFILE, DOCKERIGNORE, ROOT


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    result = []
    for line in joined:
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def stages() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    current = None
    for keyword, rest in instructions():
        if keyword == "FROM":
            parts = rest.split()
            current = parts[-1] if len(parts) >= 3 and parts[-2].upper() == "AS" else f"stage{len(found)}"
            found[current] = [(keyword, rest)]
        elif current is not None:
            found[current].append((keyword, rest))
    return found


def final_stage() -> list[tuple[str, str]]:
    return list(stages().values())[-1]


def one(stage: list[tuple[str, str]], keyword: str) -> str:
    values = [rest for k, rest in stage if k == keyword]
    assert len(values) == 1, f"expected one {keyword}, found {len(values)}"
    return values[0]


def base_image() -> str:
    args = dict(rest.split("=", 1) for k, rest in instructions() if k == "ARG" and "=" in rest)
    image = final_stage()[0][1].split()[0]
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)


def test_builder_stage_builds_wheels_from_pyproject_and_constraints() -> None:
    builder = stages()["builder"]
    runs = " ".join(rest for k, rest in builder if k == "RUN")
    copied = " ".join(rest for k, rest in builder if k == "COPY")
    assert "pyproject.toml" in copied and "constraints.txt" in copied
    assert "pip wheel" in runs and "-c constraints.txt" in runs


def test_final_stage_is_python_311_slim_without_build_tools_or_tests() -> None:
    image = base_image()
    assert image.startswith("python:3.11-slim"), image
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert ">=3.11" in requires
    final = final_stage()
    text = " ".join(rest for _k, rest in final)
    for tool in ("build-essential", "gcc", "apt-get install", "tests"):
        assert tool not in text, f"the final stage mentions {tool}"
    assert "--no-index" in text, "the final stage installs the builder's wheels only"


def test_final_stage_runs_as_a_non_root_numeric_user() -> None:
    user = one(final_stage(), "USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 10000, user


def test_entrypoint_is_portfolio_and_the_default_command_parses() -> None:
    final = final_stage()
    assert json.loads(one(final, "ENTRYPOINT")) == ["portfolio"]
    command = json.loads(one(final, "CMD"))
    args = build_parser().parse_args(command)
    assert (args.command, args.service, args.host) == ("serve", "gateway", "0.0.0.0")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["portfolio"] == "services.cli:main"


def test_final_stage_has_a_healthcheck_with_the_shipped_script() -> None:
    healthcheck = one(final_stage(), "HEALTHCHECK")
    assert json.loads(healthcheck[healthcheck.index("CMD") + 3 :]) == [
        "python",
        "/opt/portfolio/healthcheck.py",
    ]
    copies = [rest for k, rest in final_stage() if k == "COPY"]
    assert "deploy/healthcheck.py /opt/portfolio/healthcheck.py" in copies


def test_the_dataset_is_copied_where_the_code_reads_it() -> None:
    final = final_stage()
    assert "data /opt/portfolio/data" in [rest for k, rest in final if k == "COPY"]
    runs = " ".join(rest for k, rest in final if k == "RUN")
    # linked next to the installed `services` package: services/seed.py and frontend/charts.py
    # read ROOT/data with ROOT the parent of their package
    assert 'ln -s /opt/portfolio/data "$(python -c' in runs
    assert "from services.seed import DATA_DIR" in runs
    from services.seed import DATA_DIR

    assert DATA_DIR == ROOT / "data"
    assert (DATA_DIR / "jinzhou-14th-fyp" / "projects.csv").is_file()
    assert (DATA_DIR / "jinzhou-14th-fyp" / "counties.geojson").is_file()


# --------------------------------------------------------------------------- .dockerignore


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def pattern_regex(pattern: str) -> str:
    """Docker's .dockerignore pattern (Go filepath.Match per segment, ``**`` for any number
    of directories) as a regular expression."""
    regex = ""
    parts = pattern.strip("/").split("/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:.*/)?"
            continue
        segment = "".join(
            "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char) for char in part
        )
        regex += segment + ("" if last else "/")
    return regex


def in_build_context(relative: str) -> bool:
    """Docker's rule: the last matching pattern wins, and a pattern that matches a directory
    matches everything under it."""
    included = True
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        regex = pattern_regex(pattern[1:] if negate else pattern)
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            included = negate
    return included


def copied_sources() -> list[str]:
    sources: list[str] = []
    for keyword, rest in instructions():
        if keyword != "COPY" or "--from=" in rest:
            continue
        parts = [p for p in rest.split() if not p.startswith("--")]
        sources += parts[:-1]
    return sources


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    sources = copied_sources()
    assert {"services", "frontend", "data", "pyproject.toml", "constraints.txt"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert in_build_context(source), f"{source} is excluded by .dockerignore"
    assert in_build_context(
        "services/projects/migrations/versions/0001_project_library_history_reports_outbox.py"
    )


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".git/config",
        ".venv/bin/python",
        "tests/conftest.py",
        ".portfolio/projects.db",
        "deploy/k8s/overlays/production/secrets.env",
        "services/__pycache__/cli.cpython-311.pyc",
    ],
)
def test_secrets_tests_and_local_state_stay_out_of_the_build_context(path: str) -> None:
    assert not in_build_context(path)


# --------------------------------------------------------------------------- healthcheck.py


def healthcheck_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("portfolio_healthcheck", DEPLOY / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_knows_the_same_ports_as_the_cli() -> None:
    assert healthcheck_module().DEFAULT_PORTS == DEFAULT_PORTS


@pytest.mark.parametrize(
    ("argv", "url"),
    [
        (["/opt/venv/bin/portfolio", "serve", "projects"], "http://127.0.0.1:8001/ready"),
        (
            ["portfolio", "serve", "gateway", "--host", "0.0.0.0", "--port", "9000"],
            "http://127.0.0.1:9000/ready",
        ),
        (["portfolio", "serve", "indicators", "--port=9002"], "http://127.0.0.1:9002/ready"),
        (["python", "-m", "streamlit", "run", "x"], None),
        (["portfolio", "serve", "frontend"], "http://127.0.0.1:8501/_stcore/health"),
        (["portfolio", "migrate", "projects"], None),
    ],
)
def test_healthcheck_works_out_the_url_from_the_command(argv: list[str], url: str | None) -> None:
    assert healthcheck_module().url_for(argv) == url


def test_healthcheck_finds_the_serving_process_in_proc(tmp_path: Path) -> None:
    for pid, argv in {1: ["docker-init", "--", "portfolio"], 7: ["portfolio", "serve", "indicators"]}.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (tmp_path / "self").mkdir()
    assert healthcheck_module().serving_argv(tmp_path) == ["portfolio", "serve", "indicators"]


def test_healthcheck_answers_0_for_a_ready_service_and_1_for_a_closed_port(tmp_path: Path) -> None:
    from services.common.migrate import upgrade
    from services.projects.app import create_app
    from services.projects.settings import ProjectsSettings
    from tests.support import LiveServer, free_port

    url = f"sqlite:///{tmp_path / 'projects.db'}"
    upgrade("projects", url)
    server = LiveServer(create_app(ProjectsSettings(PROJECTS_DATABASE_URL=url, PORTFOLIO_ENV="test")))
    base = server.start().url
    try:
        module = healthcheck_module()
        assert module.main([f"{base}/ready"]) == 0
        assert module.main([f"http://127.0.0.1:{free_port()}/ready"]) == 1
    finally:
        server.stop()
