"""The writes of an import, in bulk and in the caller's transaction.

Each project gets exactly what a single write gives it (``service.create_project`` /
``service.update_project``): the row (version 1, or version + 1 with a conditional UPDATE
on the version read), its ``project_share`` rows, one ``project_change`` audit row, its
outbox events (``project.created`` or ``project.updated`` plus ``project.status_changed``
when the status moved) and its contribution to the rollup cells (a project written by a
release without the cells is caught up first, ``aggregates.catch_up``; ``cells_version``
then equals ``version``). On PostgreSQL the rows go in with ``COPY``. The shapes come from the
same functions (``service.audit_values``, ``service.change_event_data``,
``aggregates.share_parts`` / ``aggregates.deltas``); only the statements differ: one
executemany per table and chunk instead of one ORM flush per project.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, delete, insert, select, text, update
from sqlmodel import Session

from services.common.errors import Conflict
from services.common.i18n import Msg
from services.common.jsonio import dumps
from services.common.models import utcnow
from services.common.principal import Principal
from services.projects import aggregates, service
from services.projects.models import OutboxEvent, Project, ProjectChange, ProjectShare, snapshot

PROJECT: Any = Project.__table__  # type: ignore[attr-defined]
SHARE: Any = ProjectShare.__table__  # type: ignore[attr-defined]
CHANGE: Any = ProjectChange.__table__  # type: ignore[attr-defined]
OUTBOX: Any = OutboxEvent.__table__  # type: ignore[attr-defined]

#: the keys of ``models.snapshot`` (what audit rows hold), taken from the function itself
SNAPSHOT_KEYS: tuple[str, ...] = tuple(
    snapshot(Project(code="", name="", sector="", sector_group="", county="", start_year=0, end_year=0))
)
#: columns of a new project that POST leaves to their defaults
CREATE_DEFAULTS: dict[str, Any] = {
    "parent_id": None,
    "physical_progress_pct": 0,
    "last_report_period": None,
    "deleted_at": None,
}


NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence('project', 'id')) FROM generate_series(1, :n)")


def snapshot_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """``models.snapshot`` of a project held as a row mapping."""
    return {key: values[key] for key in SNAPSHOT_KEYS}


def prepare_session(session: Session) -> None:
    """Plan each lookup for its own codes (PostgreSQL, this transaction only). The driver
    prepares a statement run five times, and the server may then keep a generic plan in
    which ``code IN ($1 … $1000)`` is no constant list: every row is compared with every
    code (a 100,000-row import went from half a minute to four)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def load_existing(session: Session, codes: Sequence[str], *, lock: bool) -> dict[str, dict[str, Any]]:
    """The stored projects with these codes, by code; locked for the transaction when the
    import writes (PostgreSQL; SQLite's write transaction already holds the lock)."""
    if not codes:
        return {}
    query = select(PROJECT).where(PROJECT.c.code.in_(list(codes)))
    if lock:
        query = query.with_for_update()
    return {row["code"]: dict(row) for row in session.execute(query).mappings()}


class BulkWriter:
    def __init__(
        self, session: Session, principal: Principal, request_id: str | None, note: str | None
    ) -> None:
        self.session = session
        self.principal = principal
        self.request_id = request_id
        self.note = note
        self.copy = session.get_bind().dialect.name == "postgresql"
        self.deltas: list[dict[aggregates.CellKey, tuple[int, ...]]] = []

    def write(
        self, creates: list[dict[str, Any]], updates: list[tuple[dict[str, Any], dict[str, Any]]]
    ) -> None:
        now = utcnow()
        batch = _Batch()
        if creates:
            self._create(creates, now, batch)
        if updates:
            self._update(updates, now, batch)
        for table, rows in ((SHARE, batch.shares), (CHANGE, batch.audits), (OUTBOX, batch.events)):
            self._insert(table, rows)
        self.deltas.append(aggregates.merge(batch.deltas))

    def finish(self) -> None:
        """The rollup cells' deltas of the whole import, in one statement before the commit
        (the cells are exact at every commit, and locked only for that moment)."""
        aggregates.apply_deltas(self.session, aggregates.merge(self.deltas))
        self.deltas = []

    def _insert(self, table: Any, rows: list[dict[str, Any]]) -> None:
        """``INSERT`` the rows (executemany); on PostgreSQL ``COPY`` them, which costs the
        server and the driver a fraction of one statement per row. JSON values are written
        as the JSON type writes them (``None`` is JSON ``null``, as in single writes)."""
        if not rows:
            return
        if not self.copy:
            self.session.execute(insert(table), rows)
            return
        columns = list(rows[0])
        is_json = [isinstance(table.c[name].type, JSON) for name in columns]
        raw: Any = self.session.connection().connection.dbapi_connection  # psycopg, in our transaction
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                values = [row[name] for name in columns]
                copy.write_row([dumps(v).decode() if j else v for v, j in zip(values, is_json, strict=True)])

    def _create(self, creates: list[dict[str, Any]], now: datetime, batch: _Batch) -> None:
        stamps = {"created_at": now, "updated_at": now, "status_changed_at": now}
        rows = [
            {**CREATE_DEFAULTS, **values, **stamps, "cells_version": values["version"]} for values in creates
        ]
        if self.copy:  # the ids first, from the table's own sequence, then COPY with them
            ids = self.session.execute(NEXT_IDS, {"n": len(rows)}).scalars().all()
            rows = [{**row, "id": project_id} for row, project_id in zip(rows, ids, strict=True)]
            self._insert(PROJECT, rows)
        else:  # executemany, then the ids by code (faster than INSERT … RETURNING of many rows)
            self._insert(PROJECT, rows)
            codes = [row["code"] for row in rows]
            found = self.session.execute(
                select(PROJECT.c.code, PROJECT.c.id).where(PROJECT.c.code.in_(codes))
            )
            ids_by_code = dict(found.tuples().all())
            rows = [{**row, "id": ids_by_code[row["code"]]} for row in rows]
        for row in rows:
            self._record(batch, "create", "project.created", None, snapshot_of(row), now)

    def _update(
        self, updates: list[tuple[dict[str, Any], dict[str, Any]]], now: datetime, batch: _Batch
    ) -> None:
        fixed = {"version", "cells_version", "updated_at"}
        columns = sorted({key for _current, values in updates for key in values} | fixed)
        statement = (
            update(PROJECT)
            .where(PROJECT.c.id == bindparam("b_id"), PROJECT.c.version == bindparam("b_version"))
            .values({name: bindparam(f"v_{name}") for name in columns})
        )
        states = []
        for current, values in updates:
            version = current["version"] + 1
            states.append(
                (
                    current,
                    {**current, **values, "version": version, "cells_version": version, "updated_at": now},
                )
            )
        params = [
            {"b_id": current["id"], "b_version": current["version"], **{f"v_{c}": state[c] for c in columns}}
            for current, state in states
        ]
        result: Any = self.session.execute(statement, params)
        if self.session.get_bind().dialect.supports_sane_multi_rowcount and result.rowcount != len(params):
            raise Conflict(
                Msg(
                    "导入期间有项目被他人修改，已全部撤销，请重新导入。",
                    "Projects changed while the import ran; nothing was written. Import again.",
                )
            )
        self.session.execute(delete(SHARE).where(SHARE.c.project_id.in_([c["id"] for c, _ in states])))
        for current, state in states:
            before, after = snapshot_of(current), snapshot_of(state)
            if current["cells_version"] != current["version"]:  # written by a release without the cells
                aggregates.catch_up(self.session, current["id"], current["cells_version"], before)
            self._record(batch, "update", "project.updated", before, after, now)
            if before["status"] != after["status"]:
                data = service.status_event_data(before["status"], after["status"], after["county"])
                batch.events.append(self._event("project.status_changed", after, data, now))

    def _record(
        self,
        batch: _Batch,
        kind: str,
        event_type: str,
        before: dict[str, Any] | None,
        after: dict[str, Any],
        now: datetime,
    ) -> None:
        project_id = after["id"]
        for part in aggregates.share_parts(
            after["county"],
            after["county_shares"],
            after["total_investment_wan"],
            after["completed_investment_wan"],
        ):
            batch.shares.append(
                {
                    "project_id": project_id,
                    "county": part.county,
                    "pct": part.pct,
                    "is_managing": part.is_managing,
                    "total_investment_wan": part.total_investment_wan,
                    "completed_investment_wan": part.completed_investment_wan,
                }
            )
        audit = service.audit_values(
            project_id, kind, before, after, self.principal, note=self.note, request_id=self.request_id
        )
        batch.audits.append({**audit, "at": now})
        batch.events.append(self._event(event_type, after, service.change_event_data(before, after), now))
        live_before = {**before, "deleted_at": None} if before else None
        batch.deltas.append(aggregates.deltas(live_before, {**after, "deleted_at": None}))

    def _event(
        self, event_type: str, after: dict[str, Any], data: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        """An outbox row as ``outbox.record_event`` makes it."""
        return {
            "event_id": str(uuid.uuid4()),
            "type": event_type,
            "entity_id": str(after["id"]),
            "version": after["version"],
            "actor": self.principal.actor,
            "occurred_at": now,
            "data": data,
            "published_at": None,
        }


class _Batch:
    def __init__(self) -> None:
        self.shares: list[dict[str, Any]] = []
        self.audits: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.deltas: list[dict[aggregates.CellKey, tuple[int, ...]]] = []
