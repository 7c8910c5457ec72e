"""Memory benchmark: `veilleur serve` (every process) at start and after N deliveries.

    .venv/bin/python bench/memory.py [--deliveries 100000] [--connections 16] [--no-worker]

Starts the real `veilleur serve` (SQLite file, writer process, embedded worker unless
`--no-worker`) with a generated App key and the GitHub API pointed at a closed local port:
the worker takes every delivery through dispatch, and the calls fail at once (a long retry
base keeps each delivery to one attempt). wrk sends signed real payloads (bench/intake.lua)
until `--deliveries` are stored. Memory of the server and its children is read from /proc
(RSS, and PSS, which shares pages fairly) at start and at the end, per process.
Results: a Markdown table on stdout, bench/results/memory.json.
"""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from intake import SECRET, free_port, write_data  # noqa: E402

from bot.simforge import generate_app_keypair  # noqa: E402


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            children = (task / "children").read_text().split()
            todo.extend(int(c) for c in children)
    return out


def memory(pid: int) -> list[dict[str, object]]:
    rows = []
    for p in tree(pid):
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
            rss = pss = 0
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        rows.append(
            {"pid": p, "cmd": cmd, "rss_mb": round(rss / 1024, 1), "pss_mb": round(pss / 1024, 1)}
        )
    return rows


def stored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--no-worker", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    data = write_data(tmp)
    port, dead_port = free_port(), free_port()
    keys = generate_app_keypair()
    db = tmp / "veilleur.db"
    env = os.environ | {
        "VEILLEUR_DATABASE_URL": f"sqlite:///{db}",
        "VEILLEUR_WEBHOOK_SECRET": SECRET,
        "VEILLEUR_PORT": str(port),
        "VEILLEUR_APP_ID": "1",
        "VEILLEUR_PRIVATE_KEY": keys.private_pem,
        "VEILLEUR_GITHUB_API_URL": f"http://127.0.0.1:{dead_port}",
        "VEILLEUR_GITHUB_TIMEOUT_SECONDS": "1",
        "VEILLEUR_RETRY_BASE_SECONDS": "86400",
        "VEILLEUR_LOG_LEVEL": "ERROR",
    }
    cmd = [str(Path(sys.executable).parent / "veilleur"), "serve"]
    if args.no_worker:
        cmd.append("--no-worker")
    log = open(tmp / "serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit((tmp / "serve.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        time.sleep(2)
        start = memory(server.pid)
        started = time.monotonic()
        while (n := stored(db)) < args.deliveries:
            seconds = max(3, min(30, (args.deliveries - n) // 2000))
            wrk = ["wrk", "-t", "2", "-c", str(args.connections), "-d", f"{seconds + 2}s"]
            wrk += ["--timeout", "10s", "-s", str(HERE / "intake.lua")]
            wrk += [f"http://127.0.0.1:{port}/webhooks/github", "--", str(data), str(seconds)]
            done = subprocess.run(wrk, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"wrk failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
            if stored(db) == n:
                raise SystemExit("no delivery stored: " + (tmp / "serve.log").read_text()[-2000:])
        sent_seconds = time.monotonic() - started
        time.sleep(2)
        end = memory(server.pid)
    finally:
        server.terminate()
        server.wait(60)
        log.close()
    result = {
        "date": datetime.now(UTC).isoformat(),
        "deliveries": stored(db),
        "worker": not args.no_worker,
        "seconds": round(sent_seconds, 1),
        "start": start,
        "end": end,
        "rss_mb_start": round(sum(r["rss_mb"] for r in start), 1),
        "rss_mb_end": round(sum(r["rss_mb"] for r in end), 1),
        "pss_mb_start": round(sum(r["pss_mb"] for r in start), 1),
        "pss_mb_end": round(sum(r["pss_mb"] for r in end), 1),
    }
    name = "memory-no-worker.json" if args.no_worker else "memory.json"
    (HERE / "results" / name).write_text(json.dumps(result, indent=1))
    print("| process | RSS start (MB) | RSS end (MB) | PSS end (MB) |")
    print("|---|---:|---:|---:|")
    for s, e in zip(start, end, strict=False):
        print(f"| {e['cmd'][:60]} | {s['rss_mb']} | {e['rss_mb']} | {e['pss_mb']} |")
    print(
        f"| all ({result['deliveries']:,} deliveries, {result['seconds']} s) |"
        f" {result['rss_mb_start']} | {result['rss_mb_end']} | {result['pss_mb_end']} |"
    )


if __name__ == "__main__":
    main()
