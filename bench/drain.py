"""Intake while the worker drains a backlog: `veilleur serve` against `veilleur serve --no-worker`.

    .venv/bin/python bench/drain.py [--backlog 10000] [--duration 15] [--connections 32]
                                    [--rounds 2]

Each run starts the real `veilleur serve` (SQLite file, writer process) on a fresh database
holding `--backlog` pending deliveries (GitHub's real webhook examples, written by the intake
writer's own code, on 5,000 items). The GitHub API is a stand-in that gives installation
tokens and answers 404 to every other request (its own process, at the lowest CPU priority:
GitHub's work is not on this machine), so the worker takes each delivery through dispatch
and its handlers, whose first call is refused at once (a long retry base keeps each to one
attempt), as fast as it can. wrk then sends signed real payloads (bench/intake.lua, a unique
X-GitHub-Delivery each) for `--duration` seconds, as bench/intake.py does. Runs alternate,
`--no-worker` first, `--rounds` times each, in the same minutes; the ratio is worker /
no-worker accepted deliveries per second (medians). The worker's drain during the window is
counted from the database; the backlog must not run out before the window ends.
Results: a Markdown table on stdout, bench/results/drain.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from intake import EXAMPLES, SECRET, free_port, summarize, write_data, wrk  # noqa: E402

from bot.intake.rows import DeliveryRow  # noqa: E402
from bot.intake.sqlite_writer import SqliteGroupWriter  # noqa: E402
from bot.sim import generate_app_keypair  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
GROUP = 256


def fill(db: Path, n: int) -> None:
    """`n` pending deliveries made of the real examples (ping excepted: it is not stored)."""
    bodies = [
        (p.parent.name, p.read_bytes())
        for p in sorted(EXAMPLES.glob("*/*.json"))
        if p.parent.name != "ping"
    ]
    if not bodies:
        raise SystemExit(f"no payloads under {EXAMPLES}")
    writer = SqliteGroupWriter(str(db))
    for start in range(0, n, GROUP):
        group = []
        for i in range(start, min(start + GROUP, n)):
            event, body = bodies[i % len(bodies)]
            action = json.loads(body).get("action")
            action = action if isinstance(action, str) else None
            group.append(
                DeliveryRow(str(uuid.uuid4()), event, action, 1, "o/r", i % 5000, T0, body)
            )
        writer.write(group)
    writer.close()


def not_found_app() -> Any:  # uvicorn factory, in the stand-in's process
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def refuse(request: Any) -> JSONResponse:
        if request.url.path.endswith("/access_tokens"):  # an installation token, then 404s
            token = {"token": "ghs_bench", "expires_at": "2099-01-01T00:00:00Z"}
            return JSONResponse(token | {"permissions": {}}, status_code=201)
        return JSONResponse({"message": "Not Found"}, status_code=404)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", refuse, methods=methods)])


def serve_not_found(port: int) -> None:
    import uvicorn

    os.nice(19)
    uvicorn.run(
        "drain:not_found_app",
        factory=True,
        app_dir=str(HERE),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )


def handled(db: Path) -> int:
    """Deliveries the worker has taken through (whatever became of them)."""
    with sqlite3.connect(db, timeout=30) as conn:
        sql = "SELECT count(*) FROM deliveries WHERE status NOT IN ('received', 'processing')"
        return conn.execute(sql).fetchone()[0]


def one_run(worker: bool, args: argparse.Namespace, tmp: Path, data: Path) -> dict[str, Any]:
    run = tmp / f"run-{uuid.uuid4().hex[:6]}"
    run.mkdir()
    db = run / "veilleur.db"
    upgrade(f"sqlite:///{db}")
    fill(db, args.backlog)
    port = free_port()
    keys = generate_app_keypair()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEILLEUR_")} | {
        "VEILLEUR_DATABASE_URL": f"sqlite:///{db}",
        "VEILLEUR_WEBHOOK_SECRET": SECRET,
        "VEILLEUR_PORT": str(port),
        "VEILLEUR_APP_ID": "1",
        "VEILLEUR_PRIVATE_KEY": keys.private_pem,
        "VEILLEUR_GITHUB_API_URL": args.github,
        "VEILLEUR_GITHUB_TIMEOUT_SECONDS": "1",
        "VEILLEUR_RETRY_BASE_SECONDS": "86400",
        "VEILLEUR_LOG_LEVEL": "ERROR",
    }
    cmd = [str(Path(sys.executable).parent / "veilleur"), "serve"]
    if not worker:
        cmd.append("--no-worker")
    log = open(run / "serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(cmd, env=env, cwd=run, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit((run / "serve.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        while worker and handled(db) < 50:  # the worker is draining by now
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the worker did not start draining")
            time.sleep(0.3)
        time.sleep(1)
        before, t0 = handled(db), time.monotonic()
        result = summarize(wrk(port, "/webhooks/github", args, data))
        after, t1 = handled(db), time.monotonic()
    finally:
        server.terminate()
        server.wait(60)
        log.close()
    result.pop("wrk_output")
    result |= {
        "worker": worker,
        "drained": after - before,
        "drained_per_s": round((after - before) / (t1 - t0), 1),
        "backlog_left": args.backlog - after,
    }
    if worker and result["backlog_left"] <= 0:
        raise SystemExit("the backlog ran out during the window: raise --backlog")
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backlog", type=int, default=10_000)
    ap.add_argument("--duration", type=int, default=15, help="active seconds per run")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--serve-404", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_404:
        serve_not_found(args.serve_404)
        return 0
    github_port = free_port()
    args.github = f"http://127.0.0.1:{github_port}"
    stand_in = subprocess.Popen(
        [sys.executable, __file__, "--serve-404", str(github_port)], stderr=subprocess.DEVNULL
    )
    try:
        return measure(args)
    finally:
        stand_in.terminate()
        stand_in.wait(30)


def measure(args: argparse.Namespace) -> int:
    load = os.getloadavg()[0]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="veilleur-drain-") as tmpdir:
        tmp = Path(tmpdir)
        data = write_data(tmp)
        for _ in range(args.rounds):
            for worker in (False, True):
                runs.append(one_run(worker, args, tmp, data))
                r = runs[-1]
                print(
                    f"{'worker' if worker else 'no-worker'}: {r['rps']:,.0f}/s, p99 "
                    f"{r['p99_ms']:.1f} ms, drained {r['drained_per_s']}/s",
                    flush=True,
                )
    alone = [r for r in runs if not r["worker"]]
    busy = [r for r in runs if r["worker"]]
    ratio = statistics.median(r["rps"] for r in busy) / statistics.median(r["rps"] for r in alone)
    print(
        f"\n{args.duration} s per run, {args.connections} connections, backlog {args.backlog:,},"
        f" {os.cpu_count()} CPUs, load average {load:.1f} before the runs\n"
    )
    print("| `veilleur serve` | 202/s | p50 ms | p99 ms | worker drained/s |")
    print("|---|---:|---:|---:|---:|")
    for r in runs:
        name = "with its worker draining" if r["worker"] else "`--no-worker`"
        print(
            f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['drained_per_s'] if r['worker'] else '-'} |"
        )
    print(f"\nratio (medians), with the worker draining / --no-worker: {ratio:.2f}")
    out = HERE / "results" / "drain.json"
    config = {k: v for k, v in vars(args).items() if k not in ("serve_404", "github")} | {
        "cpus": os.cpu_count(),
        "load_average_before": load,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out.write_text(json.dumps({"config": config, "runs": runs, "ratio": round(ratio, 3)}, indent=1))
    print(f"results: {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
