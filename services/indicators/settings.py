"""Settings of the indicators service (environment variables)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class IndicatorsSettings(ServiceSettings):
    database_url: str = Field(
        "sqlite:///./.portfolio/indicators.db", validation_alias="INDICATORS_DATABASE_URL"
    )
    database_env: str = "INDICATORS_DATABASE_URL"
