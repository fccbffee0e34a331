"""``portfolio seed``: load a shipped dataset through the services' APIs, idempotently.

The data goes in through the same HTTP API every writer uses (the services' internal API,
with the internal token, as the actor ``seed``), so it is validated, audited and announced
like any other write. Nothing is written into a database directly.

Idempotent: projects and indicators are matched by ``code`` and observations by year; what
exists is left alone, and a second run reports that nothing changed.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SEED_ACTOR = {"X-Actor": "seed", "X-Actor-Role": "admin", "X-Actor-Counties": ""}

PROJECT_FIELDS = (
    "code",
    "name",
    "sector",
    "county",
    "zone",
    "owner_org",
    "plan_section",
    "plan_category",
)


class SeedError(RuntimeError):
    pass


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    existing: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, created: bool) -> None:
        target = self.created if created else self.existing
        target[kind] = target.get(kind, 0) + 1

    def __str__(self) -> str:
        kinds = sorted(set(self.created) | set(self.existing))
        if not any(self.created.values()):
            return (
                "seed: nothing to change ("
                + ", ".join(f"{self.existing.get(k, 0)} {k}" for k in kinds)
                + " already there)"
            )
        parts = [
            f"{self.created.get(k, 0)} {k} created, {self.existing.get(k, 0)} already there" for k in kinds
        ]
        return "seed: " + "; ".join(parts)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def project_body(row: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {key: row[key] for key in PROJECT_FIELDS if row.get(key)}
    body.update(
        total_investment_wan=int(row["total_investment_wan"]),
        start_year=int(row["start_year"]),
        end_year=int(row["end_year"]),
        status=row["status"] or "planned",
        plan_line=int(row["plan_line"]) if row.get("plan_line") else None,
        tags=["十四五规划"],
    )
    notes = [row.get("investment_text", ""), row.get("note", "")]
    if row.get("duplicate_of"):
        body["parent_code"] = row["duplicate_of"]
        notes.append(f"与 {row['duplicate_of']} 为同一项目（两个专栏重复列示），汇总只计一次")
    elif row.get("parent_code"):
        body["parent_code"] = row["parent_code"]
    body["description"] = "；".join(n for n in notes if n) or None
    return body


class Seeder:
    def __init__(self, projects_url: str, indicators_url: str | None, internal_token: str) -> None:
        headers = {"X-Internal-Token": internal_token, **SEED_ACTOR}
        self.projects = httpx.Client(base_url=projects_url, headers=headers, timeout=30)
        self.indicators = (
            httpx.Client(base_url=indicators_url, headers=headers, timeout=30) if indicators_url else None
        )
        self.report = SeedReport()

    def close(self) -> None:
        self.projects.close()
        if self.indicators:
            self.indicators.close()

    @staticmethod
    def _check(response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code >= 400:
            raise SeedError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json()  # type: ignore[no-any-return]

    def _codes(self, client: httpx.Client, path: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = self._check(client.get(path, params=params), f"GET {path}")
            found.update({item["code"]: item for item in page["items"]})
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    def load_projects(self, dataset: Path) -> None:
        existing = self._codes(self.projects, "/api/v1/projects")
        for row in read_csv(dataset / "projects.csv"):  # parents come before their children
            if row["code"] in existing:
                self.report.count("projects", created=False)
                continue
            body = project_body(row)
            self._check(self.projects.post("/api/v1/projects", json=body), f"project {row['code']}")
            self.report.count("projects", created=True)

    def load_indicators(self, dataset: Path) -> None:
        if self.indicators is None:
            return
        existing = self._codes(self.indicators, "/api/v1/indicators")
        for name in ("indicators.csv", "targets_from_text.csv"):
            for row in read_csv(dataset / name):
                if row["code"] in existing:
                    self.report.count("indicators", created=False)
                    continue
                created = self._check(
                    self.indicators.post("/api/v1/indicators", json=row), f"indicator {row['code']}"
                )
                existing[row["code"]] = created
                self.report.count("indicators", created=True)
        for row in read_csv(dataset / "indicator_observations.csv"):
            indicator = existing[row["code"]]
            detail = self._check(
                self.indicators.get(f"/api/v1/indicators/{indicator['id']}"), f"indicator {row['code']}"
            )
            if any(int(o["year"]) == int(row["year"]) for o in detail.get("observations", [])):
                self.report.count("observations", created=False)
                continue
            body = {
                "year": int(row["year"]),
                "value": row["value"],
                "note": row.get("value_text") or None,
                "source": row.get("source") or None,
            }
            path = f"/api/v1/indicators/{indicator['id']}/observations"
            self._check(self.indicators.post(path, json=body), f"observation {row['code']} {row['year']}")
            self.report.count("observations", created=True)


def _urls(env: dict[str, str]) -> tuple[str, str | None, str]:
    from services.common.settings import EMBEDDED_INTERNAL_TOKEN

    indicators_app = Path(__file__).resolve().parent / "indicators" / "app.py"
    return (
        env.get("PROJECTS_URL", "http://127.0.0.1:8001"),
        env.get("INDICATORS_URL", "http://127.0.0.1:8002") if indicators_app.exists() else None,
        env.get("INTERNAL_TOKEN", EMBEDDED_INTERNAL_TOKEN),
    )


def seed(dataset: str = "jinzhou-14th-fyp", env: dict[str, str] | None = None) -> SeedReport:
    folder = DATA_DIR / dataset
    if not (folder / "projects.csv").exists():
        raise SeedError(f"no dataset at {folder}")
    seeder = Seeder(*_urls(dict(env or os.environ)))
    try:
        seeder.load_projects(folder)
        seeder.load_indicators(folder)
    finally:
        seeder.close()
    return seeder.report


def seed_if_empty(env: dict[str, str]) -> str:
    """What ``portfolio up`` calls: seed a library that has no projects yet."""
    projects_url, _indicators, token = _urls(env)
    headers = {"X-Internal-Token": token, **SEED_ACTOR}
    total = httpx.get(
        f"{projects_url}/api/v1/projects", params={"limit": 1}, headers=headers, timeout=30
    ).json()["total"]
    if total:
        return f"library: {total} projects (not seeded again; `portfolio seed` adds what is missing)"
    return str(seed(env=env))
