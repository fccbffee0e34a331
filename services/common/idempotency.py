"""``Idempotency-Key`` for creating requests.

A retry with the same key and the same body returns the first response and creates
nothing; the same key with a different body is 422. The remembered response is written in
the same transaction as the creation, so a key exists exactly when its effect does. Keys
are scoped by actor and route, so two clients cannot collide.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from services.common.errors import ValidationFailed
from services.common.i18n import Msg
from services.common.jsonio import dumps, loads
from services.common.models import IdempotencyKeyFields


def request_hash(body: Any) -> str:
    return hashlib.sha256(dumps(body)).hexdigest()


def find_replay(
    session: Session, model: type[IdempotencyKeyFields], scope: str, key: str, body_hash: str
) -> IdempotencyKeyFields | None:
    table: Any = model
    row = session.scalars(select(table).where(table.scope == scope, table.key == key)).first()
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise ValidationFailed(
            Msg(
                "这个 Idempotency-Key 已用于另一份不同的请求内容；新请求请换一个新的 Key。",
                "This Idempotency-Key was already used with a different body; use a new key for a new request.",
            )
        )
    return row  # type: ignore[no-any-return]


def remember(
    session: Session,
    model: type[IdempotencyKeyFields],
    scope: str,
    key: str,
    body_hash: str,
    status_code: int,
    body: dict[str, Any],
    headers: dict[str, str],
) -> None:
    session.add(
        model(
            scope=scope,
            key=key[:200],
            request_hash=body_hash,
            status_code=status_code,
            body=loads(dumps(body)),
            headers=headers,
        )
    )
