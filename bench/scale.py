"""Scale benchmark: end-to-end deliveries per second, webhook received -> every GitHub call done.

    .venv/bin/python bench/scale.py [--deliveries 5000] [--levels sqlite,pg1,pg2,pg4]

Each level gets a fresh simulated forge (in this process, over HTTP, answering at once) and a
fresh database, then the same load (`tests.scaleout_support.build_load`: issues opened by a
few hundred people, edits, same-content copies, same-GUID duplicates and redeliveries), sent
as signed webhooks by 48 concurrent senders (per item in order):

- `sqlite`: one `veilleur serve` process (embedded worker), SQLite;
- `pgN`: two `veilleur serve --no-worker` replicas and N `veilleur worker` processes
  (`--concurrency 4` each), PostgreSQL on 127.0.0.1:5432 (a fresh schema).

The clock runs from the first webhook sent to the moment every stored delivery is `done` (a
delivery is done after its last GitHub call). Nothing may be lost: every GUID done, one
welcome per first-timer, no marked comment twice. Results: bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bot.clock import FrozenClock  # noqa: E402
from bot.sim import Forge, ForgeServer, generate_app_keypair  # noqa: E402
from tests.harness import seed_city  # noqa: E402
from tests.scaleout_load import build_load, check_forge  # noqa: E402
from tests.scaleout_support import (  # noqa: E402
    Procs,
    Replay,
    free_port,
    fresh_schema,
    q,
    veilleur_env,
    wait_until,
)

KEYS = generate_app_keypair()


def load_shape(n: int) -> dict[str, int]:
    """Per 5,000 webhooks: 300 issues by 200 people (100 of them first-timers), one edit each,
    40 same-content copies: 641 distinct deliveries; the rest duplicates and redeliveries."""
    return {
        "repeaters": n // 50,
        "first_timers": n // 50,
        "issues_each": 2,
        "edits": 1,
        "copies": n // 125,
        "total": n,
    }


def _sqlite_counts(path: Path) -> dict[str, int]:
    try:
        with sqlite3.connect(path, timeout=30) as conn:
            rows = conn.execute("SELECT status, count(*) FROM deliveries GROUP BY 1").fetchall()
    except sqlite3.OperationalError:
        return {}
    return {str(s): int(n) for s, n in rows}


def _pg_counts(url: str) -> dict[str, int]:
    return {str(s): int(n) for s, n in q(url, "SELECT status, count(*) FROM deliveries GROUP BY 1")}


def run_level(name: str, n: int, workdir: Path) -> dict[str, Any]:
    forge = Forge(FrozenClock(datetime(2025, 3, 3, 9, 0, tzinfo=UTC)), app_key=KEYS)
    forge.emit_bot_events = False
    logdir = workdir / name
    logdir.mkdir(parents=True, exist_ok=True)
    with ForgeServer(forge) as server:
        city = seed_city(forge)
        load = build_load(forge, city, **load_shape(n))
        if name == "sqlite":
            db = logdir / "veilleur.db"
            url = f"sqlite:///{db}"
            counts = lambda: _sqlite_counts(db)  # noqa: E731
            result = _measure(name, forge, server, city, load, url, logdir, counts)
        else:
            with fresh_schema("bench") as url:
                counts = lambda: _pg_counts(url)  # noqa: E731
                result = _measure(name, forge, server, city, load, url, logdir, counts)
    forge.close()
    return result


def _measure(
    name: str, forge: Forge, server: ForgeServer, city: Any, load: Any, url: str,
    logdir: Path, counts: Any,
) -> dict[str, Any]:  # fmt: skip
    procs = Procs(veilleur_env(forge, server.url, url, log_level="ERROR"), logdir)
    load_before = round(os.getloadavg()[0], 2)
    workers = 0 if name == "sqlite" else int(name.removeprefix("pg"))
    try:
        if name == "sqlite":
            port = free_port()
            procs.start("serve", "serve", "--port", str(port))
            webs = [f"http://127.0.0.1:{port}"]
            import httpx

            wait_until(lambda: _ok(httpx, webs[0]), 60, "serve not ready", procs, "serve")
        else:
            webs = [procs.web(f"web{i}", free_port()) for i in range(2)]
            for i in range(workers):
                procs.worker(f"w{i}", "--concurrency", "4")
            wait_until(
                lambda: len(q(url, "SELECT id FROM procrastinate_workers")) >= workers,
                60, "workers not up", procs,
            )  # fmt: skip
        calls_before = len(forge.requests)
        started = time.monotonic()
        sender = Replay(load.chains, webs, forge.webhook_secret)
        last_print = 0.0

        def done() -> bool:
            nonlocal last_print
            st = counts()
            now = time.monotonic() - started
            if now - last_print >= 5:
                last_print = now
                sent = "sent" if not sender.is_alive() else "sending"
                print(f"  {name} t={now:5.1f}s {sent} {st}", file=sys.stderr)
            return st.get("done", 0) == load.guids and sum(st.values()) == load.guids

        wait_until(done, 900, f"{name}: not all deliveries done", procs)
        elapsed = time.monotonic() - started
        statuses, acked = sender.result(), sender.seconds
        cpu = procs.cpu_seconds()
        check_forge(forge, city, load)
        calls = len(forge.requests) - calls_before
    finally:
        procs.stop()
    return {
        "level": name,
        "web_replicas": 1 if name == "sqlite" else 2,
        "workers": workers,
        "webhooks_sent": load.sent,
        "distinct_deliveries": load.guids,
        "http_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "all_acked_s": round(acked, 2),
        "all_processed_s": round(elapsed, 2),
        "deliveries_per_s": round(load.guids / elapsed, 1),
        "webhooks_per_s": round(load.sent / elapsed, 1),
        "github_calls": calls,
        "github_calls_per_s": round(calls / elapsed, 1),
        "cpu_seconds": cpu,
        "cpu_ms_per_delivery": round(1000 * sum(cpu.values()) / load.guids, 1),
        "load_average_before": load_before,
        "load_average_after": round(os.getloadavg()[0], 2),
        "lost": 0,
        "forge_checks": "one welcome per first-timer, no marked comment twice",
    }


def _ok(httpx: Any, url: str) -> bool:
    try:
        return bool(httpx.get(f"{url}/readyz", timeout=2).status_code == 200)
    except httpx.HTTPError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--levels", default="sqlite,pg1,pg2,pg4")
    parser.add_argument("--out", default=str(HERE / "results" / "scale.json"))
    args = parser.parse_args()
    results = []
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="veilleur-scale-") as tmp:
        for level in args.levels.split(","):
            print(f"{level}: {args.deliveries} webhooks…", file=sys.stderr)
            results.append(run_level(level, args.deliveries, Path(tmp)))
            r = results[-1]
            print(f"  {level}: {r['deliveries_per_s']}/s, cpu {r['cpu_seconds']}", file=sys.stderr)
    base = results[0]["deliveries_per_s"] if results else 1
    print("| level | web | workers | deliveries/s | webhooks/s | GitHub calls/s | vs first |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['level']} | {r['web_replicas']} | {r['workers']} | {r['deliveries_per_s']} | "
            f"{r['webhooks_per_s']} | {r['github_calls_per_s']} | "
            f"{r['deliveries_per_s'] / base:.2f}x |"
        )
    git = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()  # noqa: S603,S607
    out = {
        "config": {
            "deliveries": args.deliveries,
            "load": load_shape(args.deliveries),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "git": git,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S%z"),
            "note": "forge, senders, web replicas, workers and PostgreSQL share the machine",
        },
        "results": results,
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
