"""End-to-end harness: the simulated forge and the real Veilleur server, over real HTTP.

One movable clock drives both. `Harness.wait()` returns once every webhook (including the
ones Veilleur's own actions caused) has been processed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from sqlmodel import Session, select

from bot.app import create_app
from bot.backfill.tasks import SERVICE as BACKFILL_TASKS
from bot.clock import FrozenClock
from bot.periodic import sweeper_for
from bot.queue import deliveries
from bot.settings import Settings
from bot.sim import Forge, ThreadedServer
from bot.sim.delivery import Delivery as SentDelivery
from bot.sim.forge import RecordedRequest
from bot.storage.models import ActionLog, Delivery, DeliveryStatus


@dataclass(frozen=True)
class City:
    """Names in the world `seed_city` builds: a city, its maintainers and outside contributors."""

    org: str = "paris"
    repo: str = "paris/lutece-core"
    ospo_repo: str = "paris/ospo"
    team: str = "mainteneurs"
    ospo_team: str = "ospo"
    maintainer: str = "marie"  # team maintainer, write access
    second_maintainer: str = "hugo"  # in maintainers.users
    private_member: str = "paul"  # private org member: author_association says CONTRIBUTOR
    citizen_fr: str = "camille"
    citizen_en: str = "alice"
    citizen_nl: str = "jan"
    partner_user: str = "lea"  # member of the partner city's org
    partner_org: str = "ville-de-lyon"
    supplier_user: str = "sam"  # internal supplier (partners[].internal)
    other_bot: str = "renovate[bot]"


CITY_CONFIG = """\
language: fr
maintainers:
  users: [hugo]
  teams: [mainteneurs]
partners:
  - name: Lyon
    github_orgs: [ville-de-lyon]
  - name: Atos
    logins: [sam]
    internal: true
areas:
  paths:
    - {glob: "docs/**", label: documentation}
  keywords:
    - label: cartographie
      words: {fr: [carte], en: [map], nl: [kaart]}
calendar:
  timezone: Europe/Paris
  country: FR
sla:
  first_response_days: 2
ospo:
  team: "@paris/ospo"
  repository: paris/ospo
  emails: [ospo@paris.example]
"""


def seed_city(forge: Forge, config: str = CITY_CONFIG) -> City:
    c = City()
    forge.add_org(c.org, description="Ville de Paris")
    forge.add_org(c.partner_org, description="Ville de Lyon")
    for login in (
        c.maintainer,
        c.second_maintainer,
        c.private_member,
        c.citizen_en,
        c.citizen_nl,
        c.supplier_user,
    ):
        forge.add_user(login)
    forge.add_user(c.citizen_fr, name="Camille", company="Citoyenne")
    forge.add_user(c.partner_user, company="Ville de Lyon")
    forge.add_user(c.other_bot, type="Bot")
    forge.add_member(c.org, c.maintainer, public=True)
    forge.add_member(c.org, c.private_member)
    forge.add_member(c.partner_org, c.partner_user, public=True)
    forge.add_team(c.org, c.team, maintainers=[c.maintainer])
    forge.add_team(c.org, c.ospo_team, members=[c.private_member])
    files = {
        ".github/veilleur.yml": config,
        ".github/CODEOWNERS": "* @paris/mainteneurs\ndocs/ @marie\n",
        "README.md": "# Lutèce\n",
        "CONTRIBUTING.md": "Merci de contribuer !\n",
        "docs/guide.md": "Guide\n",
    }
    forge.add_repo(c.repo, description="Lutèce", files=files)
    forge.add_repo(c.ospo_repo, description="OSPO")
    forge.set_permission(c.repo, c.maintainer, "write")
    forge.set_permission(c.repo, c.second_maintainer, "maintain")
    return c


class Harness:
    def __init__(self, forge: Forge, clock: FrozenClock, settings: Settings, app: Any) -> None:
        self.forge = forge
        self.clock = clock
        self.settings = settings
        self.app = app
        # Where each delivery's processing began and ended, in the forge's arrival order.
        self._spans: dict[str, list[tuple[int, int]]] = {}
        self._running: tuple[str, int] | None = None
        self._spans_lock = threading.Lock()
        worker = getattr(app.state, "worker", None)
        if worker is not None:
            worker.on_delivery = self._delivery_runs

    def _delivery_runs(self, guid: str | None) -> None:
        """The worker's hook (one delivery at a time): ids from the forge's own counter, so a
        request made while a delivery runs has an arrival between its two marks."""
        mark = self.forge.new_id()
        with self._spans_lock:
            if self._running is not None:
                done, start = self._running
                self._spans.setdefault(done, []).append((start, mark))
            self._running = (guid, mark) if guid is not None else None

    @property
    def engine(self) -> Any:
        return self.app.state.engine

    @property
    def worker(self) -> Any:
        return self.app.state.worker

    def wait(self, timeout: float = 30.0) -> None:
        """Until every delivery (and every echo of Veilleur's own actions) is processed, and
        every history import started by one has ended (it runs beside the queue)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            self.forge.settle()
            with Session(self.engine) as s:
                busy = s.scalars(
                    select(Delivery.guid).where(
                        Delivery.status.in_([DeliveryStatus.RECEIVED, DeliveryStatus.PROCESSING])  # type: ignore[attr-defined]
                    )
                ).first()
            importing = bool(self.imports_running())
            quiet = quiet + 1 if busy is None and not importing else 0
            if quiet >= 3:
                return
            self.worker.wake()
            time.sleep(0.02)
        raise TimeoutError("Veilleur did not finish processing in time")

    def imports_running(self) -> int:
        runtime = self.worker.runtime
        tasks = runtime.services.get(BACKFILL_TASKS) if runtime is not None else None
        return len(tasks.tasks) if tasks is not None else 0

    def failures(self) -> list[Delivery]:
        with Session(self.engine) as s:
            q = select(Delivery).where(
                Delivery.status.in_([DeliveryStatus.FAILED, DeliveryStatus.DEAD])
            )  # type: ignore[attr-defined]
            return list(s.scalars(q))

    def sweep(self, at: datetime | None = None, *, dry_run: bool = False) -> Any:
        if at is not None:
            self.clock.set(at)
        sweeper = sweeper_for(self.worker.runtime, dry_run=dry_run)
        result = self.worker.call(sweeper.run(self.clock.now()), timeout=60)
        self.wait()
        return result

    # -- counting requests --------------------------------------------------------------------
    def requests_of(self, *deliveries: SentDelivery | str) -> list[RecordedRequest]:
        """The requests Veilleur made while processing these deliveries (every attempt), in
        arrival order. The echoes of its own actions are deliveries of their own, so each
        event is counted against itself, not against the event that happened just before."""
        guids = {d if isinstance(d, str) else d.guid for d in deliveries}
        with self._spans_lock:
            spans = [span for guid in guids for span in self._spans.get(guid, [])]
        requests = list(self.forge.requests)
        return sorted(
            (r for r in requests if any(a < r.arrival < b for a, b in spans)),
            key=lambda r: r.arrival,
        )

    def sent_since(self, start: int, *, by_bot: bool = False) -> list[SentDelivery]:
        """The deliveries the forge sent after the first `start` (a `len(forge.deliveries)`):
        those a scenario step caused, or (`by_bot`) the echoes of Veilleur's own actions."""
        return [d for d in self.forge.deliveries[start:] if d.by_bot == by_bot]

    # -- reading the forge --------------------------------------------------------------------
    def labels(self, repo: str, number: int) -> set[str]:
        return set(self.forge.get_issue(repo, number).labels)

    def comments(self, repo: str, number: int, *, by_bot: bool = True) -> list[Any]:
        r = self.forge.get_repo(repo)
        out = [c for c in r.comments.values() if c.issue_number == number]
        return [c for c in out if c.user == self.forge.bot_login] if by_bot else out

    def issues_titled(self, repo: str, title: str) -> list[Any]:
        return [i for i in self.forge.get_repo(repo).issues.values() if i.title == title]

    def action_keys(self, prefix: str = "") -> list[ActionLog]:
        with Session(self.engine) as s:
            return list(s.scalars(select(ActionLog).where(ActionLog.key.startswith(prefix))))  # type: ignore[attr-defined]

    def queue_empty(self) -> bool:
        return deliveries.stats(self.engine, self.clock.now()).depth == 0


CONFIG_FILES = (".github/veilleur.yml", ".github/veilleur/templates")


def is_config_refresh(request: RecordedRequest) -> bool:
    """A read of the configuration (the repository's or the organisation's) or of the
    organisation's template overrides: what a repository's configuration cache refetches when
    it expires, whatever the event that happened to be processed then."""
    if request.method != "GET" or request.template != "/repos/{owner}/{repo}/contents/{path}":
        return False
    path = unquote(request.path.split("/contents/", 1)[1])
    return path.startswith(CONFIG_FILES)


def template_tag(name: str, lang: str) -> str:
    return f"veilleur-template:{name}/{lang}"


@pytest.fixture
def harness_factory(
    forge: Forge, forge_settings: Settings, forge_clock: FrozenClock, tmp_path: Path
) -> Iterator[Any]:
    servers: list[ThreadedServer] = []

    def make(**overrides: Any) -> Harness:
        values = forge_settings.model_dump()
        values.update(
            database_url=f"sqlite:///{tmp_path / f'veilleur-{len(servers)}.db'}",
            webhook_secret=forge.webhook_secret,
            private_key=forge_settings.private_key.get_secret_value()
            if forge_settings.private_key
            else None,
            retry_base_seconds=0.01,
            write_spacing_seconds=0,  # GitHub's 1 s between writes: a test of its own
            log_format="text",
        )
        values.update(overrides)
        settings = Settings(**values)
        app = create_app(settings, clock=forge_clock)
        server = ThreadedServer(app, lifespan="on")
        server.start(timeout=60)  # a loaded machine can take more than 10 s to start it
        servers.append(server)
        forge.webhook_url = f"{server.url}/webhooks/github"
        return Harness(forge, forge_clock, settings, app)

    yield make
    forge.webhook_url = None
    for server in servers:
        server.stop()


@pytest.fixture
def city(forge: Forge) -> City:
    return seed_city(forge)


@pytest.fixture
def harness(harness_factory: Any, city: City, forge: Forge) -> Harness:
    h = harness_factory()
    forge.scenario.install(city.org)
    h.wait()
    return h
