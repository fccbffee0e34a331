"""Who is calling: the principal a service acts for.

The gateway authenticates people and systems and passes the result to the services in
trusted headers (only accepted together with the internal token): ``X-Actor`` (username or
``key:<name>``), ``X-Actor-Role`` and ``X-Actor-Counties`` (comma separated). The services
use it to record who did what and to apply county scope in their rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["viewer", "manager", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "manager", "admin")


@dataclass(frozen=True)
class Principal:
    actor: str
    role: Role
    counties: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_write_county(self, county: str) -> bool:
        return self.role == "admin" or (self.role == "manager" and county in self.counties)

    def headers(self) -> dict[str, str]:
        return {
            "X-Actor": self.actor,
            "X-Actor-Role": self.role,
            "X-Actor-Counties": ",".join(sorted(self.counties)),
        }


SYSTEM = Principal("system", "admin")


def principal_from_headers(actor: str | None, role: str | None, counties: str | None) -> Principal:
    """Read the trusted headers; a call without them acts as the internal ``system`` admin."""
    if not actor:
        return SYSTEM
    safe_role: Role = role if role in ROLES else "viewer"  # type: ignore[assignment]
    scope = frozenset(c.strip() for c in (counties or "").split(",") if c.strip())
    return Principal(actor=actor[:200], role=safe_role, counties=scope)
