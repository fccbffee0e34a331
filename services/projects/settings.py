"""Settings of the projects service (environment variables)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class ProjectsSettings(ServiceSettings):
    database_url: str = Field("sqlite:///./.portfolio/projects.db", validation_alias="PROJECTS_DATABASE_URL")
    database_env: str = "PROJECTS_DATABASE_URL"
