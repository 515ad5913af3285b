"""The one settings object: every knob of codedrop, read from `CODEDROP_*` variables or `.env`.

Defaults run everything embedded (SQLite file, in-process events and rate limits, a local
folder for object storage, no bots). Production sets the database URL, Redis, S3 and tokens.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    SettingsConfigDict,
)

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev-secret-change-me"}
DEV_SECRET = "dev-secret-change-me"  # noqa: S105 (refused outside development)


class Settings(BaseSettings):
    """codedrop configuration (environment prefix `CODEDROP_`)."""

    model_config = SettingsConfigDict(
        env_prefix="CODEDROP_",
        # CODEDROP_ENV_FILE picks another file; empty reads none (the tests set that so a
        # developer's own .env cannot leak into them)
        env_file=os.environ.get("CODEDROP_ENV_FILE", ".env") or None,
        env_file_encoding="utf-8",
        extra="ignore",
        # `CODEDROP_DISCORD_GUILD_ID=` (an empty line of .env.example) means "not set"
        env_ignore_empty=True,
    )

    environment: Literal["development", "test", "production"] = Field(
        "development", description="development, test or production"
    )
    secret_key: SecretStr = Field(
        SecretStr(DEV_SECRET),
        description="signs cookies and link tokens; must be set outside development",
    )
    database_url: str = Field(
        "sqlite://codedrop.sqlite3",
        description="sqlite://PATH (default) or mysql://user:pass@host:3306/db; several hosts"
        " (host1:3306,host2:3306) are tried in order",
    )
    database_read_url: str | None = Field(
        None,
        description="mysql://… of a replica for analytics, listings, exports and reports"
        " (unset: they read the primary)",
    )
    database_host_backoff: float = Field(
        1.0,
        gt=0,
        le=60,
        description="MariaDB with several hosts: seconds a failed host is skipped (doubling, at"
        " most 30 s)",
    )
    database_pool_size: int = Field(4, ge=1, le=200, description="MariaDB connections per process")
    database_timeout: float = Field(
        5.0,
        gt=0,
        le=600,
        description="MariaDB: seconds one statement or transaction (pool wait included) may take",
    )
    redis_url: str | None = Field(None, description="redis://host:6379/0 (rate limits, events)")
    public_url: str = Field("http://127.0.0.1:8000", description="base URL used in shared links")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR")
    log_format: Literal["text", "json"] = Field(
        "text", description="text, or json: one JSON object a line (with the request id)"
    )
    access_log: bool = Field(True, description="one log line per HTTP request (no query string)")

    # object storage
    storage_dir: Path = Field(Path("data/objects"), description="local folder for object storage")
    s3_bucket: str | None = Field(None, description="S3 bucket; set to use S3 instead of a folder")
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, R2)")
    s3_region: str = Field("us-east-1", description="S3 region")
    s3_access_key_id: str | None = Field(None, description="S3 access key id")
    s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret access key")

    # uploads
    upload_max_codes: int = Field(100_000, ge=1, description="most codes in one upload")
    upload_max_bytes: int = Field(16 * 1024 * 1024, ge=1, description="largest upload file")
    upload_batch_size: int = Field(1_000, ge=1, le=10_000, description="rows per INSERT")

    # HTTP edge: what a request may cost before any route reads it (api/edge.py)
    http_max_body_bytes: int = Field(
        256 * 1024,
        ge=1024,
        description="largest request body of JSON calls and forms (uploads have their own)",
    )
    http_max_claim_body_bytes: int = Field(
        4096, ge=256, description="largest body of a claim (API, claim page, waitlist)"
    )
    http_max_headers: int = Field(100, ge=10, description="most request headers (else 431)")
    http_max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="most bytes of all request headers together (else 431)"
    )
    http_head_timeout: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="seconds a client may take to send its request line and headers (else 408)",
    )
    http_body_timeout: float = Field(
        30.0, gt=0, le=3600, description="seconds a client may pause inside its body (else 408)"
    )
    http_keep_alive_timeout: int = Field(
        5, ge=1, le=300, description="seconds an idle keep-alive connection stays open"
    )

    # rate limits (the `limits` library's notation, e.g. "100/minute")
    rate_limit_enabled: bool = Field(True, description="false turns every rate limit off")
    rate_limit_distribute_ip: str = Field("100/minute", description="public claims per IP")
    rate_limit_distribute_claimant: str = Field("100/minute", description="claims per claimant")
    rate_limit_distribute_key: str = Field("10000/minute", description="claims per API key")
    rate_limit_upload: str = Field("10/minute", description="uploads per developer")
    rate_limit_analytics: str = Field("60/minute", description="analytics reads per developer")
    rate_limit_api: str = Field("600/minute", description="other developer calls per key")
    rate_limit_web_signin: str = Field(
        "20/minute", description="dashboard and claim-page sign-ins per IP"
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="proxy IPs whose X-Forwarded-For is believed"
    )
    country_header: str | None = Field(
        None,
        description="header a trusted proxy sets to the client's country (e.g. CF-IPCountry);"
        " makes allowed_countries checkable on the web",
    )

    # bots
    registration: Literal["open", "closed"] | None = Field(
        None,
        description=(
            "open: /register in the bots creates developer accounts; closed: only the operator"
            " does (`codedrop developers create`, link tokens). Default: open in development"
        ),
    )
    telegram_bot_token: SecretStr | None = Field(None, description="enables the Telegram bot")
    telegram_api_url: str | None = Field(None, description="self-hosted Bot API server base URL")
    telegram_webhook_url: str | None = Field(None, description="webhook mode when set")
    telegram_webhook_secret: SecretStr | None = Field(None, description="webhook secret token")
    telegram_bot_username: str | None = Field(
        None, description="the bot's @username, for t.me deep links on the dashboard"
    )
    discord_bot_token: SecretStr | None = Field(None, description="enables the Discord bot")
    discord_guild_id: int | None = Field(None, description="sync commands to this guild only")
    discord_api_url: str | None = Field(None, description="testing hook: Discord REST base URL")

    # sign-in on the claim page (each button shows only when configured)
    discord_client_id: str | None = Field(
        None, description="Discord application id: enables Sign in with Discord"
    )
    discord_client_secret: SecretStr | None = Field(
        None, description="that application's OAuth2 client secret"
    )
    discord_oauth_url: str = Field(
        "https://discord.com", description="Discord OAuth2 base URL (a testing hook)"
    )
    telegram_login_url: str = Field(
        "https://telegram.org",
        description="origin of the Telegram Login Widget script (a testing hook); Sign in with"
        " Telegram needs TELEGRAM_BOT_TOKEN and TELEGRAM_BOT_USERNAME",
    )

    # webhooks
    webhook_allow_private: bool = Field(
        False,
        description="allow webhook targets on loopback, private and reserved addresses"
        " (tests, a receiver on the same network)",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="time a webhook receiver has to answer"
    )
    webhook_retention_days: int = Field(
        30, ge=1, description="finished webhook deliveries and their events are kept this long"
    )
    webhook_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="how often the dispatcher looks for events when idle"
    )

    # waitlist e-mail (domain/waitlist.py, domain/waitlist_notices.py)
    smtp_url: SecretStr | None = Field(
        None,
        description="smtp://user:pass@host:587 (STARTTLS when offered; ?starttls=required or"
        " ?starttls=no) or smtps://user:pass@host:465; unset: no e-mail is sent",
    )
    smtp_from: str | None = Field(
        None, description="the From of waitlist mail, e.g. Drops <drops@example.com>"
    )
    smtp_unsubscribe_mailto: str | None = Field(
        None,
        description="a mailbox you process, offered beside the one-click unsubscribe link",
    )
    smtp_timeout_seconds: float = Field(
        15.0, gt=0, le=120, description="time one SMTP conversation may take"
    )
    waitlist_mail_rate: str = Field(
        "60/minute", description="restock notices sent per window, all processes together"
    )
    waitlist_mail_poll_seconds: int = Field(
        15, ge=5, le=3600, description="how often restocks are looked for and notices sent"
    )
    waitlist_confirm_days: int = Field(
        7, ge=1, le=60, description="a confirmation link works this long"
    )
    waitlist_keep_days: int = Field(
        30, ge=1, description="waitlist addresses are deleted this long after a campaign ends"
    )

    # scheduler
    scheduler_enabled: bool = Field(True, description="run the jobs inside `codedrop run`")
    archive_after_days: int = Field(30, ge=1, description="archive codes used this long ago")
    archive_hour: int = Field(3, ge=0, le=23, description="UTC hour of the daily archival run")
    archive_batch_size: int = Field(
        2_000, ge=10, le=50_000, description="codes moved per archival transaction"
    )
    report_hour: int = Field(6, ge=0, le=23, description="UTC hour of the daily reports run")
    lifecycle_interval_seconds: int = Field(
        60, ge=5, description="how often campaigns are started, ended and sold out"
    )
    upload_poll_seconds: int = Field(
        30, ge=5, description="how often uploaded large files are picked up for processing"
    )
    cleanup_interval_minutes: int = Field(60, ge=1, description="how often the cleanup runs")
    upload_object_ttl_hours: int = Field(
        24, ge=1, description="delete an uploaded file from object storage this long after import"
    )
    upload_session_ttl_hours: int = Field(
        24, ge=1, description="expire large-upload sessions whose file never arrived"
    )
    idempotency_ttl_hours: int = Field(24, ge=1, description="keep Idempotency-Key answers")
    job_lease_seconds: int = Field(
        120, ge=10, description="lease of a running job; renewed every third of it"
    )
    presign_expiry_seconds: int = Field(
        3600, ge=60, le=7 * 24 * 3600, description="life of an upload URL (presigned or ours)"
    )
    large_upload_max_bytes: int = Field(
        256 * 1024 * 1024, ge=1, description="largest file of the large-upload flow"
    )
    large_upload_max_codes: int = Field(
        1_000_000, ge=1, description="most codes in one large upload"
    )
    s3_public_endpoint_url: str | None = Field(
        None, description="endpoint clients use for presigned URLs (when it differs from ours)"
    )

    # operations
    shutdown_timeout: float = Field(
        10.0,
        gt=0,
        le=300,
        description="seconds from SIGTERM/SIGINT to exit: work in flight is finished, then closed",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="bots and scheduler: serve /metrics and /healthz on this port (`codedrop health`)",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            scheme, _, rest = value.get_secret_value().partition("://")
            if scheme not in ("smtp", "smtps") or not rest.rpartition("@")[2].strip("/"):
                # the value itself may hold a password: never repeat it
                raise ValueError("CODEDROP_SMTP_URL must look like smtp://host:587 or smtps://…")
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if (
            self.environment == "production"
            and self.secret_key.get_secret_value() in PLACEHOLDER_SECRETS
        ):
            raise ValueError(
                "CODEDROP_SECRET_KEY is a placeholder; set a long random value in production"
            )
        return self

    @property
    def discord_signin(self) -> bool:
        """Sign in with Discord is configured (application id and secret)."""
        return bool(self.discord_client_id and self.discord_client_secret)

    @property
    def telegram_signin(self) -> bool:
        """Sign in with Telegram is configured (the bot's token and @username)."""
        return bool(self.telegram_bot_token and self.telegram_bot_username)

    @property
    def registration_open(self) -> bool:
        """Whether anyone may create a developer account from a bot (closed by default
        outside development)."""
        if self.registration is None:
            return self.environment == "development"
        return self.registration == "open"

    @property
    def sends_mail(self) -> bool:
        """An SMTP server and a From address are configured."""
        return bool(self.smtp_url and self.smtp_from)

    @property
    def is_mysql(self) -> bool:
        return self.database_url.startswith("mysql://")


def value_sources() -> dict[str, str]:
    """Where each setting's value comes from: `environment`, the env file (its path) or
    `default` (the environment wins over the file, as in `Settings()`)."""
    env_file = Settings.model_config.get("env_file")
    from_file = DotEnvSettingsSource(Settings)() if env_file else {}
    from_env = EnvSettingsSource(Settings)()
    sources = {}
    for name in Settings.model_fields:
        if name in from_env:
            sources[name] = "environment"
        elif name in from_file:
            sources[name] = str(Path(str(env_file)).resolve())
        else:
            sources[name] = "default"
    return sources


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
