"""`VEILLEUR_GITLAB_*` settings, read apart from the GitHub ones so that a GitHub-only
deployment never sees them."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.forge.links import WebLinks


class GitLabSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VEILLEUR_GITLAB_", env_file=".env", extra="ignore", frozen=True
    )

    url: str | None = Field(None, description="The GitLab instance, e.g. https://gitlab.com.")
    token: SecretStr | None = Field(None, description="Group/project access token, `api` scope.")
    webhook_secret: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated X-Gitlab-Token values (rotation). Empty refuses all.",
    )
    signing_token: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated `whsec_…` signing tokens: when set, signatures are required.",
    )
    timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one API call.")
    oauth_client_id: str | None = Field(
        None, description="Dashboard sign-in: the GitLab application's ID (scope `read_api`)."
    )
    oauth_secret: SecretStr | None = Field(None, description="That application's secret.")

    @field_validator("webhook_secret", "signing_token", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [SecretStr(v.strip()) for v in value.split(",") if v.strip()]
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    @property
    def host(self) -> str:
        """The host that qualifies this instance's repository names."""
        return (urlsplit(self.url or "").hostname or "").lower()

    @property
    def oauth_configured(self) -> bool:
        """Sign-in with GitLab needs the instance and the application's ID and secret."""
        secret = self.oauth_secret.get_secret_value() if self.oauth_secret else ""
        return bool(self.url and self.oauth_client_id and secret)

    def secrets(self) -> list[bytes]:
        return [s.get_secret_value().encode() for s in self.webhook_secret]

    def signing_keys(self) -> list[bytes]:
        from bot.gitlab.signature import signing_key

        return [signing_key(s.get_secret_value()) for s in self.signing_token]


def load_gitlab_settings(**overrides: object) -> GitLabSettings:
    """From the environment (and `.env`); a malformed value is one sentence naming it."""
    from bot.settings import SettingsError

    try:
        return GitLabSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "URL"
        raise SettingsError(
            f"VEILLEUR_GITLAB_{field.upper()} is invalid: {err['msg'].rstrip('.')}."
        ) from None


def web_links(github_web_url: str, gitlab: GitLabSettings | None = None) -> WebLinks:
    """Links to GitHub (`VEILLEUR_GITHUB_WEB_URL`) and to the configured GitLab instance, its
    scheme and port kept."""
    gitlab = gitlab if gitlab is not None else load_gitlab_settings()
    return WebLinks.of(github_web_url, gitlab.url)
