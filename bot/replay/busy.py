"""A realistic busy public-sector organisation: 500 repositories, one year, for the replay.

What the figures are based on (and what they are not):
- **Activity per repository is heavy-tailed, and many repositories are quiet.** Feld, "The
  government GitHub ecosystem" (2016, https://emanuelfeld.org/blog/2016/04/27/government-github-ecosystem):
  across 600+ government organisations, 14 % of repositories had no activity after being
  posted and 46 % were still developed a year after creation -> `DORMANT_SHARE`.
  The volume of the active ones follows the per-project pull-request percentiles that
  explore.dev measured on GH Archive, Q1 2020 (https://explore.dev/2020s-pull-requests-part-ii/):
  median 2, p90 18 pull requests per project and quarter -> a log-normal of median 8 and
  p90 72 items a year (`ITEMS_MEDIAN`, `ITEMS_P90`). That sample is all starred public
  projects, not only public-sector ones: no public-sector-only percentiles were found.
- **First responses come late and sometimes never.** CHAOSS defines Time to First Response
  (https://chaoss.community/practitioner-guide-responsiveness/); Hasan et al., "Understanding
  the Time to First Response in GitHub Pull Requests" (MSR 2023, arXiv:2304.08426) find the
  human first response much slower than the bots' and slowest in projects with a heavy team
  workload and a low acceptance rate, which is the public-sector situation the issue
  describes; Wyrich et al., "Bots Don't Mind Waiting, Do They?" (MSR 2021, arXiv:2103.03591)
  measure a median of 14 minutes to the first interaction with a human pull request in
  popular projects. No published distribution of first-response times for public-sector
  repositories was found: `FIRST_RESPONSE_MIX` is **our assumption**, slower than popular
  projects (a third answered within a business day, one in ten after two weeks, one in
  twenty never). The replay's figures depend on it; change it to try other organisations.
- Everything else (shares of pull requests, outside authors, questions, label and
  assignment habits) is stated next to its constant, as an assumption.

Deterministic for a given seed; no I/O.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.replay.history import Entry, History, ItemRecord
from bot.storage.models import TimelineKind as K

TZ = ZoneInfo("Europe/Paris")
DORMANT_SHARE = 0.14  # Feld 2016: no activity after being posted
ITEMS_MEDIAN, ITEMS_P90, ITEMS_MAX = 8.0, 72.0, 600  # explore.dev 2020, x4 quarters
OUTSIDE_SHARE = 0.35  # assumption: most activity of a public body's repository is internal
PARTNER_SHARE = 0.2  # assumption: of outside authors, people from partner administrations
PULL_SHARE = 0.55  # assumption
# (share, business days low, high), None: never answered. Assumption, see the docstring.
FIRST_RESPONSE_MIX: tuple[tuple[float, float | None, float | None], ...] = (
    (0.35, 0.02, 1.0),
    (0.30, 1.0, 3.0),
    (0.20, 3.0, 10.0),
    (0.10, 10.0, 30.0),
    (0.05, None, None),
)
EARLY_TRIAGE_SHARE = 0.3  # assumption: a label or an assignment before the first answer
ASKS_AUTHOR_SHARE = 0.4  # assumption: the answer asks the author something
AUTHOR_REPLIES_SHARE = 0.7  # assumption
SHORT_BODY_SHARE = 0.1  # assumption: issues too short for the request-info check
MAINTAINER_POOL = 150  # people; each repository has 2 to 4 of them
OUTSIDE_POOL = 3000  # logins; reuse is Zipf-like (a few return, most come once)

ORG_CONFIG: dict[str, Any] = {
    "language": "fr",
    "calendar": {"timezone": "Europe/Paris", "country": "FR"},
    "sla": {
        "first_response_days": 3,
        "follow_up_days": 5,
        "remind_every_days": 2,
        "escalate_after_days": 10,
        "max_reminders": 3,
    },
    "ospo": {"team": "@ville/ospo", "repository": "ville/ospo", "emails": ["ospo@ville.example"]},
}


@dataclass
class _Clock:
    """Working hours on weekdays (09:00-18:00 Paris), business days as 24 h of weekdays."""

    def add_business_days(self, t: datetime, days: float) -> datetime:
        out = t
        whole = int(days)
        for _ in range(whole):
            out += timedelta(days=1)
            while out.astimezone(TZ).weekday() >= 5:
                out += timedelta(days=1)
        out += timedelta(days=days - whole)
        while out.astimezone(TZ).weekday() >= 5:
            out += timedelta(days=1)
        return self.office(out)

    def office(self, t: datetime) -> datetime:
        """People act in office hours: a moment outside them moves to the next morning."""
        local = t.astimezone(TZ)
        if local.hour < 9:
            local = local.replace(hour=9, minute=local.minute % 60)
        elif local.hour >= 18:
            local = (local + timedelta(days=1)).replace(hour=9)
        while local.weekday() >= 5:
            local += timedelta(days=1)
        return local.astimezone(UTC)


def _lognormal_count(rng: random.Random) -> int:
    sigma = math.log(ITEMS_P90 / ITEMS_MEDIAN) / 1.2816  # z of the 90th percentile
    return min(ITEMS_MAX, max(1, round(rng.lognormvariate(math.log(ITEMS_MEDIAN), sigma))))


def _first_response(rng: random.Random) -> float | None:
    x, acc = rng.random(), 0.0
    for share, lo, hi in FIRST_RESPONSE_MIX:
        acc += share
        if x < acc:
            return None if lo is None or hi is None else rng.uniform(lo, hi)
    return None


class _Gen:
    def __init__(self, org: str, start: date, days: int, repos: int, seed: int) -> None:
        self.org, self.rng, self.clock = org, random.Random(seed), _Clock()
        self.start = datetime.combine(start, time(0), TZ).astimezone(UTC)
        self.end = self.start + timedelta(days=days)
        self.n_repos = repos
        self.items: list[ItemRecord] = []
        self.entries: dict[tuple[str, int], list[Entry]] = {}
        self.configs: dict[str, Any] = {}

    def moment(self) -> datetime:
        t = self.start + timedelta(
            seconds=self.rng.uniform(0, (self.end - self.start).total_seconds())
        )
        return self.clock.office(t) if self.rng.random() < 0.8 else t

    def outsider(self) -> tuple[str, str]:
        n = min(OUTSIDE_POOL - 1, int(self.rng.paretovariate(1.2)) - 1)
        n = n if self.rng.random() < 0.5 else self.rng.randrange(OUTSIDE_POOL)
        cls = "partner" if n % round(1 / PARTNER_SHARE) == 0 else "external"  # fixed per login
        return f"contrib-{n:04d}", cls

    def run(self) -> History:
        from bot.config.loader import load_default, validate_layers

        default = load_default()
        people = [f"agent-{i:03d}" for i in range(MAINTAINER_POOL)]
        names = [f"{self.org}/app-{i:03d}" for i in range(self.n_repos)]
        for repo in names:
            maintainers = self.rng.sample(people, self.rng.randint(2, 4))
            layer = dict(ORG_CONFIG) | {"maintainers": {"users": maintainers}}
            cfg, errors = validate_layers(default, (layer, "generated"), None)
            if cfg is None:
                raise ValueError(f"generated configuration refused: {errors}")
            self.configs[repo] = cfg.model_dump_json(by_alias=True)
            if self.rng.random() < DORMANT_SHARE:
                continue
            for number in range(1, _lognormal_count(self.rng) + 1):
                self.item(repo, number, maintainers)
        self.items.sort(key=lambda i: i.created_at)
        return History(self.org, names, self.items, self.entries, self.configs, None)

    def item(self, repo: str, number: int, maintainers: list[str]) -> None:
        rng = self.rng
        at = self.moment()
        pull = rng.random() < PULL_SHARE
        outside = rng.random() < OUTSIDE_SHARE
        author, cls = self.outsider() if outside else (rng.choice(maintainers), "maintainer")
        short = not pull and rng.random() < SHORT_BODY_SHARE
        body = "Bug." if short else (
            "Bonjour, la page de recherche renvoie une erreur quand le formulaire est vide. "
            "Étapes : ouvrir la page, valider sans rien saisir. Merci pour votre travail."
        )  # fmt: skip
        rec = ItemRecord(repo, number, "pull" if pull else "issue",
                         f"Correction du formulaire {number}", author, cls, at, body)  # fmt: skip
        self.items.append(rec)
        ents = [Entry(K.OPENED, at, author, cls, {"draft": False} if pull else {})]
        self.entries[(repo, number)] = ents
        if not outside:
            self.inside(ents, at, author, maintainers, pull)
            return
        t = at
        if rng.random() < EARLY_TRIAGE_SHARE:
            who = rng.choice(maintainers)
            t2 = self.clock.add_business_days(at, rng.uniform(0.05, 1.5))
            if rng.random() < 0.5:
                ents.append(Entry(K.LABELED, t2, who, "maintainer", {"label": "bug"}))
            else:
                ents.append(Entry(K.ASSIGNED, t2, who, "maintainer", {"assignee": who}))
        for _round in range(3):
            delay = _first_response(rng)
            if delay is None:
                break
            t = self.clock.add_business_days(t, delay)
            who = rng.choice(maintainers)
            asks = rng.random() < ASKS_AUTHOR_SHARE
            if pull and rng.random() < 0.6:
                state = "changes_requested" if asks else "approved"
                ents.append(Entry(K.REVIEWED, t, who, "maintainer", {"state": state, "body": ""}))
            else:
                text = "Pouvez-vous préciser la version ?" if asks else "Merci, nous regardons."
                ents.append(
                    Entry(K.COMMENTED, t, who, "maintainer", {"body": text, "asks_author": asks})
                )
            if not asks or rng.random() > AUTHOR_REPLIES_SHARE:
                if not asks:
                    t = self.clock.add_business_days(t, rng.uniform(0.1, 5))
                    kind = K.MERGED if pull and rng.random() < 0.7 else K.CLOSED
                    ents.append(Entry(kind, t, who, "maintainer", {}))
                break
            t = self.clock.add_business_days(t, rng.lognormvariate(math.log(2), 0.8))
            kind = K.PUSHED if pull and rng.random() < 0.5 else K.COMMENTED
            detail = {"sha": f"{number:x}{_round}"} if kind == K.PUSHED else {"body": "Voilà."}
            ents.append(Entry(kind, t, author, cls, detail))
        ents.sort(key=lambda e: e.occurred_at)

    def inside(
        self, ents: list[Entry], at: datetime, author: str, maintainers: list[str], pull: bool
    ) -> None:
        rng, t = self.rng, at
        for _ in range(rng.randint(0, 3)):
            t = self.clock.add_business_days(t, rng.uniform(0.05, 3))
            who = rng.choice(maintainers)
            ents.append(Entry(K.COMMENTED, t, who, "maintainer", {"body": "OK pour moi."}))
        t = self.clock.add_business_days(t, rng.uniform(0.1, 5))
        ents.append(Entry(K.MERGED if pull else K.CLOSED, t, author, "maintainer", {}))


def busy_org(
    org: str = "ville",
    start: date = date(2025, 1, 6),
    days: int = 365,
    repos: int = 500,
    seed: int = 17,
) -> History:
    """The generated organisation's history (see the module docstring for its sources)."""
    return _Gen(org, start, days, repos, seed).run()


def config_for(history: History) -> Any:
    """Repository -> VeilleurConfig of the generated organisation (its recorded configs)."""
    from bot.replay.cli import config_source

    return config_source(None, history.configs)
