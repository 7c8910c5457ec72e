# SPDX-License-Identifier: EUPL-1.2
"""`veilleur doctor` on the simulated forge: a healthy deployment passes every check; each
failure, injected on the forge (or in the settings, database, SMTP), is detected by its check
with a fix, and makes the exit status non-zero."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from bot.cli import main
from bot.clock import FrozenClock
from bot.doctor import Check
from bot.doctor.cli import run_checks
from bot.settings import Settings, load_settings
from bot.sim import AppKeyPair, Forge, ForgeServer, ThreadedServer, generate_app_keypair
from bot.sim.routes_manifest import manifest_state
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from bot.storage.models import Repository
from tests import simforge_fixtures as fx
from tests.smtp_fixtures import smtp  # noqa: F401 (fixture)

forge = fx.forge
forge_clock = fx.forge_clock
app_keypair = fx.app_keypair
forge_server = fx.forge_server

PUBLIC_URL = "https://veilleur.mairie.example"
REPO = "mairie/portail"


@dataclass
class Deployment:
    forge: Forge
    settings: Settings
    sink: fx.WebhookSink
    db_url: str

    def checks(self, clock: FrozenClock | None = None, **changes: Any) -> dict[str, Check]:
        settings = Settings(**(self.settings.model_dump() | changes))
        found = run_checks(settings, clock or FrozenClock(datetime.now(UTC)))
        return {c.name: c for c in found}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def deployment(
    forge: Forge, forge_server: ForgeServer, app_keypair: AppKeyPair, tmp_path: Path
) -> Iterator[Deployment]:
    """A healthy deployment: installed on an org, every repository known, valid configuration,
    recent deliveries accepted, webhook pointing at VEILLEUR_PUBLIC_URL."""
    forge.add_org("mairie")
    forge.add_repo(REPO, files={".github/veilleur.yml": "language: fr\n"})
    forge.add_repo("mairie/.github", files={".github/veilleur.yml": "sla:\n  max_reminders: 2\n"})
    inst = forge.install("mairie")
    db_url = f"sqlite:///{tmp_path / 'veilleur.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    with Session(engine) as session:
        for name in (REPO, "mairie/.github"):
            repo = forge.get_repo(name)
            session.add(
                Repository(id=repo.id, installation_id=inst.id, full_name=name, owner="mairie")
            )
        session.commit()
    engine.dispose()
    sink = fx.WebhookSink()
    with ThreadedServer(sink.app()) as sink_server:
        forge.webhook_url = f"{sink_server.url}/webhook"
        forge.scenario.open_issue(REPO, "alice", "Lien cassé", "Le lien de la page est cassé.")
        forge.webhook_url = f"{PUBLIC_URL}/webhooks/github"  # GitHub's setting (a proxy's URL)
        settings = load_settings(
            app_id=forge.the_app.id,
            private_key=app_keypair.private_pem,
            github_api_url=forge_server.url,
            webhook_secret=forge.webhook_secret,
            database_url=db_url,
            public_url=PUBLIC_URL,
            github_timeout_seconds=2.0,
        )
        yield Deployment(forge, settings, sink, db_url)


def _failed(checks: dict[str, Check]) -> dict[str, Check]:
    return {name: c for name, c in checks.items() if c.status == "fail"}


def test_a_healthy_deployment_passes(deployment: Deployment) -> None:
    checks = deployment.checks()
    assert _failed(checks) == {}
    for name in (
        "settings", "database reachable", "database migrated", "database writable",
        "App credentials", "clock", "webhook URL", "webhook content type", "webhook secret",
        "webhook deliveries", "repository configuration",
    ):  # fmt: skip
        assert checks[name].status == "ok", name
    inst = next(c for n, c in checks.items() if n.startswith("installation "))
    assert inst.status == "ok" and "2 repositories, all known" in inst.detail
    assert checks["SMTP"].status == "skip" and checks["dashboard sign-in"].status == "skip"


def _unknown_repo(d: Deployment) -> None:
    engine = make_engine(d.db_url)
    with Session(engine) as session:
        repo = session.get(Repository, d.forge.get_repo(REPO).id)
        session.delete(repo)
        session.commit()
    engine.dispose()


def _failing_deliveries(d: Deployment) -> None:
    with ThreadedServer(d.sink.app()) as sink_server:
        d.forge.webhook_url = f"{sink_server.url}/webhook"
        d.sink.status = 401
        d.forge.scenario.comment(REPO, 1, "alice", "Toujours cassé.")
    d.forge.webhook_url = f"{PUBLIC_URL}/webhooks/github"


def _not_installed(d: Deployment) -> None:
    with d.forge.lock:
        d.forge.installations.clear()


INJECTED: list[tuple[str, Callable[[Deployment], None], str, str]] = [
    ("webhook URL elsewhere", lambda d: setattr(d.forge, "webhook_url", "https://old.example/hook"), "webhook URL", "old.example"),
    ("webhook sends forms", lambda d: setattr(manifest_state(d.forge), "content_type", "form"), "webhook content type", "form"),
    ("no webhook secret", lambda d: setattr(d.forge, "webhook_secret", ""), "webhook secret", "none set"),
    ("SSL verification off", lambda d: setattr(manifest_state(d.forge), "insecure_ssl", "1"), "webhook URL", "SSL verification off"),
    ("deliveries refused", _failing_deliveries, "webhook deliveries", "401 ×1"),
    ("a repository unknown", _unknown_repo, "installation", f"1 of 2 repositories unknown to Veilleur: {REPO}"),
    ("installed nowhere", _not_installed, "installations", "installed nowhere"),
    ("invalid configuration", lambda d: d.forge.set_file(REPO, ".github/veilleur.yml", "sla:\n  max_reminders: many\n"), "repository configuration", "mairie/portail/.github/veilleur.yml:2"),
    ("invalid org configuration", lambda d: d.forge.set_file("mairie/.github", ".github/veilleur.yml", "sla: [\n"), "repository configuration", "YAML syntax error"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inject", "check", "expected"),
    [case[1:] for case in INJECTED],
    ids=[case[0] for case in INJECTED],
)
def test_each_forge_failure_is_detected(
    deployment: Deployment, inject: Callable[[Deployment], None], check: str, expected: str
) -> None:
    inject(deployment)
    failed = _failed(deployment.checks())
    ((name, found),) = failed.items()
    assert name.startswith(check)
    assert expected in found.detail and found.fix


def test_refused_credentials_and_a_wrong_clock(deployment: Deployment) -> None:
    ahead = FrozenClock(datetime.now(UTC) + timedelta(minutes=5))
    failed = _failed(deployment.checks(ahead))
    assert list(failed) == ["clock"] and "ahead of GitHub" in failed["clock"].detail

    wrong_id = deployment.checks(app_id=987_654_321)  # no forge has it: no cached JWT
    assert list(_failed(wrong_id)) == ["App credentials"]


def test_a_refused_private_key(deployment: Deployment) -> None:
    """Its own test: githubkit caches the App's JWT by App id (one doctor run would not)."""
    other = generate_app_keypair()
    checks = deployment.checks(private_key=other.private_pem)
    failed = _failed(checks)
    assert list(failed) == ["App credentials"]
    assert (
        "401" in failed["App credentials"].detail and "private key" in failed["App credentials"].fix
    )
    assert checks["clock"].status == "ok"  # read from the refusal's Date header


def test_settings_and_database_failures(deployment: Deployment, tmp_path: Path) -> None:
    failed = _failed(deployment.checks(app_id=None))
    assert list(failed) == ["settings"] and "VEILLEUR_APP_ID" in failed["settings"].detail
    failed = _failed(deployment.checks(webhook_secret=[]))
    assert list(failed) == ["settings"] and "every webhook is refused" in failed["settings"].detail

    port = _closed_port()
    failed = _failed(deployment.checks(database_url=f"postgresql+psycopg://x@127.0.0.1:{port}/x"))
    assert "database reachable" in failed

    fresh = f"sqlite:///{tmp_path / 'new.db'}"
    failed = _failed(deployment.checks(database_url=fresh))
    assert (
        "database migrated" in failed and "veilleur db upgrade" in failed["database migrated"].fix
    )

    db_file = deployment.db_url.removeprefix("sqlite:///")
    read_only = f"sqlite:///file:{db_file}?mode=ro&uri=true"
    failed = _failed(deployment.checks(database_url=read_only))
    assert list(failed) == ["database writable"]


def test_smtp_and_sign_in(deployment: Deployment, smtp: Any) -> None:  # noqa: F811
    _, port = smtp
    checks = deployment.checks(smtp_host="127.0.0.1", smtp_port=port)
    assert checks["SMTP"].status == "ok"
    failed = _failed(deployment.checks(smtp_host="127.0.0.1", smtp_port=_closed_port()))
    assert list(failed) == ["SMTP"]

    failed = _failed(deployment.checks(oauth_client_id="Iv1.abc"))
    assert list(failed) == ["dashboard sign-in"]
    assert "VEILLEUR_OAUTH_CLIENT_SECRET" in failed["dashboard sign-in"].detail
    complete = deployment.checks(
        oauth_client_id="Iv1.abc", oauth_client_secret="s", session_secret="k"
    )
    assert complete["dashboard sign-in"].status == "ok"


def test_the_command_json_and_exit_status(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s = deployment.settings
    env = {
        "VEILLEUR_APP_ID": str(s.app_id),
        "VEILLEUR_PRIVATE_KEY": s.private_key_pem(),
        "VEILLEUR_GITHUB_API_URL": s.github_api_url,
        "VEILLEUR_WEBHOOK_SECRET": deployment.forge.webhook_secret,
        "VEILLEUR_PUBLIC_URL": PUBLIC_URL,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["doctor", "--json", "--database-url", deployment.db_url]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and len(report["checks"]) >= 12

    deployment.forge.webhook_secret = ""
    assert main(["doctor", "--database-url", deployment.db_url]) == 1
    out = capsys.readouterr().out
    assert "✘ webhook secret: none set" in out and "    fix: set a webhook secret" in out
    assert "✔ App credentials: accepted" in out

    monkeypatch.setenv("VEILLEUR_PORT", "not-a-port")
    assert main(["doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["checks"][0]["name"] == "settings"
