"""Settings of the gateway (environment variables).

JWT secret: production requires ``JWT_SECRET`` (at least 32 characters). Outside production
an unset secret is generated once and kept in the data directory (``PORTFOLIO_DATA_DIR``, or
the folder of the SQLite database, or ``./.portfolio``) in ``jwt-secret`` (mode 0600, the
same file ``portfolio up`` uses), so a restart keeps issued tokens valid.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from sqlalchemy.engine import make_url

from services.common.db import is_sqlite, normalise_url
from services.common.settings import ServiceSettings

JWT_SECRET_FILE = "jwt-secret"
MIN_JWT_SECRET_LENGTH = 32


class GatewaySettings(ServiceSettings):
    database_url: str = Field("sqlite:///./.portfolio/gateway.db", validation_alias="GATEWAY_DATABASE_URL")
    database_env: str = "GATEWAY_DATABASE_URL"
    data_dir: str | None = Field(None, validation_alias="PORTFOLIO_DATA_DIR")

    projects_url: str = Field("http://127.0.0.1:8001", validation_alias="PROJECTS_URL")
    indicators_url: str = Field("http://127.0.0.1:8002", validation_alias="INDICATORS_URL")
    upstream_timeout_s: float = Field(10.0, gt=0, validation_alias="UPSTREAM_TIMEOUT_S")
    upstream_connect_timeout_s: float = Field(2.0, gt=0, validation_alias="UPSTREAM_CONNECT_TIMEOUT_S")
    #: a bulk import (100,000 rows) takes far longer than any other call
    import_timeout_s: float = Field(300.0, gt=0, validation_alias="UPSTREAM_IMPORT_TIMEOUT_S")

    jwt_secret: SecretStr | None = Field(None, validation_alias="JWT_SECRET")
    jwt_expire_minutes: int = Field(60, ge=1, validation_alias="JWT_EXPIRE_MINUTES")
    #: how long a user or API key looked up for a request is reused (deactivation and
    #: revocation reach other replicas within this time; this replica clears it at once)
    auth_cache_s: float = Field(2.0, ge=0, validation_alias="AUTH_CACHE_S")

    rate_limit_per_minute: int = Field(600, ge=0, validation_alias="RATE_LIMIT_PER_MINUTE")
    login_rate_limit_per_minute: int = Field(10, ge=0, validation_alias="LOGIN_RATE_LIMIT_PER_MINUTE")

    admin_password: SecretStr | None = Field(None, validation_alias="PORTFOLIO_ADMIN_PASSWORD")
    #: largest request body (413 above it); uploads (multipart) have their own, larger limit
    max_body_bytes: int = Field(1024 * 1024, ge=1, validation_alias="GATEWAY_MAX_BODY_BYTES")
    max_upload_bytes: int = Field(
        50 * 1024 * 1024 + 64 * 1024, ge=1, validation_alias="GATEWAY_MAX_UPLOAD_BYTES"
    )
    #: comma separated origins allowed by CORS; empty (the default) allows none
    cors_origins: str = Field("", validation_alias="CORS_ORIGINS")

    cache_ttl_s: int = Field(300, ge=1, validation_alias="CACHE_TTL_S")
    reference_cache_ttl_s: int = Field(3600, ge=1, validation_alias="REFERENCE_CACHE_TTL_S")
    #: answer cache hits of the cached reads before the routes (services.gateway.fastpath);
    #: off, every request goes through its route as before
    fast_cached_reads: bool = Field(True, validation_alias="GATEWAY_FAST_CACHED_READS")

    webhook_timeout_s: float = Field(5.0, gt=0, validation_alias="WEBHOOK_TIMEOUT_S")
    webhook_retry_base_s: float = Field(2.0, gt=0, validation_alias="WEBHOOK_RETRY_BASE_S")
    webhook_max_attempts: int = Field(8, ge=1, validation_alias="WEBHOOK_MAX_ATTEMPTS")
    webhook_concurrency: int = Field(20, ge=1, validation_alias="WEBHOOK_CONCURRENCY")
    #: deliveries on their way to one webhook at a time: a receiver that hangs holds no more
    webhook_concurrency_per_receiver: int = Field(
        4, ge=1, validation_alias="WEBHOOK_CONCURRENCY_PER_RECEIVER"
    )
    consumer_name: str | None = Field(None, validation_alias="GATEWAY_CONSUMER_NAME")

    def missing_for_production(self) -> list[str]:
        missing = super().missing_for_production()
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if len(secret) < MIN_JWT_SECRET_LENGTH:
            missing.append(f"JWT_SECRET (at least {MIN_JWT_SECRET_LENGTH} characters)")
        return missing

    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    def secrets_dir(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir)
        url = normalise_url(self.database_url)
        if is_sqlite(url):
            database = make_url(url).database
            if database and database != ":memory:":
                return Path(database).resolve().parent
        return Path(".portfolio")

    def resolved_jwt_secret(self) -> str:
        """The signing key: ``JWT_SECRET``, or (never in production) the one kept in the data dir."""
        if self.jwt_secret and self.jwt_secret.get_secret_value():
            return self.jwt_secret.get_secret_value()
        self.check_production()
        path = self.secrets_dir() / JWT_SECRET_FILE
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value
