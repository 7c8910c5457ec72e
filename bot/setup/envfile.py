# SPDX-License-Identifier: EUPL-1.2
"""The `.env` file `veilleur setup` writes: the App's credentials, readable by its owner only.

Values are single-quoted (read literally by pydantic-settings, docker compose's `env_file` and
systemd's `EnvironmentFile`); the private key keeps its line breaks as `\\n` escapes, which
`VEILLEUR_PRIVATE_KEY` accepts.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path


class EnvFileExists(Exception):
    """The file is there and `--force` was not given: it may hold the only copy of a key."""


def refuse_to_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise EnvFileExists(
            f"{path} already exists; move it away or pass --force to replace it "
            "(it may hold the only copy of an App's private key)."
        )


def render(values: Mapping[str, str], written_at: datetime) -> str:
    lines = [
        f"# Written by `veilleur setup` on {written_at:%Y-%m-%d %H:%M} UTC. Secret: keep it",
        "# readable by its owner only (mode 0600) and out of version control.",
    ]
    for name, value in values.items():
        if "'" in value or "\n" in value.replace("\\n", ""):
            raise ValueError(f"{name} cannot be written as a single-quoted value")
        lines.append(f"{name}='{value}'")
    return "\n".join(lines) + "\n"


def credentials_env(
    conversion: Mapping[str, object],
    *,
    public_url: str,
    api_url: str,
    web_url: str,
    defaults: tuple[str, str],
) -> dict[str, str]:
    """The settings to write, from GitHub's answer to the manifest conversion."""
    pem = str(conversion["pem"]).strip().replace("\n", "\\n") + "\\n"
    values = {
        "VEILLEUR_APP_ID": str(conversion["id"]),
        "VEILLEUR_PRIVATE_KEY": pem,
        "VEILLEUR_WEBHOOK_SECRET": str(conversion.get("webhook_secret") or ""),
        "VEILLEUR_OAUTH_CLIENT_ID": str(conversion["client_id"]),
        "VEILLEUR_OAUTH_CLIENT_SECRET": str(conversion["client_secret"]),
        "VEILLEUR_SESSION_SECRET": secrets.token_urlsafe(32),
        "VEILLEUR_PUBLIC_URL": public_url.rstrip("/"),
    }
    if api_url.rstrip("/") != defaults[0].rstrip("/"):  # GitHub Enterprise Server
        values["VEILLEUR_GITHUB_API_URL"] = api_url
    if web_url.rstrip("/") != defaults[1].rstrip("/"):
        values["VEILLEUR_GITHUB_WEB_URL"] = web_url
    return values


def write_private(path: Path, text: str, force: bool) -> None:
    """Create the file with mode 0600 from the start (never readable by others, even briefly);
    with `force`, replace an existing one atomically."""
    refuse_to_overwrite(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".env.", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile: never overwrite
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
