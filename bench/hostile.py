"""Hostile-load benchmark: signed real deliveries at a steady rate while strangers attack.

    .venv/bin/python bench/hostile.py [--duration 20] [--rate 20] [--slow-bodies 30]

One `veilleur serve` (SQLite, worker process) against the simulated forge (in this process,
seeded with the test city and installed). For `--duration` seconds:

- signed real payloads (../shared/github/webhook-examples, a unique X-GitHub-Delivery each)
  are posted at `--rate` per second; each answer's latency is recorded;
- `--slow-bodies` connections (another process) each announce a 24 MB unsigned body and send
  256 KiB every 0.1 s, starting again whenever the server cuts them off, and 10 connections
  send their headers one byte a second;
- one poison comment arrives, from an outside contributor, through the forge: `a ` and 3,000
  backticks, a handler-level stall on the landed parser (issue 11, row 1; 1,000 backticks
  took 52 s there), whatever that handler now does.

Reported: the signed deliveries' statuses and p50/p99/max latency, the web process's RSS idle
and at its peak, and what became of the poison delivery (done, or stopped at the time limit).
Results: bench/results/hostile.json, and a Markdown line on stdout.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
EXAMPLES = ROOT.parent / "shared" / "github" / "webhook-examples"

from bot.clock import FrozenClock  # noqa: E402
from bot.sim import Forge, ForgeServer, generate_app_keypair  # noqa: E402
from tests.harness import seed_city  # noqa: E402
from tests.scaleout_support import Procs, free_port, veilleur_env, wait_until  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def attackers(port: int, seconds: float, slow_bodies: int) -> None:
    """In a process of its own: slow unsigned bodies and slow headers, until `seconds` pass."""
    import threading

    until = time.monotonic() + seconds
    head = (
        b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\n"
        b"X-GitHub-Delivery: evil\r\nX-Hub-Signature-256: sha256=00\r\n"
        b"Content-Type: application/json\r\nContent-Length: 25165824\r\n\r\n"
    )
    chunk = b"x" * 256 * 1024

    def slow_body() -> None:
        while time.monotonic() < until:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(head)
                    while time.monotonic() < until:
                        s.sendall(chunk)
                        time.sleep(0.1)
            except OSError:
                time.sleep(0.05)

    def slow_headers() -> None:
        while time.monotonic() < until:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    for byte in head:
                        if time.monotonic() >= until:
                            return
                        s.sendall(bytes([byte]))
                        time.sleep(1)
            except OSError:
                time.sleep(0.05)

    threads = [threading.Thread(target=slow_body) for _ in range(slow_bodies)]
    threads += [threading.Thread(target=slow_headers) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def payloads() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(EXAMPLES.glob("*/*.json")):
        out.append((path.parent.name, path.read_bytes()))
    if not out:
        raise SystemExit(f"no webhook examples under {EXAMPLES}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--rate", type=float, default=20, help="signed deliveries per second")
    parser.add_argument("--slow-bodies", type=int, default=30)
    parser.add_argument("--time-limit", type=float, default=10, help="handler time limit (s)")
    args = parser.parse_args()

    import httpx

    from tests.conftest import sign

    examples = payloads()
    forge = Forge(FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)), app_key=KEYS)
    work = Path(tempfile.mkdtemp(prefix="veilleur-hostile-"))
    db = work / "veilleur.db"
    with ForgeServer(forge) as server:
        city = seed_city(forge)
        env = veilleur_env(
            forge,
            server.url,
            f"sqlite:///{db}",
            handler_time_limit_seconds=args.time_limit,
            log_level="ERROR",
        )
        procs = Procs(env, work)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        try:
            proc = procs.start("serve", "serve", "--port", str(port))

            def ready() -> bool:
                try:
                    return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(ready, 60, "serve not ready", procs, "serve")
            forge.webhook_url = f"{url}/webhooks/github"
            forge.scenario.install(city.org)
            n = forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
            time.sleep(3)
            client = httpx.Client(timeout=30)

            def post(i: int) -> tuple[int, float]:
                event, body = examples[i % len(examples)]
                headers = {
                    "X-GitHub-Event": event,
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": sign(body, forge.webhook_secret),
                    "Content-Type": "application/json",
                }
                t0 = time.perf_counter()
                status = client.post(f"{url}/webhooks/github", content=body, headers=headers)
                return status.status_code, time.perf_counter() - t0

            for i in range(20):  # warm up
                post(i)
            idle = rss_mb(proc.pid)
            ctx = multiprocessing.get_context("spawn")
            attack = ctx.Process(target=attackers, args=(port, args.duration, args.slow_bodies))
            attack.start()
            forge.scenario.comment(city.repo, n, city.citizen_en, "a " + "`" * 3000)
            poison = forge.events("issue_comment", "created")[-1].guid
            results: list[tuple[int, float]] = []
            peak = idle
            started = time.monotonic()
            i = 0
            while time.monotonic() - started < args.duration:
                due = started + i / args.rate
                if (pause := due - time.monotonic()) > 0:
                    time.sleep(pause)
                results.append(post(i))
                i += 1
                if i % 5 == 0:
                    peak = max(peak, rss_mb(proc.pid))
            attack.join(30)
            poison_deadline = time.monotonic() + args.time_limit + 10
            while time.monotonic() < poison_deadline:
                row = _delivery(db, poison)
                if row and row[0] in ("done", "failed", "dead"):
                    break
                time.sleep(0.5)
            row = _delivery(db, poison)
        finally:
            forge.webhook_url = None
            procs.stop()
    latencies = sorted(t for _, t in results)
    statuses: dict[str, int] = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    report: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "duration_s": args.duration,
        "rate_per_s": args.rate,
        "slow_bodies": args.slow_bodies,
        "signed_sent": len(results),
        "signed_statuses": statuses,
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
        "max_ms": round(1000 * latencies[-1], 1),
        "rss_idle_mb": round(idle),
        "rss_peak_mb": round(peak),
        "poison": {"status": row[0], "attempts": row[1], "error": row[2]} if row else None,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "hostile.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"| {report['signed_sent']} signed, {statuses} | p50 {report['p50_ms']} ms | "
        f"p99 {report['p99_ms']} ms | max {report['max_ms']} ms | RSS {report['rss_idle_mb']} → "
        f"{report['rss_peak_mb']} MB | poison: {report['poison']} |"
    )
    return 0


def _delivery(db: Path, guid: str) -> tuple[str, int, str | None] | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT status, attempts, last_error FROM deliveries WHERE guid = ?", (guid,)
        ).fetchone()
    return (str(row[0]), int(row[1]), row[2]) if row else None


KEYS = generate_app_keypair()

if __name__ == "__main__":
    sys.exit(main())
