"""The writes of an import, in bulk and in the caller's transaction.

Each project gets exactly what a single write gives it (``service.create_project`` /
``service.update_project``): the row (version 1, or version + 1 with a conditional UPDATE
on the version read), its ``project_share`` rows, one ``project_change`` audit row, its
outbox events (``project.created`` or ``project.updated`` plus ``project.status_changed``
when the status moved) and its contribution to the rollup cells (a project written by a
release without the cells is caught up first, ``aggregates.catch_up``; ``cells_version``
then equals ``version``). On PostgreSQL the rows go in with ``COPY``, on a thread of their
own while the next chunk is parsed and checked (:class:`BulkWriter`). The shapes come from the
same functions (``service.audit_values``, ``service.change_event_data``,
``aggregates.share_parts`` / ``aggregates.deltas``); only the statements differ: one
executemany per table and chunk instead of one ORM flush per project.
"""

from __future__ import annotations

import gc
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg._copy_base import TextFormatter  # psycopg's COPY encoder (pinned in constraints.txt)
from psycopg.adapt import Transformer
from sqlalchemy import JSON, String, any_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
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


def load_existing(session: Session, codes: Sequence[str], *, lock: bool) -> dict[str, dict[str, Any]]:
    """The stored projects with these codes, by code; locked for the transaction when the
    import writes (PostgreSQL; SQLite's write transaction already holds the lock)."""
    if not codes:
        return {}
    if session.get_bind().dialect.name == "postgresql":  # one array parameter: planned in no time
        matches = PROJECT.c.code == any_(bindparam("codes", list(codes), type_=ARRAY(String)))
    else:
        matches = PROJECT.c.code.in_(list(codes))
    query = select(PROJECT).where(matches)
    if lock:
        query = query.with_for_update()
    return {row["code"]: dict(row) for row in session.execute(query).mappings()}


class _BulkMode:
    """How the interpreter runs while any import runs (process-wide, so counted; the last
    import to end restores it). Measured on a 100,000-row import at 1,000,000 projects:

    - the young generation of the garbage collector is collected every 50,000 allocations
      instead of 700. An import allocates millions of small dicts that live for a chunk;
      at 700 they were promoted and scanned again and again: 7 of its 19 s of CPU. Cycles
      are still collected, less often;
    - the switch interval is 0.5 ms instead of 5 ms. The writer's thread (PostgreSQL) waits
      on the server, then needs the GIL back for a moment while this thread parses and
      checks: at 5 ms that cost 9 s (the writer took 20 s for 11 s of server time)."""

    GC_YOUNG = 50_000
    SWITCH_INTERVAL_S = 0.0005

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved_threshold = gc.get_threshold()
        self._saved_interval = sys.getswitchinterval()

    @contextmanager
    def on(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._saved_threshold = gc.get_threshold()
                self._saved_interval = sys.getswitchinterval()
                gc.set_threshold(max(self._saved_threshold[0], self.GC_YOUNG), *self._saved_threshold[1:])
                sys.setswitchinterval(min(self._saved_interval, self.SWITCH_INTERVAL_S))
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    gc.set_threshold(*self._saved_threshold)
                    sys.setswitchinterval(self._saved_interval)


BULK_MODE = _BulkMode()


class BulkWriter:
    """Writes an import chunk by chunk, in the caller's transaction.

    A chunk goes in two steps. :meth:`prepare` builds every row of it in memory (no I/O:
    the new projects' ids were reserved with :meth:`reserve_ids` when the chunk was looked
    up). :meth:`start` writes them. On PostgreSQL the writing runs on a thread of its own,
    so the server stores one chunk while this thread parses, checks and prepares the next;
    the session is then the writer's until :meth:`wait` returns, and nothing else may use
    it. On SQLite :meth:`start` writes at once. A writer's failure is raised by the next
    :meth:`wait`; :meth:`close` (always, in a ``finally``) waits for a running write, so the
    caller's rollback never races it."""

    def __init__(
        self, session: Session, principal: Principal, request_id: str | None, note: str | None
    ) -> None:
        self.session = session
        self.principal = principal
        self.request_id = request_id
        self.note = note
        self.copy = session.get_bind().dialect.name == "postgresql"
        self.deltas: list[dict[aggregates.CellKey, tuple[int, ...]]] = []
        self._next_id = 0  # SQLite: the first id not yet reserved
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="import-writer") if self.copy else None
        self._running: Future[None] | None = None

    def reserve_ids(self, count: int) -> list[int]:
        """Ids for ``count`` new projects: PostgreSQL's sequence of the table; on SQLite
        (one writer, which holds the write lock for the whole import) the next integers
        after the largest id stored or reserved."""
        if count <= 0:
            return []
        if self.copy:
            return list(self.session.execute(NEXT_IDS, {"n": count}).scalars())
        stored = self.session.execute(select(func.max(PROJECT.c.id))).scalar() or 0
        first = max(stored + 1, self._next_id)
        self._next_id = first + count
        return list(range(first, first + count))

    def prepare(
        self,
        creates: list[dict[str, Any]],
        updates: list[tuple[dict[str, Any], dict[str, Any]]],
        ids: Sequence[int],
    ) -> _Batch:
        """Every row the chunk writes, built in memory (no I/O)."""
        now = utcnow()
        batch = _Batch()
        if creates:
            self._create(creates, ids, now, batch)
        if updates:
            self._update(updates, now, batch)
        self.deltas.append(aggregates.merge(batch.deltas))
        if self.copy:
            batch.encode()
        return batch

    def start(self, batch: _Batch) -> None:
        """Write ``batch``: on the writer's thread (PostgreSQL), or now (SQLite)."""
        self.wait()
        if self._executor is None:
            self._write(batch)
        else:
            self._running = self._executor.submit(self._write, batch)

    def wait(self) -> None:
        """Until the running write is done; raises its error."""
        running, self._running = self._running, None
        if running is not None:
            running.result()

    def close(self) -> None:
        """Wait for a running write without raising (the caller is ending the import)."""
        running, self._running = self._running, None
        if running is not None:
            wait_for([running])
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def finish(self) -> None:
        """The rollup cells' deltas of the whole import, in one statement before the commit
        (the cells are exact at every commit, and locked only for that moment)."""
        self.wait()
        aggregates.apply_deltas(self.session, aggregates.merge(self.deltas))
        self.deltas = []

    def _write(self, batch: _Batch) -> None:
        for project_id, cells_version, before in batch.catch_ups:  # written by a release without the cells
            aggregates.catch_up(self.session, project_id, cells_version, before)
        self._insert(PROJECT, batch.payload(PROJECT))
        if batch.updates:
            result: Any = self.session.execute(batch.update_statement, batch.updates)
            if self.session.get_bind().dialect.supports_sane_multi_rowcount and result.rowcount != len(
                batch.updates
            ):
                raise Conflict(
                    Msg(
                        "导入期间有项目被他人修改，已全部撤销，请重新导入。",
                        "Projects changed while the import ran; nothing was written. Import again.",
                    )
                )
            updated = [params["b_id"] for params in batch.updates]
            self.session.execute(delete(SHARE).where(SHARE.c.project_id.in_(updated)))
        for table in (SHARE, CHANGE, OUTBOX):
            self._insert(table, batch.payload(table))

    def _insert(self, table: Any, rows: list[dict[str, Any]] | _Copy) -> None:
        """``INSERT`` the rows (executemany), or ``COPY`` them (PostgreSQL: ``prepare``
        encoded them), which costs the server and the driver a fraction of one statement
        per row."""
        if isinstance(rows, _Copy):
            if rows.rows:
                raw: Any = self.session.connection().connection.dbapi_connection  # psycopg, our transaction
                with raw.cursor() as cursor, cursor.copy(rows.statement) as copy:
                    copy.write(rows.data)
        elif rows:
            self.session.execute(insert(table), rows)

    def _create(
        self, creates: list[dict[str, Any]], ids: Sequence[int], now: datetime, batch: _Batch
    ) -> None:
        stamps = {"created_at": now, "updated_at": now, "status_changed_at": now}
        for values, project_id in zip(creates, ids, strict=True):
            row = {
                **CREATE_DEFAULTS,
                **values,
                **stamps,
                "cells_version": values["version"],
                "id": project_id,
            }
            batch.projects.append(row)
            self._record(batch, "create", "project.created", None, snapshot_of(row), now)

    def _update(
        self, updates: list[tuple[dict[str, Any], dict[str, Any]]], now: datetime, batch: _Batch
    ) -> None:
        fixed = {"version", "cells_version", "updated_at"}
        columns = sorted({key for _current, values in updates for key in values} | fixed)
        batch.update_statement = (
            update(PROJECT)
            .where(PROJECT.c.id == bindparam("b_id"), PROJECT.c.version == bindparam("b_version"))
            .values({name: bindparam(f"v_{name}") for name in columns})
        )
        for current, values in updates:
            version = current["version"] + 1
            state = {**current, **values, "version": version, "cells_version": version, "updated_at": now}
            batch.updates.append(
                {
                    "b_id": current["id"],
                    "b_version": current["version"],
                    **{f"v_{c}": state[c] for c in columns},
                }
            )
            before, after = snapshot_of(current), snapshot_of(state)
            if current["cells_version"] != current["version"]:
                batch.catch_ups.append((current["id"], current["cells_version"], before))
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
        parts = aggregates.state_parts(after)
        for part in parts:
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
        batch.deltas.append(aggregates.deltas(live_before, {**after, "deleted_at": None}, parts))

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


@dataclass
class _Copy:
    """Rows as the data of a ``COPY … FROM STDIN`` (PostgreSQL's text format)."""

    statement: str
    data: bytes
    rows: int


def encode_copy(table: Any, rows: list[dict[str, Any]]) -> _Copy:
    """``rows`` (dicts with the same keys) encoded for ``COPY``, by psycopg's own formatter.
    JSON values are written as the JSON type writes them (``None`` is JSON ``null``, as in
    single writes)."""
    columns = list(rows[0]) if rows else []
    is_json = [isinstance(table.c[name].type, JSON) for name in columns]
    formatter = TextFormatter(Transformer())
    data = bytearray()
    for row in rows:
        values = [row[name] for name in columns]
        data += formatter.write_row(
            [dumps(v).decode() if j else v for v, j in zip(values, is_json, strict=True)]
        )
    data += formatter.end()
    return _Copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN", bytes(data), len(rows))


class _Batch:
    """The rows of one chunk, ready to write."""

    def __init__(self) -> None:
        self.projects: list[dict[str, Any]] = []
        self.update_statement: Any = None
        self.updates: list[dict[str, Any]] = []
        self.catch_ups: list[tuple[int, int | None, dict[str, Any]]] = []
        self.shares: list[dict[str, Any]] = []
        self.audits: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.deltas: list[dict[aggregates.CellKey, tuple[int, ...]]] = []
        self.encoded: dict[str, _Copy] = {}

    def encode(self) -> None:
        """The inserted rows as ``COPY`` data: built by the thread that prepares, so the
        writer's thread only sends them."""
        for table, rows in self.inserts():
            self.encoded[table.name] = encode_copy(table, rows)

    def inserts(self) -> tuple[tuple[Any, list[dict[str, Any]]], ...]:
        return ((PROJECT, self.projects), (SHARE, self.shares), (CHANGE, self.audits), (OUTBOX, self.events))

    def payload(self, table: Any) -> list[dict[str, Any]] | _Copy:
        """What :meth:`BulkWriter._insert` writes to ``table``: its COPY data once encoded."""
        return self.encoded.get(table.name) or dict(self.inserts())[table]
