"""API budget benchmark: GitHub requests per new outside issue and per delivery on a busy repo.

    .venv/bin/python bench/api_budget.py [--people 12] [--rounds 3]

The real Veilleur server (SQLite, embedded worker) against the simulated forge seeded with the
test city (tests/harness.py: maintainers, a partner city, an internal supplier). After a
warm-up (installation, first events), replays realistic traffic on one repository: outside
issues by new and returning people, maintainers answering (some with a question), authors
replying, label changes by maintainers, outside pull requests with reviews. Every request the
forge received is counted from its request log, with Veilleur's deliveries (its own echoes
included); an event's requests are those made while its delivery ran (`Harness.requests_of`),
so the echoes of Veilleur's own actions and the events around it are not counted against it,
and reads of the configuration (`is_config_refresh`) are shown apart. Results: a Markdown
table on stdout, bench/results/api_budget.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sqlalchemy import func, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.clock import FrozenClock  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.sim import Forge, ForgeServer, ThreadedServer, generate_app_keypair  # noqa: E402
from bot.sim.forge import RecordedRequest  # noqa: E402
from bot.storage.models import Delivery  # noqa: E402
from tests.harness import Harness, is_config_refresh, seed_city  # noqa: E402

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning
MINUTES_BETWEEN_EVENTS = 2.0
ISSUE = "The map page stays blank on mobile since the last update. Steps: open /carte on a phone."


def deliveries_count(h: Harness) -> int:
    with Session(h.engine) as s:
        return int(s.execute(select(func.count()).select_from(Delivery)).scalar_one())


def step(h: Harness) -> None:
    """The next event comes minutes later: Veilleur has handled the previous one by then (and
    the labels it set are in the next payload, so that runs count the same label changes)."""
    h.wait()
    h.clock.advance(timedelta(minutes=MINUTES_BETWEEN_EVENTS))


def route(r: RecordedRequest) -> str:
    return f"{r.method} {r.template or r.path}"


class Counted:
    """Requests of the deliveries of some events, each counted against itself
    (`Harness.requests_of`): all of them, and without the configuration's refreshes."""

    def __init__(self) -> None:
        self.each: list[int] = []
        self.own: list[int] = []

    def add(self, h: Harness, sent: list[Any]) -> list[str]:
        reqs = h.requests_of(*sent)
        self.each.append(len(reqs))
        self.own.append(len([r for r in reqs if not is_config_refresh(r)]))
        return [route(r) for r in reqs]

    def mean(self, own: bool = False) -> float:
        values = self.own if own else self.each
        return sum(values) / max(len(values), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=12, help="new outside people")
    parser.add_argument("--rounds", type=int, default=3, help="conversation turns per issue")
    parser.add_argument("--verbose", action="store_true", help="print each new issue's requests")
    parser.add_argument("--minutes", type=float, default=2.0, help="simulated time between events")
    args = parser.parse_args()
    global MINUTES_BETWEEN_EVENTS
    MINUTES_BETWEEN_EVENTS = args.minutes

    keys = generate_app_keypair()
    clock = FrozenClock(START)
    forge = Forge(clock, app_key=keys)
    city = seed_city(forge)
    tmp = Path(tempfile.mkdtemp())
    with ForgeServer(forge) as forge_server:
        settings = load_settings(
            app_id=forge.the_app.id,
            private_key=keys.private_pem,
            github_api_url=forge_server.url,
            webhook_secret=forge.webhook_secret,
            github_timeout_seconds=5.0,
            database_url=f"sqlite:///{tmp / 'veilleur.db'}",
            retry_base_seconds=0.01,
            log_format="text",
            log_level="WARNING",
        )
        app = create_app(settings, clock=clock)
        server = ThreadedServer(app, lifespan="on")
        server.start()
        forge.webhook_url = f"{server.url}/webhooks/github"
        h = Harness(forge, clock, settings, app)
        try:
            results = replay(h, city, args)
        finally:
            server.stop()
    failures = h.failures()
    results["failed_deliveries"] = len(failures)
    out = HERE / "results" / "api_budget.json"
    out.write_text(json.dumps({"date": datetime.now(UTC).isoformat(), **results}, indent=1))
    print("| measure | requests | target |")
    print("|---|---:|---|")
    print(f"| new outside issue, new person (mean) | {results['new_issue_new_person']:.2f} | ≤ 6 |")
    print(f"| new outside issue, returning person (mean) | {results['new_issue_known']:.2f} | |")
    print(
        "| the same without configuration refreshes (max) |"
        f" {results['new_issue_new_person_own_max']} / {results['new_issue_known_own_max']} | ≤ 6 |"
    )
    print(
        f"| per delivery, busy repository ({results['busy_deliveries']} deliveries)"
        f" | {results['per_delivery']:.2f} | ≤ 2.5 |"
    )
    print(
        f"| per event by a person ({results['events_by_people']} events; without refreshes)"
        f" | {results['per_event_by_people']:.2f} ({results['per_event_by_people_own']:.2f}) | |"
    )
    print(
        f"\nConfiguration and template reads in the busy phase: {results['config_refreshes']},"
        f" answered 304 Not Modified (not counted by GitHub's rate limit):"
        f" {results['not_modified']}"
    )
    print("\nRequests of the busy phase, by route:")
    for route, n in results["busy_by_route"].items():
        print(f"  {n:5d}  {route}")
    if failures:
        print(f"\n{len(failures)} deliveries failed", file=sys.stderr)
        sys.exit(1)


def replay(h: Harness, city: Any, args: argparse.Namespace) -> dict[str, Any]:
    forge, repo, scen = h.forge, city.repo, h.forge.scenario
    scen.install(city.org)
    h.wait()
    # Warm-up: the installation token, the configuration, the maintainers' classes.
    warm = scen.open_issue(repo, city.citizen_en, "Warm-up", ISSUE)
    h.wait()
    scen.comment(repo, warm, city.maintainer, "Thanks, looking.")
    scen.comment(repo, warm, city.second_maintainer, "Confirmed.")
    h.wait()

    people = [f"visitor{i}" for i in range(args.people)]
    for login in people:
        forge.add_user(login)
    new_person: list[list[Any]] = []  # the deliveries of each new outside issue
    returning: list[list[Any]] = []
    busy_start, deliveries0 = len(forge.requests), deliveries_count(h)
    sent0 = len(forge.deliveries)

    def opened(login: str, title: str) -> tuple[int, list[Any]]:
        """A new issue, and the deliveries it caused (not the echoes of Veilleur's actions)."""
        start = len(forge.deliveries)
        number = scen.open_issue(repo, login, title, ISSUE)
        return number, h.sent_since(start)

    for i, login in enumerate(people):
        step(h)
        number, sent = opened(login, f"Blank map #{i}")
        new_person.append(sent)
        for turn in range(args.rounds):
            step(h)
            ask = "Which phone and browser do you use?" if turn == 0 else "Thanks, fixed in main."
            scen.comment(repo, number, city.maintainer if i % 2 else city.second_maintainer, ask)
            step(h)
            scen.comment(repo, number, login, "A Pixel 7 with Firefox. Thank you!")
        step(h)
        scen.label(repo, number, city.maintainer, "cartographie")
        if i % 3 == 0:  # returning: a second issue by the same person
            step(h)
            returning.append(opened(login, f"Another detail #{i}")[1])
        if i % 4 == 0:  # an outside pull request, reviewed
            step(h)
            pr = scen.open_pull(
                repo, login, f"Fix map #{i}", "Fixes #1. Signed-off-by: V <v@example.org>",
                files=("src/map.js", "tests/test_map.js", "CHANGELOG.md"),
            )  # fmt: skip
            step(h)
            scen.review(repo, pr, city.maintainer, "CHANGES_REQUESTED", "Please add a test?")
            step(h)
            scen.comment(repo, pr, login, "Done, thanks.")
            step(h)
            scen.review(repo, pr, city.maintainer, "APPROVED", "Looks good.")
        h.wait()
    h.wait()
    busy = [route(r) for r in sorted(forge.requests[busy_start:], key=lambda r: r.arrival)]
    busy_deliveries = deliveries_count(h) - deliveries0
    new, known, by_people = Counted(), Counted(), Counted()
    for d in new_person:
        reqs = new.add(h, d)
        if args.verbose:
            print("new issue by a new person:", *reqs, sep="\n  ")
    for d in returning:
        known.add(h, d)
    for one in h.sent_since(sent0):  # every event by a person, each with its own requests
        by_people.add(h, [one])
    return {
        "new_issue_new_person": new.mean(),
        "new_issue_new_person_each": new.each,
        "new_issue_new_person_own_max": max(new.own),
        "new_issue_known": known.mean(),
        "new_issue_known_each": known.each,
        "new_issue_known_own_max": max(known.own, default=0),
        "events_by_people": len(by_people.each),
        "per_event_by_people": by_people.mean(),
        "per_event_by_people_own": by_people.mean(own=True),
        "busy_requests": len(busy),
        "busy_deliveries": busy_deliveries,
        "per_delivery": len(busy) / max(busy_deliveries, 1),
        "config_refreshes": len([r for r in forge.requests[busy_start:] if is_config_refresh(r)]),
        # conditional reads answered 304 (counted above as requests; GitHub's rate limit
        # does not count them)
        "not_modified": len([r for r in forge.requests[busy_start:] if r.status == 304]),
        "busy_by_route": dict(Counter(busy).most_common()),
    }


if __name__ == "__main__":
    main()
