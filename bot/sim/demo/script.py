"""Six weeks in the life of a city's shared repositories, on a simulated clock.

Each step is (Paris local time, what happens). Everything reaches Veilleur as a signed webhook
over HTTP, sent by the simulated GitHub or, for Gent's project, the simulated GitLab; SLA
sweeps run at their simulated times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.gitlab.numbers import item_number, split
from bot.sim import Forge
from bot.sim.demo.world import GENT_PROJECT, GENT_REPO, ORG, P
from bot.sim.gitlab import GitLabWorld
from bot.sim.gitlab import items as gl

PARIS = ZoneInfo("Europe/Paris")
START = date(2026, 6, 29)  # a Monday; Bastille Day (Tuesday 14 July) falls in week 3
END = date(2026, 8, 7)  # Friday of week 6
SWEEP_TIMES = (time(10, 0), time(17, 0))  # the real scheduler sweeps every 15 minutes


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), PARIS)


def d(offset: int) -> date:
    return START + timedelta(days=offset)


def repo(name: str) -> str:
    return f"{ORG}/lutece-{name}"


@dataclass
class Story:
    """Item numbers by story key, filled in as the script runs."""

    items: dict[str, tuple[str, int]] = field(default_factory=dict)
    gitlab: GitLabWorld | None = None  # Gent's forge, set by the runner

    def n(self, key: str) -> tuple[str, int]:
        return self.items[key]

    @property
    def lab(self) -> GitLabWorld:
        assert self.gitlab is not None, "the demo's GitLab is not running"
        return self.gitlab


Step = tuple[datetime, str, Callable[[Forge, Story], None]]


def _open(key: str, name: str, login: str, title: str, body: str) -> Callable[[Forge, Story], None]:
    def run(f: Forge, s: Story) -> None:
        s.items[key] = (repo(name), f.scenario.open_issue(repo(name), login, title, body))

    return run


def _pull(
    key: str, name: str, login: str, title: str, body: str, files: dict[str, str]
) -> Callable[[Forge, Story], None]:
    def run(f: Forge, s: Story) -> None:
        s.items[key] = (
            repo(name),
            f.scenario.open_pull(repo(name), login, title, body, files=files),
        )

    return run


def _comment(key: str, login: str, body: str) -> Callable[[Forge, Story], None]:
    def run(f: Forge, s: Story) -> None:
        r, n = s.n(key)
        f.scenario.comment(r, n, login, body)

    return run


def _review(key: str, login: str, state: str, body: str) -> Callable[[Forge, Story], None]:
    def run(f: Forge, s: Story) -> None:
        r, n = s.n(key)
        f.scenario.review(r, n, login, state, body)

    return run


def _merge(key: str, login: str) -> Callable[[Forge, Story], None]:
    def run(f: Forge, s: Story) -> None:
        r, n = s.n(key)
        f.scenario.merge(r, n, login)

    return run


def _close(key: str, login: str) -> Callable[[Forge, Story], None]:
    def run(f: Forge, s: Story) -> None:
        r, n = s.n(key)
        f.scenario.close(r, n, login)

    return run


def _push(key: str, login: str, files: dict[str, str]) -> Callable[[Forge, Story], None]:
    def run(f: Forge, s: Story) -> None:
        r, n = s.n(key)
        f.scenario.push_to_pull(r, n, login, files=files)

    return run


# -- on Gent's GitLab: numbers as Veilleur records them (a merge request apart from issues) --


def _gl_open(key: str, login: str, title: str, body: str) -> Callable[[Forge, Story], None]:
    def run(f: Forge, s: Story) -> None:
        iid = int(gl.open_issue(s.lab, GENT_PROJECT, login, title, body)["iid"])
        s.items[key] = (GENT_REPO, item_number(iid, False))

    return run


def _gl_merge_request(
    key: str, login: str, title: str, body: str, files: list[str]
) -> Callable[[Forge, Story], None]:
    def run(f: Forge, s: Story) -> None:
        mr = gl.open_merge_request(s.lab, GENT_PROJECT, login, title, body, files)
        s.items[key] = (GENT_REPO, item_number(int(mr["iid"]), True))

    return run


def _gl_comment(key: str, login: str, body: str) -> Callable[[Forge, Story], None]:
    def run(f: Forge, s: Story) -> None:
        kind, iid = split(s.n(key)[1])
        gl.comment(s.lab, GENT_PROJECT, iid, login, body, merge=kind == "merge_requests")

    return run


def steps() -> list[Step]:
    """The whole story, in order."""
    return [
        # -- week 1 -------------------------------------------------------------------------
        (
            at(d(0), 10),
            "Camille (citizen) reports a map bug in French; Hugo, who owns the map, will never answer",
            _open(
                "carto",
                "carto",
                P.citizen_fr,
                "La carte ne s'affiche pas sur mobile",
                "Bonjour, depuis la dernière mise à jour la carte des équipements ne s'affiche plus sur mon téléphone. Merci de votre aide.",
            ),
        ),
        (
            at(d(0), 11),
            "Jan (City of Gent) reports a form bug in Dutch",
            _open(
                "form",
                "form",
                P.gent,
                "Formulier verstuurt niet",
                "Hallo, het formulier voor een afspraak verstuurt niet als ik een bijlage toevoeg. Kunnen jullie dit bekijken?",
            ),
        ),
        (
            at(d(1), 9, 30),
            "Inès asks Jan which browser he uses",
            _comment("form", P.answering_maintainer, "Bedankt Jan! Welke browser gebruik je?"),
        ),
        (
            at(d(1), 11),
            "Alice (a supplier, OpenCity Ltd) proposes a documentation fix",
            _pull(
                "docs",
                "docs",
                P.citizen_en,
                "Fix the installation guide",
                "The installation guide refers to Java 8; Lutèce 7 needs Java 17.",
                {"docs/install.md": "Java 17 is required.\n"},
            ),
        ),
        (
            at(d(1), 15),
            "Paul, a private member of the city's org, opens an issue (GitHub calls him CONTRIBUTOR)",
            _open(
                "internal",
                "core",
                P.private_member,
                "Refonte du cache",
                "Je propose de remplacer le cache maison par Caffeine pour simplifier la maintenance.",
            ),
        ),
        (
            at(d(2), 8),
            "Dependabot opens a pull request",
            _pull(
                "bot",
                "core",
                P.bot,
                "Bump jackson-databind to 2.18.2",
                "Bumps jackson-databind.",
                {"pom.xml": "<project/>\n"},
            ),
        ),
        (
            at(d(2), 10),
            "Inès approves and merges Alice's fix",
            _review("docs", P.answering_maintainer, "APPROVED", "Thanks Alice!"),
        ),
        (at(d(2), 10, 5), "...", _merge("docs", P.answering_maintainer)),
        (
            at(d(2), 11),
            "Sanne asks, in Dutch, for a map layer on Gent's project (Gent's GitLab, which Paris's OSPO oversees)",
            _gl_open(
                "gent",
                P.gent_citizen,
                "Kaartlaag met fietsenstallingen",
                "Hallo, zou het mogelijk zijn om een kaartlaag met de fietsenstallingen van de stad toe te voegen? Dat zou veel bewoners helpen.",
            ),
        ),
        (at(d(2), 14), "Jan answers Inès", _comment("form", P.gent, "Firefox 128 op Windows 11.")),
        (
            at(d(3), 10, 30),
            "Inès fixes Jan's bug and closes the issue",
            _comment(
                "form", P.answering_maintainer, "Opgelost in versie 7.1.2, bedankt voor de melding!"
            ),
        ),
        (at(d(3), 10, 35), "...", _close("form", P.answering_maintainer)),
        (
            at(d(3), 10, 45),
            "Pieter, Gent's maintainer, answers Sanne on GitLab",
            _gl_comment(
                "gent",
                P.gent_maintainer,
                "Dank je Sanne, goed idee! Een merge request is welkom.",
            ),
        ),
        (
            at(d(3), 11),
            "Atos, the city's supplier, opens a pull request",
            _pull(
                "supplier",
                "workflow",
                P.supplier,
                "Ajout d'une étape de validation",
                "Ajoute l'étape de validation demandée par la DSIN.",
                {
                    "src/main.java": "class Main { void v() {} }\n",
                    "src/test/ValidationTest.java": "class T {}\n",
                },
            ),
        ),
        (
            at(d(4), 10),
            "Léa (City of Lyon) opens an issue with an empty description",
            _open("ical", "appointment", P.lyon, "Export iCal des rendez-vous", ""),
        ),
        # -- week 2 -------------------------------------------------------------------------
        (
            at(d(7), 9, 30),
            "Léa adds the details",
            _comment(
                "ical",
                P.lyon,
                "Nous aimerions exporter les rendez-vous au format iCal pour les agendas de nos agents, comme le fait déjà le module de Lyon.",
            ),
        ),
        (
            at(d(8), 11),
            "Marie triages Léa's request with commands",
            _comment(
                "ical",
                P.lead_maintainer,
                "Merci Léa !\n\n/triage accepted\n/label +amélioration\n/assign @ines",
            ),
        ),
        (
            at(d(8), 11, 30),
            "Alice tries a maintainer command on someone else's issue",
            _comment("ical", P.citizen_en, "/label +urgent"),
        ),
        (
            at(d(9), 10),
            "Inès answers Léa",
            _comment(
                "ical",
                P.answering_maintainer,
                "C'est prévu pour la version 7.2, nous vous tiendrons au courant.",
            ),
        ),
        (
            at(d(11), 16),
            "Bob opens an issue on Friday 10 July at 16:00, just before Bastille Day",
            _open(
                "search",
                "search",
                P.citizen_en_2,
                "Search ignores accents",
                "Searching for 'Hotel de Ville' does not find 'Hôtel de Ville'. The search should ignore accents.",
            ),
        ),
        # -- week 3 -------------------------------------------------------------------------
        (
            at(d(16), 10),
            "Sofia (City of Lyon) proposes a mobile feature",
            _pull(
                "mobile",
                "mobile",
                P.lyon_2,
                "Mode hors ligne pour l'application",
                "Ajoute un mode hors ligne à l'application mobile.",
                {"src/offline.java": "class Offline {}\n"},
            ),
        ),
        (
            at(d(17), 10),
            "Marie snoozes Sofia's pull request for a week",
            _comment("mobile", P.lead_maintainer, "/snooze 7d"),
        ),
        # -- week 4 -------------------------------------------------------------------------
        (
            at(d(21), 10),
            "Jan reports a notification problem in Dutch",
            _open(
                "notify",
                "notify",
                P.gent,
                "Meldingen komen dubbel binnen",
                "Hallo, sinds vorige week ontvangen onze gebruikers elke melding twee keer.",
            ),
        ),
        (
            at(d(23), 11),
            "Inès asks Sofia for a test",
            _review(
                "mobile",
                P.answering_maintainer,
                "CHANGES_REQUESTED",
                "Peux-tu ajouter un test pour le mode hors ligne ?",
            ),
        ),
        (
            at(d(24), 10),
            "Sofia pushes a test",
            _push("mobile", P.lyon_2, {"src/test/OfflineTest.java": "class OfflineTest {}\n"}),
        ),
        # -- week 5 -------------------------------------------------------------------------
        (
            at(d(28), 10),
            "Inès merges Sofia's pull request",
            _review("mobile", P.answering_maintainer, "APPROVED", "Merci Sofia !"),
        ),
        (at(d(28), 10, 5), "...", _merge("mobile", P.answering_maintainer)),
        (
            at(d(29), 10),
            "Alice opens an issue in English",
            _open(
                "theme",
                "theme",
                P.citizen_en,
                "Dark mode contrast is too low",
                "In dark mode the links are hard to read: the contrast ratio is below 3:1.",
            ),
        ),
        (
            at(d(29), 11),
            "Léa reports another need",
            _open(
                "sign",
                "document",
                P.lyon,
                "Signature électronique des documents",
                "Bonjour, nous aurions besoin de signer électroniquement les documents générés par le module.",
            ),
        ),
        (
            at(d(30), 14),
            "Jan proposes an updated Dutch translation",
            _pull(
                "i18n",
                "form",
                P.gent,
                "Nederlandse vertaling bijgewerkt",
                "Werkt de Nederlandse vertaling van de formulieren bij.",
                {
                    "src/i18n/messages_nl.properties": "submit=Verzenden\n",
                    "src/test/I18nTest.java": "class I18nTest {}\n",
                },
            ),
        ),
        (
            at(d(29), 14),
            "Sanne proposes the layer as a merge request on GitLab; Pieter is away and it waits",
            _gl_merge_request(
                "gent-mr",
                P.gent_citizen,
                "Kaartlaag fietsenstallingen toevoegen",
                "Voegt de kaartlaag met de fietsenstallingen toe, met een test. Graag een review!",
                ["src/layers/fietsenstallingen.js", "tests/fietsenstallingen.test.js"],
            ),
        ),
        (
            at(d(30), 16),
            "Camille asks again on her map issue",
            _comment(
                "carto",
                P.citizen_fr,
                "Bonjour, est-ce toujours d'actualité ? Le problème persiste.",
            ),
        ),
        # -- week 6 -------------------------------------------------------------------------
        (
            at(d(37), 10),
            "Marie answers Alice",
            _comment(
                "theme",
                P.lead_maintainer,
                "Thanks Alice, good catch. We will fix it in the next theme release.",
            ),
        ),
    ]
