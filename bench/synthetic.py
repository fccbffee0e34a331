"""A seeded generator of synthetic projects with the plan's own distribution.

The counties, sectors and amounts are drawn from ``data/jinzhou-14th-fyp/projects.csv``
(the plan's 179 funded projects): each synthetic project copies the county, sector and the
order of magnitude of a real one, with the amount jittered, a start year in 2021-2025, a
status spread like a portfolio mid-plan, and for one project in five a split over two
counties. The same seed gives the same projects.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DATASET = Path(__file__).resolve().parent.parent / "data" / "jinzhou-14th-fyp" / "projects.csv"
STATUS_WEIGHTS = {
    "planned": 30,
    "preparing": 20,
    "under_construction": 35,
    "suspended": 5,
    "completed": 8,
    "cancelled": 2,
}
COUNTIES = ["guta", "linghe", "taihe", "linghai", "beizhen", "heishan", "yixian", "binhai", "songshan"]


def plan_rows() -> list[dict[str, str]]:
    with DATASET.open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if not row["parent_code"] and not row["duplicate_of"]]


def synthetic_projects(count: int, seed: int = 14) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    templates = plan_rows()
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    for number in range(1, count + 1):
        template = rng.choice(templates)
        amount = max(10, int(int(template["total_investment_wan"]) * rng.uniform(0.2, 1.8)))
        status = rng.choices(statuses, weights)[0]
        done_share = {
            "planned": 0.0,
            "preparing": 0.02,
            "under_construction": rng.uniform(0.05, 0.9),
            "suspended": rng.uniform(0, 0.5),
            "completed": rng.uniform(0.9, 1.1),
            "cancelled": 0.0,
        }[status]
        county = template["county"]
        shares = None
        if rng.random() < 0.2:
            other = rng.choice([c for c in COUNTIES if c != county])
            pct = rng.randint(10, 90)
            shares = {county: pct, other: 100 - pct} if county != "citywide" else {other: 100}
        start = rng.randint(2021, 2025)
        yield {
            "code": f"SYN-{number:07d}",
            "name": f"{template['name']}（样本{number}）",
            "sector": template["sector"],
            "sector_group": template["sector_group"],
            "county": county,
            "county_shares": shares,
            "total_investment_wan": amount,
            "completed_investment_wan": int(amount * done_share),
            "start_year": start,
            "end_year": min(2030, start + rng.randint(0, 4)),
            "status": status,
        }
