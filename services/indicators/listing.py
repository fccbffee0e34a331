"""Reading the library in bulk: filtered, paged lists and summaries by progress status.

- Filters: ``category``, ``scope``, ``target_kind``, ``code`` (each comma separated, any of)
  and ``q`` (name, English name or code contains, case-insensitive); ``status`` is the
  computed progress status, so filtering by it computes progress for the whole filtered set
  first (hundreds of rows: fine at this scale).
- Pages are in id order; the cursor is the last id, so a page never repeats or skips a row
  when indicators are added meanwhile; ``total`` counts the whole filtered set.
- Summaries count indicators by progress status per ``scope``, ``category`` or
  ``target_kind``; the rows sum to the totals.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from services.common.errors import FieldError, ValidationFailed
from services.common.i18n import Msg
from services.indicators import reference
from services.indicators.models import Indicator
from services.indicators.progress import Progress
from services.indicators.service import ident, with_progress


@dataclass
class IndicatorFilters:
    category: list[str] = field(default_factory=list)
    scope: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    target_kind: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    q: str | None = None

    def validate(self) -> None:
        errors: list[FieldError] = []
        for name, allowed in (
            ("scope", reference.SCOPE_CODES),
            ("status", frozenset(reference.PROGRESS_STATUSES)),
            ("target_kind", frozenset(reference.TARGET_KIND_CODES)),
        ):
            for value in getattr(self, name):
                if value not in allowed:
                    listed = ", ".join(sorted(allowed))
                    errors.append(
                        FieldError(
                            ["query", name],
                            Msg(f"“{value}”不存在，可选：{listed}", f"Unknown '{value}'; allowed: {listed}"),
                        )
                    )
        if errors:
            raise ValidationFailed(Msg("筛选条件有误。", "Invalid filter."), errors=errors)

    def clauses(self) -> list[Any]:
        clauses: list[Any] = []
        for name in ("category", "scope", "target_kind", "code"):
            if getattr(self, name):
                clauses.append(getattr(Indicator, name).in_(getattr(self, name)))
        if self.q:
            pattern = "%" + self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            columns = (col(Indicator.name), col(Indicator.name_en), col(Indicator.code))
            clauses.append(or_(*(column.ilike(pattern, escape="\\") for column in columns)))
        return clauses


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(["id", last_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        key, last_id = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise _bad_cursor() from exc
    if key != "id" or not isinstance(last_id, int) or isinstance(last_id, bool):
        raise _bad_cursor()
    return last_id


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed(
        Msg("分页游标无效，请从第一页重新开始。", "The cursor is invalid; start from the first page."),
        errors=[FieldError(["query", "cursor"], Msg("无效的游标", "invalid cursor"))],
    )


def list_indicators(
    session: Session, filters: IndicatorFilters, *, limit: int, cursor: str | None
) -> tuple[list[tuple[Indicator, Progress]], str | None, int]:
    """One page in id order, each indicator with its progress. The cursor is the last id,
    so pages stay correct when indicators are added meanwhile. Filtering by the computed
    ``status`` computes progress for the whole filtered set first (hundreds of rows)."""
    filters.validate()
    clauses = filters.clauses()
    after = _decode_cursor(cursor) if cursor else None
    if filters.status:
        everything = list(session.scalars(select(Indicator).where(*clauses).order_by(col(Indicator.id))))
        matching = [pair for pair in with_progress(session, everything) if pair[1].status in filters.status]
        total = len(matching)
        page = [pair for pair in matching if after is None or ident(pair[0]) > after][: limit + 1]
    else:
        total = session.scalar(select(func.count()).select_from(Indicator).where(*clauses)) or 0
        query = select(Indicator).where(*clauses)
        if after is not None:
            query = query.where(col(Indicator.id) > after)
        page = with_progress(
            session, list(session.scalars(query.order_by(col(Indicator.id)).limit(limit + 1)))
        )
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        next_cursor = _encode_cursor(ident(page[-1][0]))
    return page, next_cursor, total


SUMMARY_DIMENSIONS = ("scope", "category", "target_kind")


def parse_by(by: str) -> str:
    if by not in SUMMARY_DIMENSIONS:
        listed = ", ".join(SUMMARY_DIMENSIONS)
        raise ValidationFailed(
            Msg(f"不能按“{by}”汇总，可选：{listed}", f"Cannot summarise by '{by}'; allowed: {listed}"),
            errors=[FieldError(["query", "by"], Msg(f"可选：{listed}", f"allowed: {listed}"))],
        )
    return by


def summary(session: Session, by: str, filters: IndicatorFilters) -> dict[str, Any]:
    """Indicators counted by progress status, one row per value of ``by``; the rows sum to
    the totals. Rows by scope come in reference order (city first), others by name."""
    filters.validate()
    indicators = list(
        session.scalars(select(Indicator).where(*filters.clauses()).order_by(col(Indicator.id)))
    )
    groups: dict[str, Counter[str]] = {}
    for indicator, progress in with_progress(session, indicators):
        if not filters.status or progress.status in filters.status:
            groups.setdefault(getattr(indicator, by), Counter())[progress.status] += 1
    order = {code: n for n, code in enumerate(reference.SCOPE_ORDER)} if by == "scope" else {}
    keys = sorted(groups, key=lambda key: (order.get(key, len(order)), key))
    rows = [{by: key, **_counts(groups[key])} for key in keys]
    return {"by": [by], "rows": rows, "totals": _counts(sum(groups.values(), Counter()))}


def _counts(counter: Counter[str]) -> dict[str, Any]:
    return {
        "indicator_count": sum(counter.values()),
        "status_counts": {status: counter.get(status, 0) for status in reference.PROGRESS_STATUSES},
    }


def categories(session: Session) -> list[tuple[str, int]]:
    category = col(Indicator.category)
    query = select(category, func.count()).group_by(category).order_by(category)
    return [(category, count) for category, count in session.execute(query).all()]
