"""Reusable pytest fixtures for the simulated forge (import them into conftest.py).

    from tests.simforge_fixtures import app_keypair, forge, forge_server, ...  # noqa: F401

`forge` starts empty apart from the App; seed it with `forge.add_org/add_repo/install/…`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI, Request, Response

from bot.clock import FrozenClock
from bot.settings import Settings, load_settings
from bot.sim import AppKeyPair, Forge, ForgeServer, ThreadedServer, generate_app_keypair

FORGE_START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning


@pytest.fixture(scope="session")
def app_keypair() -> AppKeyPair:
    """One RSA key pair per session: the App's private key for Veilleur, public for the forge."""
    return generate_app_keypair()


@pytest.fixture
def forge_clock() -> FrozenClock:
    return FrozenClock(FORGE_START)


@pytest.fixture
def forge(app_keypair: AppKeyPair, forge_clock: FrozenClock) -> Iterator[Forge]:
    the_forge = Forge(forge_clock, app_key=app_keypair)
    yield the_forge
    the_forge.close()


@pytest.fixture
def forge_server(forge: Forge) -> Iterator[ForgeServer]:
    with ForgeServer(forge) as server:
        yield server


@pytest.fixture
def forge_settings(forge: Forge, forge_server: ForgeServer, app_keypair: AppKeyPair) -> Settings:
    """Veilleur settings pointing at the running forge, with the App's key and secret."""
    return load_settings(
        app_id=forge.the_app.id,
        private_key=app_keypair.private_pem,
        github_api_url=forge_server.url,
        webhook_secret=forge.webhook_secret,
        github_timeout_seconds=2.0,
    )


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookSink:
    """Records the webhooks it receives; answers `status` (200 unless a test changes it)."""

    url: str = ""
    status: int = 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/webhook")
        async def webhook(request: Request) -> Response:
            hit = Received(dict(request.headers), await request.body())
            with self.lock:
                self.received.append(hit)
            return Response(status_code=self.status)

        return app


@pytest.fixture
def webhook_sink(forge: Forge) -> Iterator[WebhookSink]:
    """A stand-in for the bot's webhook endpoint; the forge is pointed at it."""
    sink = WebhookSink()
    with ThreadedServer(sink.app()) as server:
        sink.url = f"{server.url}/webhook"
        forge.webhook_url = sink.url
        yield sink
        forge.settle()


@dataclass(frozen=True)
class World:
    """Names in the world `seed_world` builds."""

    org: str = "mairie"
    repo: str = "mairie/portail"  # public, installed
    private_repo: str = "mairie/interne"  # private, installed
    foreign_repo: str = "autre/projet"  # public, not installed
    team: str = "mainteneurs"
    maintainer: str = "marie"  # public org member, team maintainer, write access
    private_member: str = "paul"  # private org member: author_association NONE
    outsider: str = "alice"  # outside contributor
    installation_id: int = 0


def seed_world(forge: Forge) -> World:
    """A small public-sector world: one org, three repos, a team, the App installed on the org."""
    w = World()
    forge.add_org(w.org, description="Mairie de Quelquepart")
    forge.add_user(w.maintainer, name="Marie Curie", email="marie@mairie.example")
    forge.add_user(w.outsider, name="Alice", company="ACME", email="alice@acme.example")
    forge.add_member(w.org, w.maintainer, public=True)
    forge.add_member(w.org, w.private_member)
    forge.add_team(w.org, w.team, maintainers=[w.maintainer], members=[w.private_member])
    forge.add_team_member(w.org, w.team, "zoe", state="pending")
    files = {
        ".github/veilleur.yml": "sla_days: 5\nlabels:\n  triage: needs-triage\n",
        ".github/CODEOWNERS": "* @mairie/mainteneurs\ndocs/ @marie\n",
        "README.md": "# Portail\n",
        "CONTRIBUTING.md": "Merci !\n",
        "LICENSE": "EUPL-1.2\n",
        "docs/guide.md": "Guide\n",
    }
    forge.add_repo(w.repo, description="Le portail citoyen", files=files)
    forge.add_repo(w.private_repo, private=True, files={"README.md": "interne\n"})
    forge.add_repo(w.foreign_repo, files={"README.md": "autre\n"})
    forge.set_permission(w.repo, w.maintainer, "write")
    inst = forge.install(w.org)
    return World(installation_id=inst.id)
