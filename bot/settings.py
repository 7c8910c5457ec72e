"""Process settings, from `VEILLEUR_*` environment variables (and a `.env` file if present).

Settings are built by `load_settings()` and handed around explicitly; nothing reads the
environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_GITHUB_API_URL = "https://api.github.com"


BOTH_KEYS = (
    "VEILLEUR_PRIVATE_KEY and VEILLEUR_PRIVATE_KEY_PATH are both set: set only one of the two"
)


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one sentence naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VEILLEUR_", env_file=".env", extra="ignore", frozen=True
    )

    app_id: int | None = Field(None, description="The GitHub App's numeric id.")
    private_key: SecretStr | None = Field(None, description="The App's private key, PEM text.")
    private_key_path: Path | None = Field(None, description="File holding the App's PEM key.")
    webhook_secret: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated webhook secrets; several allow rotation. Empty refuses all.",
    )
    database_url: str = Field("sqlite:///veilleur.db", description="SQLite or PostgreSQL URL.")
    github_api_url: str = Field(DEFAULT_GITHUB_API_URL, description="REST API base URL.")
    dry_run: bool = Field(False, description="Record and log intended actions; perform none.")
    host: str = Field("127.0.0.1", description="Address `veilleur serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `veilleur serve` binds.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")
    log_format: Literal["json", "text"] = Field("json", description="Log line format.")
    max_attempts: int = Field(6, ge=1, le=50, description="Attempts before a delivery is dead.")
    retry_base_seconds: float = Field(
        30.0, gt=0, description="First retry delay; doubles per attempt."
    )
    github_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one API call.")
    config_refetch_seconds: int = Field(
        3600,
        ge=0,
        description="How long a repository's configuration is used before it is read again "
        "(a push touching it forgets it at once).",
    )
    config_cache_seconds: int = Field(
        300, ge=0, description="How long a process trusts its in-memory copy of a configuration."
    )
    membership_cache_seconds: int = Field(3600, ge=0, description="TTL of author classes.")
    intake_writer: Literal["auto", "process", "thread"] = Field(
        "auto",
        description="Who commits webhooks: a writer process (auto: with a SQLite file) or a "
        "thread of the web process (auto: PostgreSQL).",
    )
    smtp_host: str | None = Field(None, description="SMTP server for OSPO mail.")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = Field("veilleur@localhost", description="From address of mails.")
    smtp_starttls: bool = Field(False)
    sweep_minutes: int = Field(15, ge=1, description="Period of the SLA sweep.")
    oauth_client_id: str | None = Field(None, description="The App's OAuth client id (sign-in).")
    oauth_client_secret: SecretStr | None = Field(None, description="The App's client secret.")
    session_secret: SecretStr | None = Field(None, description="Key signing dashboard sessions.")
    public_url: str | None = Field(None, description="Veilleur's public base URL (callbacks).")
    github_web_url: str = Field("https://github.com", description="GitHub's web (OAuth) URL.")
    public_dashboard: bool = Field(False, description="Anonymous read-only view of public repos.")
    dashboard_open: bool = Field(False, description="Demo only: dashboard without sign-in.")
    accessibility_contact: str | None = Field(
        None, description="Where people report an accessibility problem (/accessibility)."
    )
    payload_retention_days: int = Field(
        30, ge=1, description="Processed webhook payloads older than this are reduced to {}."
    )
    person_retention_days: int = Field(
        1095, ge=1, description="People inactive this long are replaced by a pseudonym."
    )
    # Hostile input (issue 11): limits of the service itself.
    handler_time_limit_seconds: float = Field(
        60.0, gt=0, description="A delivery running longer is stopped (its worker is killed)."
    )
    shutdown_grace_seconds: float = Field(
        30.0, ge=0, description="On SIGTERM, how long the running delivery may take to finish."
    )
    unverified_memory_mb: float = Field(
        64.0, gt=0, description="Memory all unverified webhook bodies may hold; past it: 503."
    )
    request_timeout_seconds: float = Field(
        10.0, gt=0, description="Time a client has to send its headers, and then its body."
    )
    metrics_token: SecretStr | None = Field(None, description="Bearer token /metrics asks for.")
    write_spacing_seconds: float = Field(
        1.0, ge=0, description="Least time between content-creating calls of one installation."
    )

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return [s.strip() for s in value.split(",") if s.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must start with sqlite:// or postgresql://")
        if value.startswith("postgres://") or value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> Settings:
        if self.private_key is not None and self.private_key_path is not None:
            raise ValueError(BOTH_KEYS)
        return self

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def webhook_secrets(self) -> list[bytes]:
        return [s.get_secret_value().encode() for s in self.webhook_secret]

    def private_key_pem(self) -> str:
        """The App key as PEM text, checked to parse. Raises SettingsError otherwise."""
        if self.private_key is not None:
            pem, name = self.private_key.get_secret_value(), "VEILLEUR_PRIVATE_KEY"
        elif self.private_key_path is not None:
            name = "VEILLEUR_PRIVATE_KEY_PATH"
            try:
                pem = self.private_key_path.read_text()
            except OSError as exc:
                raise SettingsError(
                    f"{name} points to {self.private_key_path}, which cannot be read "
                    f"({exc.strerror})."
                ) from None
        else:
            raise SettingsError(
                "VEILLEUR_PRIVATE_KEY or VEILLEUR_PRIVATE_KEY_PATH must be set to the App's "
                "PEM private key."
            )
        pem = pem.replace("\\n", "\n").strip() + "\n"
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        try:
            load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError):
            raise SettingsError(f"{name} is not a PEM private key that can be parsed.") from None
        return pem

    def require_app(self) -> None:
        """Check what acting as the App needs; used by `serve` and `worker` at start."""
        if self.app_id is None:
            raise SettingsError("VEILLEUR_APP_ID must be set to the GitHub App's numeric id.")
        self.private_key_pem()


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into one sentence that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        if not err["loc"]:  # a rule across settings: its message names them
            message = str(err.get("ctx", {}).get("error") or err["msg"])
            raise SettingsError(f"{message.rstrip('.')}.") from None
        field = str(err["loc"][0])
        raise SettingsError(
            f"VEILLEUR_{field.upper()} is invalid: {err['msg'].rstrip('.')}."
        ) from None


def settings_from(args: Any) -> Settings:
    """The settings of a `veilleur` command: the environment, with `--database-url` over it."""
    overrides = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return load_settings(**overrides)
