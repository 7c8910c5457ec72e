"""GitLab history import benchmark: requests per 1,000 items against the simulated GitLab.

    .venv/bin/python bench/gitlab_backfill.py [--items 1000] [--commented 0.6] [--authors 60]

Seeds one project with `--items` items (four in five issues, one in five merge requests), a
share `--commented` of them with three notes each, written by `--authors` people, then imports
it with `bot.gitlab.backfill` over real HTTP (the simulated GitLab in a thread, a fresh SQLite
database) and counts every request GitLab received. Results: a Markdown table on stdout,
bench/results/gitlab_backfill.json.
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


def seed(world: GitLabWorld, items: int, commented: float, authors: int) -> None:
    world.add_group("ville")
    project = world.add_project("ville/kaart")
    world.add_member("ville", "veilleur-bot", 40)
    people = [world.add_user(f"burger{i}")["id"] for i in range(authors)]
    every = max(1, round(1 / commented)) if commented else 0
    for i in range(items):
        author = people[i % authors]
        item = new_item(world, project, author, f"Item {i}", "tekst", merge=i % 5 == 4)
        if every and i % every == 0:
            for k in range(3):
                add_note(world, project, item, people[(i + k + 1) % authors], f"noot {k}")


async def run(args: argparse.Namespace) -> dict[str, object]:
    world = GitLabWorld(FrozenClock(datetime(2026, 3, 2, 9, tzinfo=UTC)))
    seed(world, args.items, args.commented, args.authors)
    with tempfile.TemporaryDirectory() as tmp, GitLabServer(world) as server:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        transport = Transport(server.url, world.api_token, clock=world.clock)
        backfill = GitLabBackfill(make_engine(url), GitLabAPI(transport, "127.0.0.1"), world.clock)
        served = len(world.requests)
        started = time.perf_counter()
        done = await backfill.run("127.0.0.1/ville/kaart")
        seconds = time.perf_counter() - started
        await transport.aclose()
        requests = len(world.requests) - served
    return {
        "items": done.items,
        "commented_items": sum(
            1
            for i in range(args.items)
            if args.commented and i % max(1, round(1 / args.commented)) == 0
        ),
        "authors": args.authors,
        "requests": requests,
        "requests_per_1000_items": round(requests * 1000 / max(done.items, 1), 1),
        "items_per_second": round(done.items / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--commented", type=float, default=0.6)
    parser.add_argument("--authors", type=int, default=60)
    result = asyncio.run(run(parser.parse_args()))
    print("| items | commented | authors | requests | per 1,000 items | items/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    cells = ("items", "commented_items", "authors", "requests", "requests_per_1000_items")
    print("| " + " | ".join(str(result[c]) for c in cells) + f" | {result['items_per_second']} |")
    out = HERE / "results" / "gitlab_backfill.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
