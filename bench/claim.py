"""Claim benchmark: the worker's claim, and a drain, as the backlog grows.

    .venv/bin/python bench/claim.py [--db sqlite|postgres|both] [--sizes 500,5000,50000]
                                    [--claims 20] [--before]

For each size and layout (every delivery on one item, or each on its own item) fills a fresh
migrated database with that many pending deliveries after as many already processed, then
times `deliveries.claim_next` (median of `--claims` claims, each followed by `finish`, so the
next claim finds a new head) and drains 500 deliveries (claim + finish, no handler): the
queue's own cost. `--before` also times the claim query this replaced (a sort of every
pending row and a correlated subquery on each), 3 claims at each size.
Results: a Markdown table on stdout, bench/results/claim.json.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sqlalchemy import and_, exists, insert, or_, select, update  # noqa: E402
from sqlalchemy.orm import aliased  # noqa: E402
from sqlmodel import Session, col  # noqa: E402

from bot.queue import deliveries  # noqa: E402
from bot.storage.db import make_engine  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402
from bot.storage.models import Delivery, DeliveryStatus  # noqa: E402

PG_URL = os.environ.get("VEILLEUR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
S = DeliveryStatus
TABLE = Delivery.__table__  # type: ignore[attr-defined]
ARGS = argparse.Namespace(dir=None)


def database(kind: str) -> tuple[str, Callable[[], None]]:
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(dir=ARGS.dir)) / "claim.db"
        return f"sqlite:///{path}", lambda: None
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    raw = PG_URL.replace("+psycopg", "")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


def fill(engine, size: int, layout: str) -> None:
    """`size` processed deliveries, then `size` pending ones."""
    rows = []
    for i in range(2 * size):
        pending = i >= size
        rows.append(
            {
                "guid": f"{i:012d}",
                "seq": 10**9 + i,
                "event": "issues",
                "action": "edited",
                "installation_id": 1,
                "repo_full_name": "org/repo",
                "item_number": 1 if layout == "one item" else i,
                "received_at": NOW - timedelta(minutes=1),
                "payload": b"{}",
                "status": S.RECEIVED if pending else S.DONE,
                "attempts": 0 if pending else 1,
            }
        )
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(TABLE), rows[start : start + 5000])
    with engine.connect() as conn:  # statistics, as a running database would have
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def claim_before(engine, now: datetime) -> str | None:
    """The claim this replaced (for `--before`)."""
    d, earlier = Delivery, aliased(Delivery)
    blocked = exists().where(
        and_(
            col(earlier.repo_full_name) == d.repo_full_name,
            col(earlier.item_number) == d.item_number,
            col(earlier.seq) < d.seq,
            col(earlier.status).in_([S.RECEIVED, S.FAILED, S.PROCESSING]),
        )
    )
    ready = and_(
        col(d.status).in_(S.PENDING),
        or_(col(d.next_attempt_at).is_(None), col(d.next_attempt_at) <= now),
        ~blocked,
    )
    with Session(engine) as s:
        guid = s.execute(
            select(col(Delivery.guid)).where(ready).order_by(col(Delivery.seq)).limit(1)
        ).scalar()
        if guid is not None:
            s.execute(
                update(Delivery).where(col(Delivery.guid) == guid).values(status=S.PROCESSING)
            )
            s.commit()
        return guid


def timed_finds(engine, n: int) -> list[float]:
    """The claim's read alone (what grows with the backlog), without the commit's fsync."""
    out = []
    with Session(engine) as s:
        for _ in range(n):
            t = time.perf_counter()
            assert deliveries._first_ready(s, NOW) is not None
            out.append((time.perf_counter() - t) * 1000)
            s.rollback()
    return out


def timed_claims(engine, n: int, claim) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        guid = claim()
        out.append((time.perf_counter() - t) * 1000)
        assert guid is not None, "the backlog ran dry"
        deliveries.finish(engine, guid, NOW)
    return out


def run_one(kind: str, size: int, layout: str, args: argparse.Namespace) -> dict[str, Any]:
    url, drop = database(kind)
    try:
        upgrade(url)
        engine = make_engine(url)
        fill(engine, size, layout)
        finds = timed_finds(engine, args.claims)
        after = timed_claims(engine, args.claims, lambda: _guid(engine))
        result: dict[str, Any] = {
            "db": kind,
            "pending": size,
            "layout": layout,
            "find_ms_median": round(statistics.median(finds), 3),
            "claim_ms_median": round(statistics.median(after), 3),
            "claim_ms_all": [round(x, 3) for x in after],
        }
        started, drained = time.perf_counter(), 0
        while drained < min(500, size // 2):
            guid = _guid(engine)
            assert guid is not None
            deliveries.finish(engine, guid, NOW)
            drained += 1
        result["drain_per_s"] = round(drained / (time.perf_counter() - started), 1)
        if args.before:
            before = timed_claims(engine, 3, lambda: claim_before(engine, NOW))
            result["before_claim_ms_median"] = round(statistics.median(before), 3)
        engine.dispose()
        return result
    finally:
        drop()


def _guid(engine) -> str | None:
    d = deliveries.claim_next(engine, NOW)
    return None if d is None else d.guid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sizes", default="500,5000,50000")
    parser.add_argument("--claims", type=int, default=20)
    parser.add_argument("--before", action="store_true")
    parser.add_argument("--dir", default=None, help="where the SQLite files go (default: TMPDIR)")
    args = parser.parse_args()
    ARGS.dir = args.dir
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    print("| db | layout | pending | find (ms) | claim (ms) | drain (deliveries/s) | before (ms) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for kind in kinds:
        for layout in ("one item", "distinct items"):
            for size in sizes:
                r = run_one(kind, size, layout, args)
                results.append(r)
                before = r.get("before_claim_ms_median", "")
                print(
                    f"| {kind} | {layout} | {size:,} | {r['find_ms_median']} |"
                    f" {r['claim_ms_median']} | {r['drain_per_s']} | {before} |",
                    flush=True,
                )
    for kind in kinds:
        for layout in ("one item", "distinct items"):
            rows = [r for r in results if r["db"] == kind and r["layout"] == layout]
            small, large = rows[0], rows[-1]
            print(
                f"{kind}, {layout}: largest/smallest find"
                f" {large['find_ms_median'] / small['find_ms_median']:.2f}x, claim"
                f" {large['claim_ms_median'] / small['claim_ms_median']:.2f}x,"
                f" drain {large['drain_per_s'] / small['drain_per_s']:.2f}x"
            )
    out = HERE / "results" / "claim.json"
    stamp = datetime.now(UTC).isoformat()
    out.write_text(json.dumps({"date": stamp, "results": results}, indent=1))


if __name__ == "__main__":
    main()
