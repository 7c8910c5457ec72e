"""Disk benchmark: the SQLite write-ahead log's size under intake load, with readers.

    .venv/bin/python bench/wal.py [--seconds 20] [--readers 2] [--hold 0.5] [--dir DIR]

The writer process's writer (`SqliteGroupWriter`) stores groups of 32 real payloads as fast
as it can while `--readers` threads each hold read transactions of `--hold` seconds back to
back, staggered (a worker, a dashboard, a digest): SQLite's automatic checkpoints cannot start
the log over while some reader uses it. Run once with the writer's bound (a RESTART
checkpoint that waits 50 ms past `WAL_SIZE_LIMIT_BYTES`, up to 1.5 s past four times it) and
once without; reports the largest WAL seen, its size at the end, the database size, the
checkpoints that started the log over (and the longer waits asked for), and group-commit
latencies (p50/p99/max: what intake waits). Results: a Markdown table on stdout,
bench/results/wal.json.

Processed payloads' retention (issue #18, `VEILLEUR_PAYLOAD_RETENTION_DAYS`) is the other
half of a bounded disk: bench/disk.py.
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sqlite3  # noqa: E402

from bot.intake.rows import DeliveryRow  # noqa: E402
from bot.intake.sqlite_writer import SqliteGroupWriter  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402

EXAMPLES = HERE.parent.parent / "shared" / "github" / "webhook-examples"


def bodies() -> list[bytes]:
    found = [p.read_bytes() for p in sorted(EXAMPLES.glob("*/*.json"))]
    if not found:
        raise SystemExit(f"no payloads under {EXAMPLES}")
    return found


def reader(path: str, hold: float, delay: float, stop: threading.Event) -> None:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    time.sleep(delay)
    while not stop.is_set():
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM deliveries WHERE status = 'received'").fetchone()
        stop.wait(hold)
        conn.execute("COMMIT")
    conn.close()


def run(bound: bool, args: argparse.Namespace, payloads: list[bytes]) -> dict[str, object]:
    path = str(Path(tempfile.mkdtemp(dir=args.dir)) / "wal.db")
    upgrade(f"sqlite:///{path}")
    writer = SqliteGroupWriter(path, bound_wal=bound)
    stop = threading.Event()
    threads = [
        threading.Thread(target=reader, args=(path, args.hold, i * args.hold / args.readers, stop))
        for i in range(args.readers)
    ]
    for thread in threads:
        thread.start()
    latencies, largest, rows, i = [], 0, 0, 0
    wal = Path(f"{path}-wal")
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        group = []
        for _ in range(32):
            i += 1
            body = payloads[i % len(payloads)]
            group.append(
                DeliveryRow(str(uuid.uuid4()), "issues", "opened", 1, "o/r", i % 500,
                            datetime.now(UTC), body)
            )  # fmt: skip
        t = time.perf_counter()
        writer.write(group)
        latencies.append((time.perf_counter() - t) * 1000)
        rows += len(group)
        largest = max(largest, wal.stat().st_size)
    stop.set()
    for thread in threads:
        thread.join()
    writer.close()
    latencies.sort()
    return {
        "bound": bound,
        "rows": rows,
        "wal_max_mb": round(largest / 2**20, 1),
        "wal_end_mb": round(wal.stat().st_size / 2**20, 1) if wal.exists() else 0.0,
        "db_mb": round(Path(path).stat().st_size / 2**20, 1),
        "restarts": writer.log_bound.restarts if writer.log_bound else 0,
        "urgent_waits": writer.log_bound.urgent_waits if writer.log_bound else 0,
        "commit_ms_p50": round(statistics.median(latencies), 2),
        "commit_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "commit_ms_max": round(latencies[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--hold", type=float, default=0.5)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    payloads = bodies()
    results = [run(bound, args, payloads) for bound in (False, True)]
    (HERE / "results" / "wal.json").write_text(
        json.dumps({"date": datetime.now(UTC).isoformat(), "args": vars(args),
                    "results": results}, indent=1)
    )  # fmt: skip
    print("| WAL bound | rows | WAL max (MB) | WAL end (MB) | db (MB) | restarts (urgent waits) |"
          " commit p50 / p99 / max (ms) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(
            f"| {'on' if r['bound'] else 'off'} | {r['rows']:,} | {r['wal_max_mb']} |"
            f" {r['wal_end_mb']} | {r['db_mb']} | {r['restarts']} ({r['urgent_waits']}) |"
            f" {r['commit_ms_p50']} / {r['commit_ms_p99']} / {r['commit_ms_max']} |"
        )


if __name__ == "__main__":
    main()
