"""Digest benchmark: one year of history for 500 repositories, then `compute_digest` timed.

    .venv/bin/python bench/digest.py [--db sqlite|postgres|both] [--items 200000]
                                          [--repos 500] [--orgs 1] [--runs 3] [--keep]
                                          [--url DATABASE_URL] [--proposed-indexes]

The record is generated straight into a migrated database (SQLAlchemy core executemany,
deterministic seed): ~10 timeline entries per item (comments, reviews, pushes, labels,
closes, merges, snoozes, slash commands), outside and inside authors, partners, companies,
bots, stored configs. PostgreSQL gets a dedicated schema, dropped afterwards unless --keep.
Target: one org's digest in under 5 s. Results: a table, bench/results/digest-<db>[-<N>orgs].json
(wall and CPU seconds, and the load average: the machine may be shared). `--url` times a
database generated earlier (--keep); `--proposed-indexes` adds the index suggested for
`items` first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from bot.config.schema import VeilleurConfig  # noqa: E402
from bot.digest.compute import compute_digest  # noqa: E402
from bot.storage.db import make_engine  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402
from bot.storage.models import ConfigRecord, Item, Repository, TimelineEntry  # noqa: E402

PG_URL = os.environ.get("VEILLEUR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)  # a Wednesday; the digest is for 2026-W10
BOT = "veilleur-app[bot]"
COMPANIES = [f"Company {i}" for i in range(150)]
PARTNERS = {"Lyon": "ville-de-lyon", "Nantes": "nantes-metropole", "Atos": "atos"}
CONFIG = VeilleurConfig.model_validate(
    {
        "partners": [{"name": n, "github_orgs": [o]} for n, o in PARTNERS.items()],
        "sla": {"first_response_days": 3},
        "digest": {"enabled": True, "emails": ["ospo@example.org"]},
    }
)
BODY = "Thanks for the report. " * 8
ITEMS, TIMELINE = Item.__table__, TimelineEntry.__table__  # type: ignore[attr-defined]


class World:
    """Authors and their classes, with a long tail of occasional outside contributors."""

    def __init__(self, rnd: random.Random, items: int) -> None:
        self.rnd = rnd
        self.team = [(f"m-{i}", "maintainer" if i % 3 else "member") for i in range(120)]
        self.suppliers = [(f"sup-{i}", "internal_partner") for i in range(20)]
        self.partners = [(f"p-{i}", "partner", list(PARTNERS)[i % 3]) for i in range(150)]
        self.externals = max(1000, items // 6)

    def author(self) -> tuple[str, str, str | None, str | None, list[str]]:
        """(login, class, company, email domain, labels)."""
        r = self.rnd.random()
        if r < 0.27:
            login, cls = self.rnd.choice(self.team)
            return login, cls, "City", None, []
        if r < 0.31:
            login, cls = self.rnd.choice(self.suppliers)
            return login, cls, "@atos", None, []
        if r < 0.37:
            return "renovate[bot]", "bot", None, None, []
        if r < 0.45:
            login, cls, partner = self.rnd.choice(self.partners)
            return login, cls, None, None, [f"partner: {partner}"]
        n = int(self.externals * self.rnd.paretovariate(1.2)) % self.externals
        company = None if n % 5 < 2 else COMPANIES[n % len(COMPANIES)]
        company = company and (company.upper() if n % 7 == 0 else "@" + company)
        domain = f"mail{n % 40}.example" if n % 9 == 0 else None
        return f"u-{n}", "external", company, domain, []


def entry(repo: str, n: int, at: datetime, kind: str, actor: tuple[str, str], key: str,
          detail: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    login, cls = actor
    return {
        "repo_full_name": repo, "number": n, "occurred_at": at, "kind": kind,
        "actor_login": login, "actor_class": cls, "actor_type": "Bot" if cls == "bot" else "User",
        "source_key": key, "detail": detail or {},
    }  # fmt: skip


Row = dict[str, Any]


def history(world: World, repo: str, n: int, created: datetime) -> tuple[Row, list[Row]]:
    rnd = world.rnd
    login, cls, company, domain, labels = world.author()
    kind = "pull" if rnd.random() < 0.4 else "issue"
    author = (login, cls)
    out = [entry(repo, n, created, "opened", author, "opened")]
    t = created
    step = 0

    def later(hours: float) -> datetime:
        return t + timedelta(hours=hours)

    def add(kind_: str, actor: tuple[str, str], detail: dict[str, Any] | None = None) -> None:
        nonlocal step
        step += 1
        out.append(entry(repo, n, t, kind_, actor, f"{kind_}:{step}", detail))

    for label in ["needs-triage", *labels, *rnd.sample(["bug", "docs", "map", "a11y"], 1)]:
        t = later(0.01)
        add("labeled", ("veilleur-app[bot]", "bot"), {"label": label})
    if kind == "pull":
        t = later(0.02)
        add("review_requested", author, {"reviewer": rnd.choice(world.team)[0]})
    if rnd.random() < 0.4:
        t = later(0.5)
        add("edited", author)
    outside = cls in ("external", "partner")
    responds = rnd.random() < (0.8 if outside else 0.9)
    for _ in range(rnd.choice([1, 2, 2, 3, 3, 4])):
        if not responds:
            break
        t = later(rnd.lognormvariate(2.5, 1.6))
        maint = rnd.choice(world.team)
        if rnd.random() < 0.04:
            add("commented", maint, {"body": "/label +bug", "comment_id": step})
            continue
        if kind == "pull" and rnd.random() < 0.5:
            state = rnd.choice(["commented", "changes_requested", "approved"])
            add("reviewed", maint, {"state": state, "body": BODY})
        else:
            add("commented", maint, {"body": BODY, "asks_author": rnd.random() < 0.3})
        if rnd.random() < 0.05:
            add("snoozed", maint, {"until": (t + timedelta(days=5)).isoformat()})
        t = later(rnd.lognormvariate(2.0, 1.5))
        if kind == "pull" and rnd.random() < 0.5:
            add("pushed", author, {"sha": f"{n}-{step}"})
        else:
            add("commented", author, {"body": "Here is more information. " * 4})
        if rnd.random() < 0.3:
            t = later(1)
            add("assigned", maint, {"assignee": maint[0]})
        if rnd.random() < 0.3:
            add("unlabeled", maint, {"label": "needs-triage"})
    state, closed_at, merged_at, closed_by = "open", None, None, None
    if rnd.random() < (0.75 if responds else 0.4):
        t = later(rnd.lognormvariate(3.5, 1.5))
        closer = rnd.choice(world.team) if responds or rnd.random() < 0.5 else author
        if kind == "pull" and rnd.random() < 0.65 and closer != author:
            add("merged", closer)
            merged_at = t
        else:
            add("closed", closer)
        state, closed_at, closed_by = "closed", t, closer[0]
    kept = [e for e in out if e["occurred_at"] <= NOW]
    if closed_at is not None and closed_at > NOW:
        state, closed_at, merged_at, closed_by = "open", None, None, None
    item = {
        "repo_full_name": repo, "owner": repo.split("/")[0], "number": n, "kind": kind,
        "title": f"Item {n} of {repo}", "author_login": login,
        "author_type": "Bot" if cls == "bot" else "User", "author_class": cls,
        "author_company": company, "author_email_domain": domain, "state": state,
        "created_at": created, "updated_at": kept[-1]["occurred_at"], "closed_at": closed_at,
        "merged_at": merged_at, "closed_by": closed_by, "labels": labels, "assignees": [],
    }  # fmt: skip
    return item, kept


def generate(url: str, items: int, repos: int, orgs: int, seed: int = 7) -> dict[str, int]:
    engine = create_engine(url)
    rnd = random.Random(seed)
    world = World(rnd, items)
    names = [f"org-{k % orgs}/repo-{k:03d}" for k in range(repos)]
    counts = {"items": 0, "entries": 0}
    with engine.begin() as conn:
        conn.execute(Repository.__table__.insert(), [  # type: ignore[attr-defined]
            {"id": k + 1, "installation_id": 1, "full_name": r, "owner": r.split("/")[0],
             "default_branch": "main", "added_at": NOW - timedelta(days=400)}
            for k, r in enumerate(names)
        ])  # fmt: skip
        config = CONFIG.model_dump_json(by_alias=True)
        conn.execute(ConfigRecord.__table__.insert(), [  # type: ignore[attr-defined]
            {"repo_full_name": r.lower(), "fetched_at": NOW, "valid_json": config} for r in names
        ])  # fmt: skip
    start = NOW - timedelta(days=365)
    span = (NOW - start).total_seconds()
    per_repo = max(1, items // repos)
    batch_items: list[dict[str, Any]] = []
    batch_entries: list[dict[str, Any]] = []
    for repo in names:
        times = sorted(start + timedelta(seconds=rnd.random() * span) for _ in range(per_repo))
        for n, created in enumerate(times, start=1):
            item, ents = history(world, repo, n, created)
            batch_items.append(item)
            batch_entries += ents
        if len(batch_entries) >= 100_000 or repo == names[-1]:
            with engine.begin() as conn:
                conn.execute(ITEMS.insert(), batch_items)
                conn.execute(TIMELINE.insert(), batch_entries)
            counts["items"] += len(batch_items)
            counts["entries"] += len(batch_entries)
            batch_items, batch_entries = [], []
            print(f"  {counts['items']:>8} items, {counts['entries']:>9} entries", end="\r")
    print()
    engine.dispose()
    return counts


PROPOSED_INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_items_author_owner_created"
    " ON items (author_login, owner, created_at)",
]


def time_digest(url: str, org: str, runs: int) -> dict[str, Any]:
    engine = make_engine(url)
    results = []
    for _ in range(runs):
        timings: dict[str, float] = {}
        started, cpu = time.perf_counter(), time.process_time()
        digest = compute_digest(engine, org, None, now=NOW, bot_logins=(BOT,), timings=timings)
        results.append((time.perf_counter() - started, time.process_time() - cpu, timings))
    engine.dispose()
    seconds = [r[0] for r in results]
    fastest = min(results, key=lambda r: r[0])[2]
    return {
        "week": digest.week,
        "runs_seconds": [round(s, 3) for s in seconds],
        "runs_cpu_seconds": [round(r[1], 3) for r in results],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "median_seconds": round(statistics.median(seconds), 3),
        "phases_seconds": {k: round(v, 3) for k, v in fastest.items()},
        "waiting": len(digest.waiting),
        "outside_opened": digest.volume.issues_opened + digest.volume.pulls_opened,
        "new_contributors": len(digest.new_contributors),
        "organisations": len(digest.organisations),
        "repositories": len(digest.repositories),
    }


def run(db: str, args: argparse.Namespace) -> dict[str, Any]:
    if args.url:
        return report(db, args, args.url, {"items": args.items, "entries": None}, None)
    schema, tmp = None, None
    if db == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="veilleur-bench-"))
        url = f"sqlite:///{tmp / 'digest.db'}"
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with create_engine(PG_URL, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        print(f"[{db}] generating {args.items} items in {args.repos} repositories ...")
        started = time.perf_counter()
        counts = generate(url, args.items, args.repos, args.orgs)
        generated = time.perf_counter() - started
        if db == "postgres":
            with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text("VACUUM ANALYZE"))
        result = report(db, args, url, counts, generated)
    finally:
        if schema and not args.keep:
            with create_engine(PG_URL, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        if args.keep:
            print(f"[{db}] kept: {url}")
        elif tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def report(
    db: str, args: argparse.Namespace, url: str, counts: dict[str, Any], generated: float | None
) -> dict[str, Any]:
    if args.proposed_indexes:
        with create_engine(url).begin() as conn:
            for ddl in PROPOSED_INDEXES:
                conn.execute(text(ddl))
    if counts.get("entries") is None:  # --url: count what is there
        with create_engine(url).connect() as conn:
            counts["items"] = conn.execute(text("SELECT count(*) FROM items")).scalar()
            counts["entries"] = conn.execute(text("SELECT count(*) FROM timeline")).scalar()
    timing = time_digest(url, "org-0", args.runs)
    result = {
        "db": db, **counts, "repositories": args.repos, "orgs": args.orgs,
        "org_items": counts["items"] // args.orgs,
        "generate_seconds": None if generated is None else round(generated, 1),
        "proposed_indexes": args.proposed_indexes, **timing, "target_seconds": 5.0,
        "python": platform.python_version(), "cpus": os.cpu_count(),
    }  # fmt: skip
    suffix = f"-{args.orgs}orgs" if args.orgs > 1 else ""
    out = HERE / "results" / f"digest-{db}{suffix}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--repos", type=int, default=500)
    parser.add_argument("--orgs", type=int, default=1, help="the 500 repositories' owners")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    parser.add_argument("--url", help="time this database, generated earlier with --keep")
    parser.add_argument("--proposed-indexes", action="store_true", help="add them first")
    args = parser.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    rows = [run(db, args) for db in dbs]
    head = "| db | items | entries | org items | waiting | digest | cpu | load | phases | ok |"
    print("\n" + head)
    print("|---|---:|---:|---:|---:|---:|---:|---|---|---|")
    for r in rows:
        phases = ", ".join(f"{k} {v:.2f}" for k, v in r["phases_seconds"].items())
        ok = "yes" if r["median_seconds"] < r["target_seconds"] else "NO"
        cpu = statistics.median(r["runs_cpu_seconds"])
        print(f"| {r['db']} | {r['items']} | {r['entries']} | {r['org_items']} | {r['waiting']} "
              f"| {r['median_seconds']:.2f} s | {cpu:.2f} s | {r['load_average'][0]} | {phases} "
              f"| {ok} |")  # fmt: skip
    return 0 if all(r["median_seconds"] < r["target_seconds"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
