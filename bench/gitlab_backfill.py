"""GitLab history import benchmark: requests per 1,000 items against the simulated GitLab,
notes read through GraphQL (many items a request) and through REST alone, side by side.

    .venv/bin/python bench/gitlab_backfill.py [--items 1000] [--authors 60]
    .venv/bin/python bench/gitlab_backfill.py --commented 0.5 --notes 3   # one scenario

Seeds one project with `--items` items (four in five issues, one in five merge requests), a
share `--commented` of them with `--notes` notes each, written by `--authors` people, then
imports it twice with `bot.gitlab.backfill` over real HTTP (the simulated GitLab in a thread,
a fresh SQLite database each time): GraphQL on, then GraphQL off (REST only), and counts
every request GitLab received. Without `--commented`, the five scenarios of the README. Results:
a Markdown table on stdout, bench/results/gitlab_backfill.json.
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bot.clock import FrozenClock  # noqa: E402
from bot.gitlab.backfill import GitLabBackfill  # noqa: E402
from bot.gitlab.client import GitLabAPI  # noqa: E402
from bot.gitlab.transport import Transport  # noqa: E402
from bot.sim.gitlab import GitLabServer, GitLabWorld  # noqa: E402
from bot.sim.gitlab.items import add_note, new_item  # noqa: E402
from bot.storage.db import make_engine  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402


def seed(world: GitLabWorld, items: int, commented: float, notes: int, authors: int) -> int:
    """The project; returns how many items have notes."""
    world.add_group("ville")
    project = world.add_project("ville/kaart")
    world.add_member("ville", "veilleur-bot", 40)
    people = [world.add_user(f"burger{i}")["id"] for i in range(authors)]
    every = max(1, round(1 / commented)) if commented else 0
    with_notes = 0
    for i in range(items):
        author = people[i % authors]
        item = new_item(world, project, author, f"Item {i}", "tekst", merge=i % 5 == 4)
        if every and i % every == 0 and notes:
            with_notes += 1
            for k in range(notes):
                add_note(world, project, item, people[(i + k + 1) % authors], f"noot {k}")
    return with_notes


async def run_once(
    items: int, commented: float, notes: int, authors: int, graphql: bool
) -> dict[str, object]:
    world = GitLabWorld(FrozenClock(datetime(2026, 3, 2, 9, tzinfo=UTC)))
    with_notes = seed(world, items, commented, notes, authors)
    with tempfile.TemporaryDirectory() as tmp, GitLabServer(world) as server:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        transport = Transport(server.url, world.api_token, clock=world.clock)
        backfill = GitLabBackfill(make_engine(url), GitLabAPI(transport, "127.0.0.1"), world.clock)
        backfill.notes.graphql = graphql
        served = len(world.requests)
        started = time.perf_counter()
        done = await backfill.run("127.0.0.1/ville/kaart")
        seconds = time.perf_counter() - started
        await transport.aclose()
        requests = world.requests[served:]
    return {
        "items": done.items,
        "items_with_notes": with_notes,
        "notes_per_item": notes,
        "authors": authors,
        "graphql": graphql,
        "requests": len(requests),
        "graphql_requests": sum(1 for _, path in requests if path == "/api/graphql"),
        "highest_complexity": max(world.graphql_scores, default=0),
        "requests_per_1000_items": round(len(requests) * 1000 / max(done.items, 1), 1),
        "entries": done.entries,
        "items_per_second": round(done.items / seconds, 1),
    }


SCENARIOS = [(0.0, 3), (0.5, 3), (1.0, 3), (1.0, 20), (1.0, 60)]  # (share commented, notes)


async def run(args: argparse.Namespace) -> list[dict[str, object]]:
    scenarios = SCENARIOS if args.commented is None else [(args.commented, args.notes)]
    out = []
    for commented, notes in scenarios:
        for graphql in (True, False):
            out.append(await run_once(args.items, commented, notes, args.authors, graphql))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--commented", type=float, default=None)
    parser.add_argument("--notes", type=int, default=3)
    parser.add_argument("--authors", type=int, default=60)
    results = asyncio.run(run(parser.parse_args()))
    print("| items | with notes | notes each | GraphQL | REST only | highest complexity |")
    print("|---:|---:|---:|---:|---:|---:|")
    for on, off in zip(results[::2], results[1::2], strict=True):
        assert on["entries"] == off["entries"], "both ways must record the same history"
        cells = [on["items"], on["items_with_notes"], on["notes_per_item"]]
        cells += [f"{on['requests_per_1000_items']:g}", f"{off['requests_per_1000_items']:g}"]
        cells += [on["highest_complexity"] or "-"]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    out = HERE / "results" / "gitlab_backfill.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
