"""Settings of the projects service (environment variables)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class ProjectsSettings(ServiceSettings):
    database_url: str = Field("sqlite:///./.portfolio/projects.db", validation_alias="PROJECTS_DATABASE_URL")
    database_env: str = "PROJECTS_DATABASE_URL"
    #: how often the service looks for projects whose rollup cells are behind (rolling upgrades)
    cells_reconcile_interval_s: float = Field(
        30.0, gt=0, validation_alias="PROJECTS_CELLS_RECONCILE_INTERVAL_S"
    )
    #: largest accepted import file (POST /projects/import); larger uploads are 413
    import_max_bytes: int = Field(50 * 1024 * 1024, gt=0, validation_alias="PROJECTS_IMPORT_MAX_BYTES")
