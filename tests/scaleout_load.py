"""The load of the scale-out test and benchmark: deliveries in the real shape, logged by the
forge without being sent, and what the forge must show once they are processed."""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass

from bot.sim import Forge
from bot.sim.delivery import Delivery
from tests.harness import City

BODY = (
    "Bonjour, la carte des équipements publics ne s'affiche plus sur mobile depuis la mise à "
    "jour de mardi. J'ai essayé avec deux navigateurs différents, même résultat. Merci !"
)
MARKER = re.compile(r"<!-- (veilleur:[^\s]+) -->")


@dataclass
class Load:
    chains: list[list[Delivery]]  # per item, in order; the first chain is the installation
    authors: dict[int, str]  # issue number -> author
    first_timers: set[str]  # authors of exactly one issue
    guids: int  # distinct GUIDs

    @property
    def sent(self) -> int:
        return sum(len(c) for c in self.chains)


def build_load(
    forge: Forge,
    city: City,
    *,
    repeaters: int,
    first_timers: int,
    issues_each: int,
    edits: int,
    copies: int,
    total: int,
    seed: int = 7,
) -> Load:
    """Deliveries in the real shape, logged by the forge without being sent: issues opened by
    `repeaters` users (`issues_each` each) and `first_timers` users (one each), `edits` edits
    per issue, `copies` re-sent contents under a new GUID, then same-GUID duplicates and
    redeliveries up to `total`."""
    rng = random.Random(seed)
    forge.webhook_url = None
    inst = forge.scenario.install(city.org)
    assert inst
    chains: list[list[Delivery]] = [[forge.deliveries[-1]]]
    logins = [f"r{i:04d}" for i in range(repeaters)] + [f"f{i:04d}" for i in range(first_timers)]
    for login in logins:
        forge.add_user(login)
    order = [lg for lg in logins[:repeaters] for _ in range(issues_each)] + logins[repeaters:]
    rng.shuffle(order)
    authors: dict[int, str] = {}
    for k, login in enumerate(order):
        n = forge.scenario.open_issue(city.repo, login, f"Carte cassée {k}", BODY)
        authors[n] = login
        chain = [forge.deliveries[-1]]
        for e in range(edits):
            forge.scenario.edit_issue(city.repo, n, login, body=f"{BODY} (précision {e})")
            chain.append(forge.deliveries[-1])
        chains.append(chain)
    for chain in rng.sample(chains[1:], copies):  # same content, new GUID (a second hook)
        chain.append(forge.hooks.record("issues", chain[0].payload))
    guids = sum(len(c) for c in chains)
    while sum(len(c) for c in chains) < total:
        chain = rng.choice(chains[1:])
        i = rng.randrange(len(chain))
        if rng.random() < 0.5:
            chain.insert(i + 1, chain[i])  # duplicate: the same GUID again at once
        else:
            chain.append(forge.hooks.redelivery(chain[i]))  # redelivery, later, same GUID
    return Load(chains, authors, set(logins[repeaters:]), guids)


def check_forge(forge: Forge, city: City, load: Load) -> None:
    """Exactly one welcome per first-timer, none for the others, no marked comment twice."""
    repo = forge.get_repo(city.repo)
    marks: Counter[tuple[int, str]] = Counter()
    welcomes: Counter[int] = Counter()
    for c in repo.comments.values():
        if c.user != forge.bot_login:
            continue
        for m in MARKER.findall(c.body):
            marks[(c.issue_number, m)] += 1
            if m.startswith("veilleur:welcome:"):
                welcomes[c.issue_number] += 1
    assert [k for k, n in marks.items() if n > 1] == []
    for number, author in load.authors.items():
        assert welcomes[number] == (1 if author in load.first_timers else 0), (number, author)
