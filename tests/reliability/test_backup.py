"""``portfolio backup`` / ``portfolio restore`` (services/backup.py): a backup taken while the
services run brings back every project, history row, report, indicator, observation and
user exactly; restore refuses to overwrite without ``--force``, while a database is open,
and from a damaged archive (leaving the databases untouched); PostgreSQL gets one line
pointing to pg_dump/pg_restore."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.cli import DATABASE_ENV, main
from services.common.migrate import upgrade
from services.gateway.app import create_app as create_gateway
from services.gateway.cli import ensure_admin
from services.gateway.settings import GatewaySettings
from services.indicators.app import create_app as create_indicators
from services.indicators.settings import IndicatorsSettings
from services.projects.app import create_app as create_projects
from services.projects.settings import ProjectsSettings
from tests.gateway.servers import closed_url
from tests.support import INTERNAL_TOKEN, caller_headers

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("projects", "indicators", "gateway")
ADMIN_PASSWORD = "backup-admin-password"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir like ``portfolio up`` makes: three migrated SQLite files and its token."""
    for variable in DATABASE_ENV.values():
        monkeypatch.delenv(variable, raising=False)
    folder = tmp_path / "data"
    for service in SERVICES:
        upgrade(service, url(folder, service))
    (folder / "internal-token").write_text(INTERNAL_TOKEN)
    return folder


def url(folder: Path, service: str) -> str:
    return f"sqlite:///{folder / (service + '.db')}"


class Apps:
    """The three services on the data dir, in process (``TestClient``, lifespan on)."""

    def __init__(self, folder: Path) -> None:
        self.stack = ExitStack()
        common: dict[str, Any] = {"INTERNAL_TOKEN": INTERNAL_TOKEN, "PORTFOLIO_ENV": "test"}
        self.projects = self._open(
            create_projects(ProjectsSettings(PROJECTS_DATABASE_URL=url(folder, "projects"), **common))
        )
        self.indicators = self._open(
            create_indicators(IndicatorsSettings(INDICATORS_DATABASE_URL=url(folder, "indicators"), **common))
        )
        for client in (self.projects, self.indicators):
            client.headers.update(caller_headers())
        settings = GatewaySettings(
            GATEWAY_DATABASE_URL=url(folder, "gateway"),
            PORTFOLIO_DATA_DIR=str(folder),  # its JWT secret is generated there, like `portfolio up`
            PORTFOLIO_ADMIN_PASSWORD=ADMIN_PASSWORD,
            PROJECTS_URL=closed_url(),
            INDICATORS_URL=closed_url(),
            LOGIN_RATE_LIMIT_PER_MINUTE=1000,
            **common,
        )
        ensure_admin(settings)
        self.gateway = self._open(create_gateway(settings))

    def _open(self, app: Any) -> TestClient:
        return self.stack.enter_context(TestClient(app))

    def token(self, username: str, password: str) -> dict[str, str]:
        response = self.gateway.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def close(self) -> None:
        self.stack.close()


@pytest.fixture
def apps(data_dir: Path) -> Iterator[Apps]:
    running = Apps(data_dir)
    yield running
    running.close()


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def project(client: TestClient, name: str, county: str = "heishan", **fields: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "sector": "agri_park",
        "county": county,
        "total_investment_wan": 1200,
        "start_year": 2022,
        "end_year": 2025,
        **fields,
    }
    response = client.post("/api/v1/projects", json=body)
    return {**ok(response, 201), "etag": response.headers["etag"]}


def write_portfolio(apps: Apps) -> dict[str, Any]:
    """Projects (one patched twice: history rows), a report, an indicator with
    observations, a user; returns what the test changes afterwards."""
    first = project(apps.projects, "黑山县备份测试项目一")
    second = project(apps.projects, "凌海市备份测试项目二", county="linghai", total_investment_wan=8800)
    project(apps.projects, "北镇市备份测试项目三", county="beizhen")
    patched = apps.projects.patch(
        f"/api/v1/projects/{first['id']}",
        json={"total_investment_wan": 1500, "description": "调增投资"},
        headers={"If-Match": first["etag"]},
    )
    ok(patched)
    ok(
        apps.projects.patch(
            f"/api/v1/projects/{first['id']}",
            json={"name": "黑山县备份测试项目一（二期）"},
            headers={"If-Match": patched.headers["etag"]},
        )
    )
    body = {"period": "2025-03", "investment_this_period_wan": 300, "physical_progress_pct": 40}
    ok(apps.projects.post(f"/api/v1/projects/{second['id']}/reports", json={**body, "issues": "征地"}), 201)
    indicator = ok(
        apps.indicators.post(
            "/api/v1/indicators",
            json={
                "code": "FYP14-01",
                "name": "地区生产总值",
                "category": "经济发展",
                "unit": "亿元",
                "direction": "increase",
                "baseline_year": 2020,
                "baseline_value": 1074,
                "target_year": 2025,
                "target_value": 1500,
                "target_kind": "approximately",
            },
        ),
        201,
    )
    for year, value in ((2021, 1109.5), (2022, 1134.2)):
        ok(
            apps.indicators.post(
                f"/api/v1/indicators/{indicator['id']}/observations", json={"year": year, "value": value}
            ),
            201,
        )
    admin = apps.token("admin", ADMIN_PASSWORD)
    user = ok(
        apps.gateway.post(
            "/api/v1/users",
            json={"username": "hei", "password": "password-123", "role": "manager", "counties": ["heishan"]},
            headers=admin,
        ),
        201,
    )
    return {"second": second, "indicator": indicator, "user": user, "admin": admin}


def api_view(apps: Apps, admin: dict[str, str]) -> dict[str, Any]:
    """Everything a caller sees: projects with history and reports, indicators with their
    observations (corrections included), users."""
    projects = ok(apps.projects.get("/api/v1/projects", params={"limit": 100}))["items"]
    indicators = ok(apps.indicators.get("/api/v1/indicators", params={"limit": 100}))["items"]
    return {
        "projects": projects,
        "history": {p["id"]: ok(apps.projects.get(f"/api/v1/projects/{p['id']}/history")) for p in projects},
        "reports": {p["id"]: ok(apps.projects.get(f"/api/v1/projects/{p['id']}/reports")) for p in projects},
        "indicators": indicators,
        "observations": {
            i["id"]: ok(apps.indicators.get(f"/api/v1/indicators/{i['id']}/observations?history=true"))
            for i in indicators
        },
        "users": ok(apps.gateway.get("/api/v1/users", headers=admin))["items"],
    }


def table_rows(folder: Path) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    """Every row of every table of the three databases, in rowid order."""
    dump: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    for service in SERVICES:
        with closing(sqlite3.connect(folder / f"{service}.db")) as db:
            names = [
                r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
            ]
            dump[service] = {
                name: db.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall() for name in names
            }
    return dump


def digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()
    }


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("portfolio: "), err
    return lines[0]


def take_backup(capsys: pytest.CaptureFixture[str], folder: Path, to: Path) -> Path:
    code, out, err = run(capsys, "backup", "--data-dir", str(folder), "--to", str(to))
    assert code == 0, err
    archive = Path(out.strip().splitlines()[-1].split("backup written: ")[1].split(" (")[0])
    assert archive.parent == to and archive.name.startswith("portfolio-backup-") and archive.exists()
    return archive


# --------------------------------------------------------------------------- tests


def test_a_restored_backup_has_every_project_report_history_row_indicator_and_user(
    data_dir: Path, apps: Apps, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Backup while the services run; change and delete data; restore: everything is back."""
    written = write_portfolio(apps)
    old_token = apps.token("hei", "password-123")
    before_api = api_view(apps, written["admin"])
    assert (
        len(before_api["projects"]) == 3 and sum(len(h["items"]) for h in before_api["history"].values()) >= 5
    )
    assert sum(len(r["items"]) for r in before_api["reports"].values()) == 1
    assert len(before_api["observations"][written["indicator"]["id"]]["items"]) == 2
    assert {u["username"] for u in before_api["users"]} == {"admin", "hei"}
    before_rows = table_rows(data_dir)
    jwt_secret = (data_dir / "jwt-secret").read_text()

    archive = take_backup(capsys, data_dir, tmp_path / "backups")  # online: the apps keep running
    with tarfile.open(archive) as tar:
        names = sorted(Path(n).name for n in tar.getnames())
    assert names == sorted(["manifest.json", *(f"{s}.db" for s in SERVICES), "internal-token", "jwt-secret"])
    assert archive.stat().st_mode & 0o077 == 0, "the archive holds secrets: owner only"

    # change everything afterwards
    second = written["second"]
    project(apps.projects, "事后新增项目")
    current = apps.projects.get(f"/api/v1/projects/{second['id']}")
    deleted = apps.projects.delete(
        f"/api/v1/projects/{second['id']}", headers={"If-Match": current.headers["etag"]}
    )
    assert deleted.status_code == 204, deleted.text
    ok(
        apps.indicators.post(
            f"/api/v1/indicators/{written['indicator']['id']}/observations", json={"year": 2021, "value": 1.5}
        ),
        201,
    )
    assert apps.gateway.delete(
        f"/api/v1/users/{written['user']['id']}", headers=written["admin"]
    ).status_code in (
        200,
        204,
    )
    assert table_rows(data_dir) != before_rows

    # refused while a database is open (services running), and without --force
    code, _out, err = run(capsys, "restore", "--from", str(archive), "--data-dir", str(data_dir), "--force")
    assert code == 1 and "open" in one_line_error(err)
    apps.close()
    (data_dir / "jwt-secret").unlink()
    changed = digests(data_dir)
    code, out, err = run(capsys, "restore", "--from", str(archive), "--data-dir", str(data_dir))
    assert code == 1 and "--force" in one_line_error(err) and out == ""
    assert digests(data_dir) == changed, "a refused restore changes nothing"

    code, out, err = run(capsys, "restore", "--from", str(archive), "--data-dir", str(data_dir), "--force")
    assert code == 0, err
    assert [line.split(":")[0] for line in out.splitlines()[:3]] == list(SERVICES)
    assert not [p.name for p in data_dir.iterdir() if p.name.endswith((".partial", "-wal", "-shm"))]

    assert table_rows(data_dir) == before_rows
    assert (data_dir / "jwt-secret").read_text() == jwt_secret
    again = Apps(data_dir)
    try:
        assert api_view(again, written["admin"]) == before_api
        me = again.gateway.get("/api/v1/me", headers=old_token)
        assert me.status_code == 200 and me.json()["actor"] == "hei", "tokens from before stay valid"
    finally:
        again.close()


def test_a_damaged_backup_is_refused_and_the_databases_stay_untouched(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database whose sha256 differs from the manifest, or a truncated archive: exit 1."""
    archive = take_backup(capsys, data_dir, tmp_path / "backups")
    with closing(sqlite3.connect(data_dir / "projects.db")) as db:  # the data moves on
        db.execute("CREATE TABLE marker (x)")
        db.commit()
    untouched = digests(data_dir)

    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(tampered, "w:gz") as target:
        for member in source.getmembers():
            content = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.endswith("/gateway.db"):
                middle = len(content) // 2
                content = content[:middle] + bytes([content[middle] ^ 0xFF]) + content[middle + 1 :]
            target.addfile(member, io.BytesIO(content))
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    for bad, words in ((tampered, "sha256"), (truncated, "damaged")):
        code, out, err = run(capsys, "restore", "--from", str(bad), "--data-dir", str(data_dir), "--force")
        line = one_line_error(err)
        assert code == 1 and words in line and "nothing restored" in line and out == "", line
        assert digests(data_dir) == untouched

    code, _out, err = run(
        capsys, "restore", "--from", str(tmp_path / "missing.tar.gz"), "--data-dir", str(data_dir)
    )
    assert code == 2 and "no such backup" in one_line_error(err)


def test_postgresql_is_refused_in_one_line_pointing_to_pg_dump(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A *_DATABASE_URL on PostgreSQL: one line naming the variable and pg_dump/pg_restore, exit 2."""
    archive = take_backup(capsys, data_dir, tmp_path)
    monkeypatch.setenv("INDICATORS_DATABASE_URL", "postgresql://indicators@127.0.0.1:5432/indicators")
    for argv in (["backup", "--data-dir", str(data_dir)], ["restore", "--from", str(archive), "--force"]):
        code, out, err = run(capsys, *argv)
        line = one_line_error(err)
        assert code == 2 and out == ""
        assert "INDICATORS_DATABASE_URL" in line and "pg_dump" in line and "pg_restore" in line

    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "backup", "--data-dir", str(data_dir), "--to", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2 and "pg_dump" in one_line_error(done.stderr) and done.stdout == ""
