"""Who is calling: the bearer token or API key of a request, checked against the database.

A token or key is accepted only while its user is active (and the token was issued after
the last password change) or its key is not revoked. Lookups are cached for
``AUTH_CACHE_S`` (2 s by default) per process, and this process forgets them at once when
an admin changes users or keys; another replica notices within the cache time.
``last_used_at`` of a key is written at most once a minute.

When a cached lookup expires under load, one database query refreshes it: requests that
arrive while it runs wait for that query instead of each starting their own (dozens at a
time, every ``AUTH_CACHE_S``, on a busy gateway). :meth:`Identities.forget` drops queries
in flight too, so a request after an admin's change never waits for an answer read before
it, and such an answer is not kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import update
from sqlmodel import Session, col

from services.common.db import Database
from services.common.models import utcnow
from services.common.principal import ROLES
from services.gateway import accounts
from services.gateway.auth import Caller, decode_token, hash_api_key, looks_like_api_key
from services.gateway.models import ApiKey, User

log = logging.getLogger("portfolio.gateway.identity")
LAST_USED_EVERY_S = 60.0


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _epoch(moment: datetime) -> float:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class Identities:
    def __init__(self, db: Database, jwt_secret: str, cache_s: float) -> None:
        self.db = db
        self.jwt_secret = jwt_secret
        self.cache_s = cache_s
        self._users: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._keys: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._key_used: dict[int, float] = {}
        #: lookups on their way, by store and key; ``_era`` moves on with every forget()
        self._loading: dict[tuple[int, str], asyncio.Future[Any]] = {}
        self._era = 0

    def forget(self) -> None:
        self._users.clear()
        self._keys.clear()
        self._loading.clear()
        self._era += 1

    async def from_token(self, token: str) -> Caller | None:
        claims = decode_token(self.jwt_secret, token)
        if claims is None:
            return None
        user = await self._cached(self._users, claims["sub"], self._load_user)
        if user is None or not user["active"] or claims["iat"] < user["password_changed_at"]:
            return None
        return Caller(user["username"], user["role"], frozenset(user["counties"]), "user", user["id"])

    async def from_api_key(self, key: str) -> Caller | None:
        if not looks_like_api_key(key):
            return None
        row = await self._cached(self._keys, hash_api_key(key), self._load_key)
        if row is None or row["revoked"]:
            return None
        now = time.monotonic()
        if now - self._key_used.get(row["id"], 0.0) > LAST_USED_EVERY_S:
            self._key_used[row["id"]] = now
            await run_in_threadpool(self._touch_key, row["id"])
        return Caller(f"key:{row['name']}", row["role"], frozenset(row["counties"]), "api_key", row["id"])

    async def _cached(
        self, store: dict[str, tuple[float, dict[str, Any] | None]], key: str, load: Any
    ) -> Any:
        now = time.monotonic()
        hit = store.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        if self.cache_s <= 0:  # no caching: every request reads for itself
            return await run_in_threadpool(load, key)
        loading = self._loading.get((id(store), key))
        if loading is None:
            loading = asyncio.ensure_future(self._load(store, key, load, now))
            loading.add_done_callback(_retrieved)  # a failure nobody waits for any more is not "lost"
            self._loading[(id(store), key)] = loading
        # shielded: a request that gives up does not cancel the lookup the others wait for
        return await asyncio.shield(loading)

    async def _load(
        self, store: dict[str, tuple[float, dict[str, Any] | None]], key: str, load: Any, now: float
    ) -> Any:
        era = self._era
        try:
            value = await run_in_threadpool(load, key)
        finally:
            if self._era == era:
                self._loading.pop((id(store), key), None)
        if self._era == era:  # not read before a forget(): keep it
            if len(store) > 10_000:
                store.clear()
            store[key] = (now + self.cache_s, value)
        return value

    def _load_user(self, username: str) -> dict[str, Any] | None:
        with Session(self.db.reader) as session:
            user: User | None = accounts.find_user(session, username)
            if user is None or user.role not in ROLES:
                return None
            return {
                "id": user.id,
                "username": user.username,
                "role": user.role,
                "counties": list(user.counties),
                "active": user.active,
                "password_changed_at": _epoch(user.password_changed_at),
            }

    def _load_key(self, key_hash: str) -> dict[str, Any] | None:
        with Session(self.db.reader) as session:
            row: ApiKey | None = accounts.find_api_key(session, key_hash)
            if row is None or row.role not in ROLES:
                return None
            return {
                "id": row.id,
                "name": row.name,
                "role": row.role,
                "counties": list(row.counties),
                "revoked": row.revoked_at is not None,
            }

    def _touch_key(self, key_id: int) -> None:
        try:
            with Session(self.db.writer) as session:
                session.execute(update(ApiKey).where(col(ApiKey.id) == key_id).values(last_used_at=utcnow()))
                session.commit()
        except Exception as exc:  # bookkeeping only: never fail the request for it
            log.warning("could not record the use of API key %s: %s", key_id, exc)
