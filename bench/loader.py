"""Bulk loading of synthetic projects straight into the projects database (bench setup).

The rows come from :func:`bench.synthetic.synthetic_projects` (seeded, the plan's
distribution). ``project`` and ``project_share`` rows are written with PostgreSQL ``COPY``;
the money per county is :func:`services.projects.aggregates.share_parts` and the rollup
cells are the sum of :func:`services.projects.aggregates.contribution` over the loaded
projects, added with :func:`services.projects.aggregates.apply_deltas` (the service's own
code; the trigger of ``rollup_cell`` keeps ``rollup_county_sector``), all in the one
transaction of each chunk, so the cells are exact at every commit and ``cells_version = version`` (nothing stale). Audit rows are not written (a bulk setup, not a
history); every later write through the service records its own.

Loading in steps (10k, then up to 100k, then up to 1M) continues the same seeded stream, so
the first 10,000 projects of the 1M library are the 10k library.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from bench.synthetic import synthetic_projects
from services.common.db import normalise_url
from services.projects import aggregates

PROJECT_COLUMNS = (
    "id",
    "code",
    "name",
    "sector",
    "sector_group",
    "county",
    "owner_org",
    "total_investment_wan",
    "completed_investment_wan",
    "county_shares",
    "start_year",
    "end_year",
    "status",
    "status_changed_at",
    "physical_progress_pct",
    "tags",
    "version",
    "cells_version",
    "created_at",
    "updated_at",
)
SHARE_COLUMNS = (
    "project_id",
    "county",
    "pct",
    "is_managing",
    "total_investment_wan",
    "completed_investment_wan",
)
CHUNK = 100_000


@dataclass
class Loader:
    """Loads the synthetic stream up to a given count (call :meth:`load_to` repeatedly)."""

    database_url: str
    seed: int = 14
    loaded: int = 0
    seconds: float = 0.0
    _stream: Iterator[dict[str, Any]] | None = field(default=None, repr=False)

    def _rows(self) -> Iterator[dict[str, Any]]:
        if self._stream is None:
            self._stream = synthetic_projects(10**9, self.seed)
        return self._stream

    def load_to(self, count: int, progress: Callable[[str], None] = print) -> float:
        """Load synthetic projects until ``count`` are in; returns the seconds it took."""
        started = time.perf_counter()
        dsn = self.database_url.replace("postgresql+psycopg://", "postgresql://")
        engine = create_engine(normalise_url(self.database_url), poolclass=NullPool)
        try:
            while self.loaded < count:
                size = min(CHUNK, count - self.loaded)
                chunk = list(itertools.islice(self._rows(), size))
                with Session(bind=engine) as session:
                    # COPY on the session's own connection: rows, shares and cells commit together
                    raw: Any = session.connection().connection.driver_connection
                    cells = _copy_chunk(raw, chunk, _next_id(raw))
                    aggregates.apply_deltas(session, cells)
                    session.commit()
                self.loaded += size
                progress(f"  loaded {self.loaded:,} projects ({time.perf_counter() - started:.0f} s)")
            with psycopg.connect(dsn, autocommit=True) as connection:
                connection.execute("VACUUM ANALYZE project")
                connection.execute("VACUUM ANALYZE project_share")
                connection.execute("VACUUM ANALYZE rollup_cell")
                connection.execute("VACUUM ANALYZE rollup_county_sector")
        finally:
            engine.dispose()
        elapsed = time.perf_counter() - started
        self.seconds += elapsed
        return elapsed


def _next_id(connection: psycopg.Connection[Any]) -> int:
    row = connection.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM project").fetchone()
    return int(row[0]) if row else 1


def _copy_chunk(
    connection: psycopg.Connection[Any], chunk: list[dict[str, Any]], first_id: int
) -> dict[aggregates.CellKey, tuple[int, ...]]:
    now = datetime.now(UTC)
    cells: dict[aggregates.CellKey, list[int]] = {}
    shares: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY project ({', '.join(PROJECT_COLUMNS)}) FROM STDIN") as copy:
            for offset, row in enumerate(chunk):
                project_id = first_id + offset
                county_shares = row["county_shares"]
                copy.write_row(
                    (
                        project_id,
                        row["code"],
                        row["name"],
                        row["sector"],
                        row["sector_group"],
                        row["county"],
                        "锦州市基准测试建设有限公司",
                        row["total_investment_wan"],
                        row["completed_investment_wan"],
                        json.dumps(county_shares) if county_shares else None,
                        row["start_year"],
                        row["end_year"],
                        row["status"],
                        now,
                        0,
                        "[]",
                        1,
                        1,
                        now,
                        now,
                    )
                )
                for part in aggregates.share_parts(
                    row["county"], county_shares, row["total_investment_wan"], row["completed_investment_wan"]
                ):
                    shares.append(
                        (
                            project_id,
                            part.county,
                            part.pct,
                            part.is_managing,
                            part.total_investment_wan,
                            part.completed_investment_wan,
                        )
                    )
                for key, values in aggregates.contribution({**row, "parent_id": None}).items():
                    total = cells.get(key)
                    if total is None:
                        cells[key] = list(values)
                    else:
                        for i, value in enumerate(values):
                            total[i] += value
        with cursor.copy(f"COPY project_share ({', '.join(SHARE_COLUMNS)}) FROM STDIN") as copy:
            for share in shares:
                copy.write_row(share)
        cursor.execute("SELECT setval('project_id_seq', (SELECT MAX(id) FROM project))")
    return {key: tuple(values) for key, values in cells.items()}
