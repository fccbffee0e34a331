"""Alembic, one history per service: upgrade, downgrade, and "is the schema at head?".

Each service keeps its history in ``services/<name>/migrations``; the database URL is
handed to ``env.py`` through the config's attributes, never read from alembic.ini.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from services.common.db import make_engine, normalise_url

SERVICES_DIR = Path(__file__).resolve().parent.parent


def alembic_config(service: str, database_url: str) -> Config:
    location = SERVICES_DIR / service / "migrations"
    config = Config()
    config.set_main_option("script_location", str(location))
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    config.attributes["database_url"] = normalise_url(database_url)
    return config


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    make_engine(database_url).dispose()  # creates the SQLite folder when needed
    command.upgrade(alembic_config(service, database_url), revision)


def downgrade(service: str, database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(service, database_url), revision)


@lru_cache(maxsize=8)
def head_revision(service: str) -> str | None:
    script = ScriptDirectory.from_config(alembic_config(service, "sqlite://"))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@lru_cache(maxsize=8)
def known_revisions(service: str) -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config(service, "sqlite://"))
    return frozenset(rev.revision for rev in script.walk_revisions())


def schema_status(service: str, engine: Engine) -> dict[str, object]:
    """Readiness detail: database reachable and migrations at this release's head.

    A database at a revision this release does not know was migrated by a newer release
    (a rolling upgrade: the migration Job runs before the new pods replace the old ones).
    Migrations are expand/contract (deploy/README.md), so the old release still works on it
    and stays ready. Behind head (a known older revision) or not migrated is not ready."""
    try:
        current = current_revision(engine)
    except Exception as exc:
        return {"ok": False, "detail": f"database unreachable: {type(exc).__name__}"}
    head = head_revision(service)
    if current is not None and current != head and current not in known_revisions(service):
        return {"ok": True, "current": current, "head": head, "detail": "database is ahead (newer release)"}
    return {"ok": current == head, "current": current, "head": head}
