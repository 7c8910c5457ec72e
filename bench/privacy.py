"""Privacy benchmark: stored payload bytes before and after the payload retention, and the
time of an erasure, over GitHub's real webhook examples stored as deliveries.

    .venv/bin/python bench/privacy.py [--deliveries 2000]

Stores `--deliveries` deliveries (GitHub's real examples from ../shared, round robin, as lz4
frames like the intake does, all processed and 40 days old) in a fresh SQLite database, then
runs `bot.privacy.retention.purge` (what the daily job and `veilleur privacy purge` run) and
`bot.privacy.erase.erase` of the examples' main account, each timed once, and again with
twice the deliveries to show the cost grows linearly.
Results: a Markdown table on stdout, bench/results/privacy.json.
"""

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sqlalchemy import func, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bot.privacy.erase import erase  # noqa: E402
from bot.privacy.retention import purge  # noqa: E402
from bot.storage import payloads  # noqa: E402
from bot.storage.db import make_engine  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402
from bot.storage.models import Delivery, DeliveryStatus  # noqa: E402

EXAMPLES = HERE.parent.parent / "shared" / "github" / "webhook-examples"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def stored_bytes(engine) -> int:
    with Session(engine) as s:
        return int(s.execute(select(func.sum(func.length(Delivery.payload)))).scalar() or 0)


def run(n: int, tmp: Path) -> dict:
    url = f"sqlite:///{tmp / f'privacy-{n}.db'}"
    upgrade(url)
    engine = make_engine(url)
    files = sorted(EXAMPLES.glob("*/*.json"))
    with Session(engine) as s:
        for k in range(n):
            path = files[k % len(files)]
            s.add(
                Delivery(
                    guid=f"bench-{k}", seq=k, event=path.parent.name, status=DeliveryStatus.DONE,
                    received_at=NOW - timedelta(days=40), payload=payloads.pack(path.read_bytes()),
                )
            )  # fmt: skip
        s.commit()
    with_examples = stored_bytes(engine)
    started = time.perf_counter()
    erased = erase(engine, "Codertocat", NOW)
    erase_s = time.perf_counter() - started
    before = stored_bytes(engine)
    started = time.perf_counter()
    report = purge(engine, NOW, payload_days=30, person_days=1095)
    purge_s = time.perf_counter() - started
    after = stored_bytes(engine)
    engine.dispose()
    return {
        "deliveries": n,
        "stored_bytes_examples": with_examples,
        "erase_seconds": round(erase_s, 3),
        "erase_payloads_changed": erased.payloads,
        "stored_bytes_before_purge": before,
        "stored_bytes_after_purge": after,
        "purge_seconds": round(purge_s, 3),
        "payloads_reduced": report.payloads,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=2000)
    args = parser.parse_args()
    if not EXAMPLES.is_dir():
        sys.exit(f"{EXAMPLES} is missing (the shared test material)")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(args.deliveries, Path(tmp)), run(2 * args.deliveries, Path(tmp))]
    print("| deliveries | payload bytes | after purge | purge | erase (payloads changed) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['deliveries']} | {r['stored_bytes_before_purge']:,} | "
            f"{r['stored_bytes_after_purge']:,} | {r['purge_seconds']} s | "
            f"{r['erase_seconds']} s ({r['erase_payloads_changed']}) |"
        )
    ratio = rows[1]["erase_seconds"] / max(rows[0]["erase_seconds"], 1e-9)
    print(f"erase time ratio for twice the deliveries: {ratio:.2f}x")
    out = {"date": datetime.now(UTC).date().isoformat(), "runs": rows, "erase_ratio_2x": ratio}
    (HERE / "results" / "privacy.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
