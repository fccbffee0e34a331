"""Settings shared by every process, read from environment variables (pydantic-settings).

Each service subclasses :class:`ServiceSettings` and adds its own fields with explicit
environment names (``PROJECTS_DATABASE_URL`` …). Shared variables keep their plain names
(``REDIS_URL``, ``INTERNAL_TOKEN``, ``PORTFOLIO_ENV``).

Production mode (``PORTFOLIO_ENV=production``) refuses defaults that are only safe on one
machine: :meth:`ServiceSettings.check_production` names every missing setting in one line.
It also logs JSON lines (with request ids) unless ``PORTFOLIO_LOG_JSON=false`` says otherwise.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_INTERNAL_TOKEN = "embedded-internal-token"  # only ever used outside production


class ConfigurationError(RuntimeError):
    """A setting is missing or unsafe; the message is one line naming what to set."""


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    env: Literal["embedded", "development", "production", "test"] = Field(
        "embedded", validation_alias="PORTFOLIO_ENV"
    )
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    internal_token: str = Field(EMBEDDED_INTERNAL_TOKEN, validation_alias="INTERNAL_TOKEN")
    log_json: bool = Field(False, validation_alias="PORTFOLIO_LOG_JSON")
    relay_interval_s: float = Field(0.5, validation_alias="OUTBOX_RELAY_INTERVAL_S")
    database_url: str = "sqlite:///./.portfolio/service.db"

    #: environment variable that names this service's database (for error messages)
    database_env: str = "DATABASE_URL"

    @model_validator(mode="after")
    def _json_logs_in_production(self) -> Self:
        if self.env == "production" and "log_json" not in self.model_fields_set:
            self.log_json = True
        return self

    def uses_postgresql(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgresql+", "postgres://"))

    def missing_for_production(self) -> list[str]:
        missing: list[str] = []
        if self.internal_token in ("", EMBEDDED_INTERNAL_TOKEN):
            missing.append("INTERNAL_TOKEN")
        if not self.uses_postgresql():
            missing.append(f"{self.database_env} (a postgresql:// URL)")
        if not self.redis_url:
            missing.append("REDIS_URL")
        return missing

    def check_production(self) -> None:
        if self.env != "production":
            return
        missing = self.missing_for_production()
        if missing:
            raise ConfigurationError("production mode needs: " + ", ".join(missing))

    def check_production_database(self) -> None:
        """What ``portfolio migrate`` needs in production: this service's PostgreSQL URL only."""
        if self.env == "production" and not self.uses_postgresql():
            raise ConfigurationError(f"production mode needs: {self.database_env} (a postgresql:// URL)")
