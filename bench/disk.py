"""Disk benchmark: a SQLite database after N processed deliveries, then after the retention.

    .venv/bin/python bench/disk.py [--deliveries 100000] [--dir DIR]

Stores N deliveries made from GitHub's real webhook examples (../shared, round robin) through
the writer process's real write path (`SqliteGroupWriter`, groups of 32), marks them processed
as the worker leaves them (claim then finish: status done, one attempt, `processed_at`; one
`handler_runs` row per handler the registry gives the event), and measures the file and its
write-ahead log. Then moves the clock past `VEILLEUR_PAYLOAD_RETENTION_DAYS` (default 30) and
runs the real `purge` (what the daily `privacy-purge` job runs, reclaim included), and
measures again. "Today's size" is the first figure: deliveries kept forever. Results: a
Markdown table on stdout, bench/results/disk.json.
"""

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bot.dispatch.registry import handlers_for  # noqa: E402
from bot.intake.rows import DeliveryRow  # noqa: E402
from bot.intake.sqlite_writer import SqliteGroupWriter, sqlite_timestamp  # noqa: E402
from bot.privacy.retention import purge  # noqa: E402
from bot.runtime import default_handlers  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.storage.db import make_engine  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402
from bot.storage.reclaim import on_disk  # noqa: E402

EXAMPLES = HERE.parent.parent / "shared" / "github" / "webhook-examples"
T0 = datetime(2026, 9, 1, 9, tzinfo=UTC)
GROUP = 32


def examples() -> list[tuple[str, str | None, bytes, list[str]]]:
    """(event, action, body, handlers that would finish it) for every real example."""
    handlers = default_handlers()
    out = []
    for path in sorted(EXAMPLES.glob("*/*.json")):
        body = path.read_bytes()
        event = path.parent.name
        action = json.loads(body).get("action")
        action = action if isinstance(action, str) else None
        out.append((event, action, body, [h.name for h in handlers_for(handlers, event, action)]))
    if not out:
        raise SystemExit(f"no payloads under {EXAMPLES}")
    return out


def fill(path: str, n: int) -> float:
    """N processed deliveries; the seconds it took."""
    started = time.perf_counter()
    found = examples()
    writer = SqliteGroupWriter(path)
    runs: list[tuple[str, str, str]] = []
    done = sqlite_timestamp(T0 + timedelta(seconds=5))
    for start in range(0, n, GROUP):
        group = []
        for i in range(start, min(start + GROUP, n)):
            event, action, body, names = found[i % len(found)]
            row = DeliveryRow(str(uuid.uuid4()), event, action, 1, "o/r", i % 5000, T0, body)
            group.append(row)
            runs += [(row.guid, name, done) for name in names]
        writer.write(group)
    conn = writer.conn  # the worker's claim and finish, in bulk
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "UPDATE deliveries SET status = 'done', attempts = 1, processed_at = ?, locked_at = NULL",
        (done,),
    )
    conn.executemany("INSERT INTO handler_runs VALUES (?, ?, ?)", runs)
    conn.execute("COMMIT")
    writer.close()
    return time.perf_counter() - started


def pages(path: str) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        names = ("auto_vacuum", "page_count", "freelist_count")
        return {k: int(conn.execute(f"PRAGMA {k}").fetchone()[0]) for k in names}
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    days = load_settings().payload_retention_days
    path = str(Path(tempfile.mkdtemp(dir=args.dir)) / "disk.db")
    upgrade(f"sqlite:///{path}")
    fill_s = fill(path, args.deliveries)
    before = on_disk(path)
    engine = make_engine(f"sqlite:///{path}")
    started = time.perf_counter()
    report = purge(engine, T0 + timedelta(days=days + 1), payload_days=days, person_days=3650)
    purge_s = time.perf_counter() - started
    engine.dispose()
    after = on_disk(path)
    result = {
        "date": datetime.now(UTC).isoformat(),
        "deliveries": args.deliveries,
        "retention_days": days,
        "payloads_reduced": report.payloads,
        "before_mb": round(before / 1e6, 2),
        "after_mb": round(after / 1e6, 2),
        "ratio": round(after / before, 4),
        "bytes_per_delivery_before": round(before / args.deliveries),
        "bytes_per_delivery_after": round(after / args.deliveries),
        "fill_s": round(fill_s, 1),
        "purge_s": round(purge_s, 1),
        "pages_after": pages(path),
    }
    (HERE / "results" / "disk.json").write_text(json.dumps(result, indent=1))
    print("| deliveries | before (MB) | after retention (MB) | ratio | fill / purge (s) |")
    print("|---:|---:|---:|---:|---|")
    print(
        f"| {args.deliveries:,} | {result['before_mb']} | {result['after_mb']} |"
        f" {result['ratio']:.1%} | {result['fill_s']} / {result['purge_s']} |"
    )


if __name__ == "__main__":
    main()
