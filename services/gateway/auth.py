"""Credentials: argon2 passwords, HS256 JWTs and API keys. No HTTP and no database here.

- Passwords are argon2id hashes. :func:`verify_password` takes the same time whether the
  user exists or not: an unknown user is checked against a dummy hash.
- Tokens are HS256 JWTs with ``sub`` (username), ``role``, ``counties``, ``exp``, ``iat`` and
  ``jti``. Only HS256 is accepted, so ``alg=none`` and other algorithms are refused; the
  claims are advisory, the user's row decides (a deactivated user's token is refused).
- API keys look like ``jzp_<prefix>_<secret>``; only their SHA-256 is stored, the prefix is
  shown to admins to tell keys apart. The key is shown once, when it is made.

Nothing here logs a password, a token or a key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.common.principal import Principal, Role

ALGORITHM = "HS256"
KEY_PREFIX = "jzp"
#: set by the test suite: argon2id at its smallest cost, outside production only
FAST_HASHES_ENV = "PORTFOLIO_TEST_FAST_HASHES"


def make_hasher(environ: Mapping[str, str] = os.environ) -> PasswordHasher:
    """argon2id with the library's defaults (RFC 9106's second recommendation: 3 passes over
    64 MiB, 4 lanes; 0.15 s a hash or a check on a 2-CPU VM). The test suite, which makes
    and logs in hundreds of users, sets ``PORTFOLIO_TEST_FAST_HASHES=1`` for the smallest
    cost (1 pass, 8 KiB, 1 lane): the same algorithm and code, a thousandth of the time.
    A production process (``PORTFOLIO_ENV=production``) ignores it. A hash names its own
    parameters, so either hasher verifies the other's hashes."""
    if environ.get(FAST_HASHES_ENV) == "1" and environ.get("PORTFOLIO_ENV") != "production":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()


_hasher = make_hasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when ``password`` matches; an unknown user (``None``) costs the same time."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def issue_token(
    secret: str, username: str, role: str, counties: list[str], expire_minutes: int
) -> IssuedToken:
    now = time.time()
    claims = {
        "sub": username,
        "role": role,
        "counties": sorted(counties),
        # to the microsecond, like password_changed_at: a token issued in the same second
        # as a password change is still told apart (before it: refused; after: valid)
        "iat": now,
        "exp": int(now) + expire_minutes * 60,
        "jti": uuid.uuid4().hex,
    }
    return IssuedToken(jwt.encode(claims, secret, algorithm=ALGORITHM), expire_minutes * 60)


def decode_token(secret: str, token: str) -> dict[str, Any] | None:
    """The claims of a valid token, or None (bad signature, expired, other algorithm …)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat", "jti"]}
        )
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims.get("sub"), str) else None


@dataclass(frozen=True)
class NewApiKey:
    key: str
    prefix: str
    key_hash: str


def new_api_key() -> NewApiKey:
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key, prefix, hash_api_key(key))


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_api_key(key: str) -> bool:
    parts = key.split("_", 2)
    return len(parts) == 3 and parts[0] == KEY_PREFIX and len(parts[1]) == 8 and len(key) < 200


def signature(secret: str, body: bytes) -> str:
    """``X-Portfolio-Signature`` of a webhook body: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who is calling the gateway: a user (by bearer token) or a system (by API key)."""

    actor: str
    role: Role
    counties: frozenset[str]
    kind: str  # "user" or "api_key"
    id: int

    def principal(self) -> Principal:
        return Principal(self.actor, self.role, self.counties)
