"""The portfolio as an OC4IDS project package (Open Contracting for Infrastructure Data
Standard, schema version 0.9): ``GET /projects/export?format=oc4ids``.

Mapping of one project:

- ``id``: ``oc4ids-jz14fyp-<code>``. OC4IDS ids start with a prefix registered with the
  OC4IDS helpdesk; ``jz14fyp`` stands in until the city registers one (``ID_PREFIX``).
- ``title`` name; ``description`` description; ``updated`` the last change.
- ``status`` (projectStatus, closed codelist): planned → identification, preparing →
  preparation, under_construction → implementation, suspended → implementation (a
  suspended project has not left the implementation phase; OC4IDS has no "suspended"),
  completed → completion, cancelled → cancelled. ``statusDetails`` keeps our own status in
  words (e.g. ``停缓建 / Suspended``), so a suspension is not lost.
- ``sector`` (projectSector, open codelist): the OC4IDS code where ours maps (with its
  parent, as the standard asks: ``["transport", "transport.water"]`` for ports), then our
  level-2 code; ``additionalClassifications`` names our sector and group
  (scheme ``jinzhou-fyp-sector``).
- ``locations``: one per county holding money (the managing county first), described by
  its zh name, ``address`` {region 锦州市, locality: the county, countryName 中国}.
- ``budget.amount``: total investment in yuan (万元 × 10,000), currency CNY.
- ``period``: 1 January of the start year to 31 December of the end year (China time).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from services.common.jsonio import dumps
from services.projects.reference import COUNTIES, SECTOR_GROUP_OF, SECTOR_GROUPS, SECTORS, STATUSES
from services.projects.service import ProjectFilters
from services.projects.transfer_apply import PROJECT

VERSION = "0.9"
ID_PREFIX = "oc4ids-jz14fyp-"
PUBLISHER = {"name": "锦州市“十四五”规划重点项目库 / Jinzhou 14th Five-Year Plan project portfolio"}
STATUS_MAP = {
    "planned": "identification",
    "preparing": "preparation",
    "under_construction": "implementation",
    "suspended": "implementation",
    "completed": "completion",
    "cancelled": "cancelled",
}
SECTOR_MAP = {
    "port": "transport.water",
    "airport": "transport.air",
    "railway": "transport.rail",
    "highway": "transport.road",
    "rail_transit": "transport.urban",
    "transport_stations": "transport",
    "logistics": "transport",
    "heat_power": "energy",
    "power_grid": "energy",
    "oil_gas": "energy",
    "gas_supply": "energy",
    "wind_power": "energy.wind",
    "solar_power": "energy.solar",
    "biomass_power": "energy.biomass",
    "big_data": "communications",
    "water_ecology": "naturalResources.floodProtection",
    "environment": "naturalResources",
    "education": "education",
    "health": "health",
    "culture": "cultureSportsAndRecreation",
    "sports_facilities": "cultureSportsAndRecreation",
    "culture_tourism": "cultureSportsAndRecreation",
    "sports_industry": "cultureSportsAndRecreation",
}
ECONOMY_GROUPS = ("agriculture", "industry", "high_tech")  # 'economy' includes agribusiness
COUNTY_ZH = {c.code: c.zh for c in COUNTIES}
SECTOR_NAMES = {s.code: s for s in SECTORS}
GROUP_NAMES = {g.code: g for g in SECTOR_GROUPS}
STATUS_NAMES = {s.code: s for s in STATUSES}


def sectors(code: str) -> list[str]:
    mapped = SECTOR_MAP.get(code) or ("economy" if SECTOR_GROUP_OF.get(code) in ECONOMY_GROUPS else None)
    result: list[str] = []
    if mapped:
        parent = mapped.split(".")[0]
        result = [parent] if parent == mapped else [parent, mapped]
    return [*result, code]


def oc4ids_project(row: Mapping[Any, Any]) -> dict[str, Any]:
    sector = SECTOR_NAMES.get(row["sector"])
    group = GROUP_NAMES.get(row["sector_group"])
    status = STATUS_NAMES[row["status"]]
    counties = [row["county"], *(c for c in (row["county_shares"] or {}) if c != row["county"])]
    project: dict[str, Any] = {
        "id": ID_PREFIX + row["code"],
        "title": row["name"],
        "status": STATUS_MAP[row["status"]],
        "statusDetails": f"{status.zh} / {status.en}",
        "sector": sectors(row["sector"]),
        "additionalClassifications": [
            {
                "scheme": "jinzhou-fyp-sector",
                "id": row["sector"],
                "description": sector.zh if sector else row["sector"],
            },
            {
                "scheme": "jinzhou-fyp-sector-group",
                "id": row["sector_group"],
                "description": group.zh if group else "",
            },
        ],
        "locations": [
            {
                "id": str(index),
                "description": COUNTY_ZH.get(county, county),
                "address": {
                    "region": "锦州市",
                    "locality": COUNTY_ZH.get(county, county),
                    "countryName": "中国",
                },
            }
            for index, county in enumerate(counties, start=1)
        ],
        "budget": {"amount": {"amount": row["total_investment_wan"] * 10_000, "currency": "CNY"}},
        "period": {
            "startDate": f"{row['start_year']}-01-01T00:00:00+08:00",
            "endDate": f"{row['end_year']}-12-31T23:59:59+08:00",
        },
    }
    if row["description"]:
        project["description"] = row["description"]
    if row["updated_at"]:
        project["updated"] = _iso(row["updated_at"])
    return project


def _iso(moment: datetime) -> str:
    """SQLite hands timestamps back without their zone; they are UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def package_chunks(engine: Engine, filters: ProjectFilters, uri: str) -> Iterator[bytes]:
    """The package as JSON, streamed one project at a time."""
    clauses = filters.clauses()
    with Session(engine) as session:
        last_change = session.scalar(select(func.max(PROJECT.c.updated_at)).where(*clauses))
        published = _iso(last_change or datetime.now(UTC))
        head = {"uri": uri, "publishedDate": published, "version": VERSION, "publisher": PUBLISHER}
        yield dumps(head)[:-1] + b',"projects":['
        query = select(PROJECT).where(*clauses).order_by(PROJECT.c.id).execution_options(yield_per=1000)
        for index, row in enumerate(session.execute(query).mappings()):
            yield (b"," if index else b"") + dumps(oc4ids_project(row))
        yield b"]}"
