# SPDX-License-Identifier: EUPL-1.2
"""`veilleur setup`, end to end on the simulated forge: the local page's form is posted as a
browser would, the forge's confirmation too, the redirect followed back with the code; the
`.env` written then works (the forge accepts its key, its secret signs webhooks)."""

from __future__ import annotations

import json
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.settings import Settings
from bot.sim import Forge, ForgeServer
from bot.sim.demo.registration import Forms
from tests import simforge_fixtures as fx

forge = fx.forge
forge_clock = fx.forge_clock
app_keypair = fx.app_keypair
forge_server = fx.forge_server

PUBLIC_URL = "https://veilleur.ville.example"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SetupRun:
    """`veilleur setup …` in a thread, as an administrator would start it."""

    def __init__(self, argv: list[str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.code: int | None = None
        self.thread = threading.Thread(
            target=self._run, args=([*argv, "--port", str(self.port)],), daemon=True
        )

    def _run(self, argv: list[str]) -> None:
        self.code = main(argv)

    def start(self) -> SetupRun:
        self.thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("the setup page did not come up")

    def join(self) -> int | None:
        self.thread.join(timeout=10)
        return self.code


@pytest.fixture
def web(forge_server: ForgeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ForgeServer]:
    """The forge serves both GitHub's web pages and its API (as VEILLEUR_GITHUB_*_URL)."""
    monkeypatch.setenv("VEILLEUR_GITHUB_API_URL", forge_server.url)
    monkeypatch.setenv("VEILLEUR_GITHUB_WEB_URL", forge_server.url)
    yield forge_server


def browse_registration(setup_url: str) -> httpx.Response:
    """Click "Register", then GitHub's "Create GitHub App", then follow the redirect back."""
    with httpx.Client(timeout=10) as browser:
        start = browser.get(setup_url + "/")
        ((action, method, fields),) = Forms(start.text).forms
        assert method == "post"
        confirm = browser.post(action, data=fields)
        assert confirm.status_code == 200, confirm.text
        ((action2, _, fields2),) = Forms(confirm.text).forms
        created = browser.post(str(confirm.url.join(action2)), data=fields2)
        assert created.status_code == 302
        back = created.headers["location"]
        assert back.startswith(setup_url + "/callback?code=")
        return browser.get(back)


def test_the_manifest_flow_writes_working_credentials(
    web: ForgeServer, forge: Forge, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forge.add_org("ville")
    env = tmp_path / "conf" / ".env"
    run = SetupRun(
        ["setup", "--org", "ville", "--public-url", PUBLIC_URL, "--env-file", str(env)]
    ).start()
    old_app = forge.the_app.id
    done = browse_registration(run.url)
    assert done.status_code == 200 and "Veilleur is registered" in done.text
    assert run.join() == 0

    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    the_app = forge.the_app
    assert the_app.id != old_app and settings.app_id == the_app.id
    assert the_app.owner == "ville"  # created for the organisation
    assert settings.private_key_pem() == forge.private_key_pem.strip() + "\n"
    assert [s.get_secret_value() for s in settings.webhook_secret] == [forge.webhook_secret]
    assert settings.oauth_client_id == the_app.client_id
    assert settings.public_url == PUBLIC_URL and settings.session_secret is not None
    assert forge.webhook_url == f"{PUBLIC_URL}/webhooks/github"
    manifest = json.loads(Path("app-manifest.json").read_text())
    assert the_app.permissions == manifest["default_permissions"]
    out = capsys.readouterr().out
    assert "https://github.com/apps/veilleur/installations/new" in out
    assert "veilleur doctor" in out

    # the key in the file is the one the forge now accepts
    resp = httpx.post(
        f"{web.url}/app/installations/1/access_tokens",
        headers={"Authorization": f"Bearer {_jwt(settings)}"},
    )
    assert resp.status_code == 404  # authenticated (no such installation), not 401


def _jwt(settings: Settings) -> str:
    import jwt

    now = int(time.time())
    claims = {"iat": now - 60, "exp": now + 300, "iss": str(settings.app_id)}
    return jwt.encode(claims, settings.private_key_pem(), algorithm="RS256")


def test_an_existing_env_file_is_never_overwritten_without_force(
    web: ForgeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tmp_path / ".env"
    env.write_text("VEILLEUR_APP_ID=1\n")
    argv = ["setup", "--public-url", PUBLIC_URL, "--env-file", str(env), "--port", "0"]
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err
    assert env.read_text() == "VEILLEUR_APP_ID=1\n"

    run = SetupRun(["setup", "--public-url", PUBLIC_URL, "--env-file", str(env), "--force"])
    browse_registration(run.start().url)
    assert run.join() == 0
    assert "VEILLEUR_PRIVATE_KEY=" in env.read_text()
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


def test_a_file_created_while_the_page_waits_is_not_overwritten(
    web: ForgeServer, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    run = SetupRun(["setup", "--public-url", PUBLIC_URL, "--env-file", str(env)]).start()
    env.write_text("precious\n")
    page = browse_registration(run.url)
    assert page.status_code == 500 and "already exists" in page.text
    assert env.read_text() == "precious\n"
    httpx.get(run.url + "/")  # still serving: the administrator can move the file and retry
    env.unlink()
    page = browse_registration(run.url)
    assert page.status_code == 200
    assert run.join() == 0


def test_a_forged_or_reused_code_writes_nothing(web: ForgeServer, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    run = SetupRun(["setup", "--public-url", PUBLIC_URL, "--env-file", str(env)]).start()
    assert httpx.get(f"{run.url}/callback?code=abc&state=wrong").status_code == 400
    state = Forms(httpx.get(run.url + "/").text).forms[0][0].split("state=")[1]
    assert httpx.get(f"{run.url}/callback?code=abc&state={state}").status_code == 502
    assert not env.exists()
    browse_registration(run.url)
    assert run.join() == 0 and env.exists()


def test_setup_needs_a_public_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--env-file", str(tmp_path / ".env")]) == 2
    assert "--public-url" in capsys.readouterr().err
