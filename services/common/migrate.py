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


def schema_status(service: str, engine: Engine) -> dict[str, object]:
    """Readiness detail: database reachable and migrations at head."""
    try:
        current = current_revision(engine)
    except Exception as exc:
        return {"ok": False, "detail": f"database unreachable: {type(exc).__name__}"}
    head = head_revision(service)
    return {"ok": current == head, "current": current, "head": head}
