"""Fixtures of the indicators service tests: an app per backend, emptied between tests,
and the plan's own indicator rows (GDP 1074 → 1500左右, PM2.5 46 → 35)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.indicators.app import create_app
from services.indicators.models import IndicatorsModel
from services.indicators.settings import IndicatorsSettings
from tests.support import INTERNAL_TOKEN, MigratedDatabase, caller_headers


@pytest.fixture(scope="session")
def indicators_db(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedDatabase]:
    database = MigratedDatabase(
        "indicators", backend, tmp_path_factory.mktemp("indicators"), IndicatorsModel.metadata
    )
    yield database
    database.close()


def indicators_settings(url: str, **overrides: Any) -> IndicatorsSettings:
    return IndicatorsSettings(
        INDICATORS_DATABASE_URL=url, INTERNAL_TOKEN=INTERNAL_TOKEN, PORTFOLIO_ENV="test", **overrides
    )


@pytest.fixture
def client(indicators_db: MigratedDatabase) -> Iterator[TestClient]:
    indicators_db.clean()
    with TestClient(create_app(indicators_settings(indicators_db.url))) as test_client:
        test_client.headers.update(caller_headers())
        yield test_client


ADMIN = caller_headers()
ADMIN_EN = caller_headers(lang="en")
VIEWER = caller_headers("vera", "viewer")
HEISHAN_MANAGER = caller_headers("hei", "manager", "heishan")
BINHAI_MANAGER = caller_headers("bin", "manager", "binhai")

#: 1.地区生产总值 of 专栏："十四五"时期经济社会发展主要指标 (indicators.csv FYP14-01)
GDP: dict[str, Any] = {
    "code": "FYP14-01",
    "name": "地区生产总值",
    "name_en": "GDP",
    "category": "经济发展",
    "unit": "亿元",
    "scope": "city",
    "direction": "increase",
    "baseline_year": 2020,
    "baseline_value": 1074,
    "baseline_text": "1074",
    "target_year": 2025,
    "target_value": 1500,
    "target_text": "1500左右",
    "target_growth_pct": 6.5,
    "growth_text": "6.5左右",
    "target_kind": "approximately",
    "attribute": "预期性",
    "period_start": 2021,
    "period_end": 2025,
    "source": "plan:table14",
    "plan_line": 204,
}

#: 18.城市空气指数 (PM2.5), lower is better (FYP14-18)
PM25: dict[str, Any] = {
    "code": "FYP14-18",
    "name": "城市空气指数 (PM2.5)",
    "name_en": "Urban air index (PM2.5 concentration)",
    "category": "生态环境",
    "unit": "μg/m³",
    "scope": "city",
    "direction": "decrease",
    "baseline_year": 2020,
    "baseline_value": 46,
    "target_year": 2025,
    "target_value": 35,
    "target_text": "35",
    "target_kind": "absolute",
    "attribute": "约束性",
    "period_start": 2021,
    "period_end": 2025,
    "source": "plan:table14",
    "plan_line": 227,
}

#: a county indicator from the plan's text (targets_from_text.csv TXT-003), scoped to 黑山县 for the tests
COUNTY: dict[str, Any] = {
    "code": "T-HEISHAN",
    "name": "黑山县设施农业面积",
    "name_en": "Heishan greenhouse farming area",
    "category": "经济发展",
    "unit": "万亩",
    "scope": "heishan",
    "direction": "increase",
    "baseline_year": 2020,
    "baseline_value": 10,
    "target_year": 2025,
    "target_value": 20,
    "target_kind": "absolute",
    "period_start": 2021,
    "period_end": 2025,
}


def new_indicator(client: TestClient, headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/indicators", json={**GDP, **fields}, headers=headers or ADMIN)
    assert response.status_code == 201, response.text
    return {**response.json(), "etag": response.headers["etag"]}


def observe(
    client: TestClient,
    indicator_id: int,
    year: int,
    value: Any,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/indicators/{indicator_id}/observations",
        json={"year": year, "value": value, **fields},
        headers=headers or ADMIN,
    )
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]
