"""History import benchmark: requests per 1,000 items and items/s against the simulated forge.

    .venv/bin/python bench/backfill.py [--repos 5] [--items 400] [--comments 3]
                                            [--db sqlite|postgres] [--progress]

Seeds an organization (a maintainer team, a partner organization, `.github/veilleur.yml`)
with `--repos` repositories of `--items` items each (half issues, half pull requests), every
item with `--comments` comments, every pull request a push and a review, some labeled,
assigned, closed or merged. Then imports it all with `bot.backfill.run` over real HTTP (the forge
in a thread, a fresh database) and counts every request the forge received during the
import: GraphQL pages, the people queries, config reads and the installation token.
Results: a Markdown table on stdout, bench/results/backfill-<db>.json.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bot.backfill.cli import RichProgress  # noqa: E402
from bot.backfill.run import Backfill  # noqa: E402
from bot.clock import FrozenClock  # noqa: E402
from bot.github.client import GitHubAPI, make_app_client  # noqa: E402
from bot.runtime import build_services  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.sim import Forge, ForgeServer  # noqa: E402
from bot.sim.history import seed_history  # noqa: E402
from bot.storage.db import make_engine  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402

PG_URL = os.environ.get("VEILLEUR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CONFIG = """\
maintainers:
  users: [hugo]
  teams: [mainteneurs]
partners:
  - name: Lyon
    github_orgs: [ville-de-lyon]
"""


def seed(forge: Forge, repos: int, items: int, comments: int) -> list[str]:
    forge.add_org("ville", description="Ville")
    forge.add_org("ville-de-lyon")
    citizens = [f"citoyen{i}" for i in range(40)]
    for login in citizens[:5]:
        forge.add_member("ville-de-lyon", login, public=True)
    forge.add_team("ville", "mainteneurs", maintainers=["marie", "hugo"], members=["paul"])
    names = []
    for r in range(repos):
        name = f"ville/projet-{r}"
        forge.add_repo(name, files={".github/veilleur.yml": CONFIG, "README.md": "# Projet\n"})
        forge.set_permission(name, "marie", "write")
        seed_history(
            forge, name, issues=items // 2, pulls=items - items // 2, comments=comments,
            authors=citizens[r::repos] or citizens, team=["marie", "hugo", "paul"],
        )  # fmt: skip
        names.append(name)
    forge.install("ville")
    return names


def database(kind: str) -> str:
    if kind == "postgres":
        return PG_URL
    return f"sqlite:///{tempfile.mkdtemp(prefix='veilleur-bench-')}/backfill.db"


async def run(args: argparse.Namespace) -> dict[str, object]:
    clock = FrozenClock(datetime(2025, 6, 2, 9, tzinfo=UTC))
    forge = Forge(clock)
    started = time.perf_counter()
    repos = seed(forge, args.repos, args.items, args.comments)
    seeded_s = time.perf_counter() - started
    url = database(args.db)
    if args.db == "postgres":
        url = f"{url}?options=-csearch_path%3Dbench_{uuid.uuid4().hex[:8]}"
        import psycopg

        schema = url.rsplit("%3D", 1)[1]
        with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    upgrade(url)
    engine = make_engine(url)
    with ForgeServer(forge) as server:
        settings = load_settings(
            app_id=forge.the_app.id, private_key=forge.private_key_pem,
            github_api_url=server.url, webhook_secret="bench", database_url=url,
        )  # fmt: skip
        inst = next(iter(forge.installations))
        api = GitHubAPI(make_app_client(settings), inst)
        services = build_services(settings, engine, clock)
        before = len(forge.requests)
        t0 = time.perf_counter()
        if args.progress:
            with RichProgress() as progress:
                backfill = Backfill(api, engine, clock, services=services, progress=progress)
                stats = await backfill.run_org("ville", repos)
        else:
            stats = await Backfill(api, engine, clock, services=services).run_org("ville", repos)
        seconds = time.perf_counter() - t0
        made = forge.requests[before:]
    engine.dispose()
    if args.db == "postgres":
        import psycopg

        with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{url.rsplit("%3D", 1)[1]}" CASCADE')
    graphql = sum(1 for r in made if r.path == "/graphql")
    return {
        "repos": args.repos,
        "items": stats.items,
        "timeline_entries": stats.entries_new,
        "requests": len(made),
        "graphql_requests": graphql,
        "rest_requests": len(made) - graphql,
        "requests_per_1000_items": round(1000 * len(made) / max(stats.items, 1), 2),
        "items_per_second": round(stats.items / seconds, 1),
        "seconds": round(seconds, 2),
        "seed_seconds": round(seeded_s, 2),
        "db": args.db,
        "failed": stats.failed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=5)
    parser.add_argument("--items", type=int, default=400, help="per repository")
    parser.add_argument("--comments", type=int, default=3, help="per item")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--progress", action="store_true", help="show the rich progress bar")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print("| repos | items | timeline entries | requests (GraphQL + REST) | per 1,000 | items/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| {result['repos']} | {result['items']} | {result['timeline_entries']} | "
        f"{result['requests']} ({result['graphql_requests']} + {result['rest_requests']}) | "
        f"{result['requests_per_1000_items']} | {result['items_per_second']} |"
    )
    out = HERE / "results" / f"backfill-{args.db}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if not result["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
