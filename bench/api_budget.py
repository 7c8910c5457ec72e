"""API budget benchmark: GitHub requests per new outside issue and per delivery on a busy repo.

    .venv/bin/python bench/api_budget.py [--people 12] [--rounds 3]

The real Veilleur server (SQLite, embedded worker) against the simulated forge seeded with the
test city (tests/harness.py: maintainers, a partner city, an internal supplier). After a
warm-up (installation, first events), replays realistic traffic on one repository: outside
issues by new and returning people, maintainers answering (some with a question), authors
replying, label changes by maintainers, outside pull requests with reviews. Every request the
forge received is counted from its request log, with Veilleur's deliveries (its own echoes
included). Results: a Markdown table on stdout, bench/results/api_budget.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sqlalchemy import func, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.clock import FrozenClock  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.sim import Forge, ForgeServer, ThreadedServer, generate_app_keypair  # noqa: E402
from bot.storage.models import Delivery  # noqa: E402
from tests.harness import Harness, seed_city  # noqa: E402

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning
MINUTES_BETWEEN_EVENTS = 2.0
# Reads of `.github/veilleur.yml` (repository and organisation) and of the organisation's
# template overrides: refreshed every VEILLEUR_CONFIG_CACHE_SECONDS, whatever the event.
REFRESH = "GET /repos/{owner}/{repo}/contents/{path}"
ISSUE = "The map page stays blank on mobile since the last update. Steps: open /carte on a phone."


class Window:
    """Requests and deliveries between two instants of the replay."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.requests0 = len(h.forge.requests)
        self.deliveries0 = deliveries_count(h)

    def close(self) -> tuple[list[str], int]:
        self.h.wait()
        reqs = sorted(self.h.forge.requests[self.requests0 :], key=lambda r: r.arrival)
        return [f"{r.method} {r.template or r.path}" for r in reqs], deliveries_count(
            self.h
        ) - self.deliveries0


def deliveries_count(h: Harness) -> int:
    with Session(h.engine) as s:
        return int(s.execute(select(func.count()).select_from(Delivery)).scalar_one())


def step(h: Harness) -> None:
    h.clock.advance(timedelta(minutes=MINUTES_BETWEEN_EVENTS))


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
    print("\nRequests of the busy phase, by route:")
    for route, n in results["busy_by_route"].items():
        print(f"  {n:5d}  {route}")
    if failures:
        print(f"\n{len(failures)} deliveries failed", file=sys.stderr)
        sys.exit(1)


def replay(h: Harness, city, args: argparse.Namespace) -> dict[str, object]:
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
    new_counts: list[int] = []
    known_counts: list[int] = []
    new_own: list[int] = []  # without the TTL refreshes of configuration and templates
    known_own: list[int] = []
    busy = Window(h)
    busy_requests: list[str] = []
    for i, login in enumerate(people):
        step(h)
        w = Window(h)
        number = scen.open_issue(repo, login, f"Blank map #{i}", ISSUE)
        reqs, _ = w.close()
        new_counts.append(len(reqs))
        new_own.append(len([r for r in reqs if r != REFRESH]))
        if args.verbose:
            print(f"new issue by {login}:", *reqs, sep="\n  ")
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
            w = Window(h)
            scen.open_issue(repo, login, f"Another detail #{i}", ISSUE)
            reqs, _ = w.close()
            known_counts.append(len(reqs))
            known_own.append(len([r for r in reqs if r != REFRESH]))
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
    busy_requests, busy_deliveries = busy.close()
    return {
        "new_issue_new_person": sum(new_counts) / len(new_counts),
        "new_issue_new_person_each": new_counts,
        "new_issue_known": sum(known_counts) / max(len(known_counts), 1),
        "new_issue_new_person_own_max": max(new_own),
        "new_issue_known_own_max": max(known_own, default=0),
        "new_issue_known_each": known_counts,
        "busy_requests": len(busy_requests),
        "busy_deliveries": busy_deliveries,
        "per_delivery": len(busy_requests) / max(busy_deliveries, 1),
        "busy_by_route": dict(Counter(busy_requests).most_common()),
    }


if __name__ == "__main__":
    main()
