"""Settings: a missing or malformed value stops the start with one sentence naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VEILLEUR_")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env,named",
    [
        ({"VEILLEUR_WEBHOOK_SECRET": "s"}, "VEILLEUR_APP_ID"),
        ({"VEILLEUR_APP_ID": "12"}, "VEILLEUR_PRIVATE_KEY"),
        (
            {
                "VEILLEUR_APP_ID": "12",
                "VEILLEUR_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----",
            },
            "VEILLEUR_PRIVATE_KEY",
        ),
        (
            {"VEILLEUR_APP_ID": "12", "VEILLEUR_PRIVATE_KEY_PATH": "/nonexistent/key.pem"},
            "VEILLEUR_PRIVATE_KEY_PATH",
        ),
        ({"VEILLEUR_APP_ID": "twelve"}, "VEILLEUR_APP_ID"),
        ({"VEILLEUR_PORT": "http"}, "VEILLEUR_PORT"),
        ({"VEILLEUR_DATABASE_URL": "mysql://x"}, "VEILLEUR_DATABASE_URL"),
    ],
)
def test_serve_refuses_to_start_with_one_sentence(
    env: dict[str, str], named: str, tmp_path: Path
) -> None:
    proc = run(["serve"], env, tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and named in lines[0]


def test_secrets_are_split_for_rotation() -> None:
    s = load_settings(webhook_secret="new, old ,")
    assert s.webhook_secrets() == [b"new", b"old"]


def test_valid_pem_is_accepted(app_keypair: object) -> None:
    pem = app_keypair.private_pem  # type: ignore[attr-defined]
    s = load_settings(app_id=1, private_key=pem.replace("\n", "\\n"))
    s.require_app()
    with pytest.raises(SettingsError):
        load_settings(app_id=1, private_key=pem, private_key_path="/tmp/k.pem")
