"""Intake benchmark: Veilleur's `POST /webhooks/github` against a bare endpoint, driven by wrk.

    .venv/bin/python bench/intake.py [--duration 15] [--connections 32] [--threads 2]
                                          [--db sqlite|postgres] [--workers 1]

Servers are uvicorn subprocesses on 127.0.0.1 with the same settings: the real app
(`create_app(..., run_worker=False)`, fresh database) and a bare app on the same stack whose
routes only read the body and answer 202 (a FastAPI route, and a plain Starlette route like
Veilleur's own). wrk sends signed real payloads (bench/intake.lua), each with a unique
X-GitHub-Delivery. After the run the rows in `deliveries` must equal the 202s wrk counted.
Results: a Markdown table on stdout, bench/results/intake-<db>[-w<workers>].json.
"""

import argparse
import hashlib
import hmac
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The test material beside the checkout, or where VEILLEUR_TEST_SHARED says (as the tests).
SHARED = Path(os.environ.get("VEILLEUR_TEST_SHARED") or ROOT.parent / "shared")
EXAMPLES = SHARED / "github" / "webhook-examples"
PG_URL = os.environ.get("VEILLEUR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "bench-webhook-secret"
DRAIN_SECONDS = 3


def veilleur_app():  # uvicorn factory, in the server process; settings from VEILLEUR_* env
    from bot.app import create_app
    from bot.settings import load_settings

    return create_app(load_settings(), run_worker=False, migrate=False)


def bare_app():  # same stack, no work: read the body, answer 202
    from fastapi import FastAPI, Request, Response

    app = FastAPI()

    @app.post("/webhooks/github")
    async def receive(request: Request) -> Response:
        await request.body()
        return Response("accepted\n", status_code=202, media_type="text/plain")

    async def plain(request: Request) -> Response:  # a Starlette route, as Veilleur's
        await request.body()
        return Response("accepted\n", status_code=202, media_type="text/plain")

    app.router.add_route("/webhooks/github-plain", plain, methods=["POST"])

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response("ok\n", media_type="text/plain")

    return app


def serve(kind: str, port: int, workers: int) -> None:
    import uvicorn

    opts: dict[str, Any] = {"host": "127.0.0.1", "port": port, "workers": workers}
    opts["factory"] = True
    opts |= {"loop": "uvloop", "http": "httptools", "log_level": "warning", "access_log": False}
    uvicorn.run(f"intake:{kind}_app", app_dir=str(HERE), **opts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_data(tmp: Path, secret: str = SECRET) -> Path:
    """Every real example but ping (answered 200, not stored), pre-signed, as a Lua table."""
    lines = []
    for i, path in enumerate(sorted(EXAMPLES.glob("*/*.json"))):
        if path.parent.name == "ping":
            continue
        body = path.read_bytes()
        sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        (tmp / f"{i}.json").write_bytes(body)
        lines.append(
            f"  {{{json.dumps(path.parent.name)}, {json.dumps(sig)}, "
            f"{json.dumps(str(tmp / f'{i}.json'))}}},"
        )
    data = tmp / "payloads.lua"
    data.write_text("return {\n" + "\n".join(lines) + "\n}\n")
    return data


def run_one(
    kind: str,
    paths: list[str],
    args: argparse.Namespace,
    env: dict[str, str],
    tmp: Path,
    data: Path,
) -> list[dict]:
    """Start one server, run wrk once per path against it, stop it."""
    port = free_port()
    log = open(tmp / f"{kind}.log", "wb")  # noqa: SIM115
    flags = f"--serve {kind} --port {port} --workers {args.workers}".split()
    cmd = [sys.executable, str(Path(__file__).resolve()), *flags]
    server = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f"{kind} server did not start:\n"
                        + (tmp / f"{kind}.log").read_text()[-3000:]
                    ) from None
                time.sleep(0.2)
        outputs = [wrk(port, path, args, data) for path in paths]
    finally:
        server.terminate()  # graceful: uvicorn drains, the writer commits what it holds
        server.wait(60)
        log.close()
    return [summarize(out) for out in outputs]


def wrk(port: int, path: str, args: argparse.Namespace, data: Path) -> str:
    t, c, d = args.threads, args.connections, args.duration + DRAIN_SECONDS
    flags = f"-t {t} -c {c} -d {d}s --timeout 10s --latency".split()
    url = f"http://127.0.0.1:{port}{path}"
    cmd = ["wrk", *flags, "-s", str(HERE / "intake.lua"), url, "--", str(data), str(args.duration)]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def summarize(out: str) -> dict:
    r = json.loads(next(x for x in out.splitlines() if x.startswith("BENCH-JSON "))[11:])
    window = r["last"] - r["first"]  # first request sent .. last answer received
    lat = r["latency_us"]
    return {
        "requests": r["requests"],
        "sent": r["sent"],
        "acked_202": r["got202"],
        "ok_200": r["got200"],
        "non_2xx": r["other"],
        "socket_errors": r["errors"],
        # every answer was counted once by status, and every request sent was answered
        "consistent": r["requests"] == r["got202"] + r["got200"] + r["other"] == r["sent"],
        "window_s": round(window, 3),
        "rps": round(r["got202"] / window, 1),
        "p50_ms": lat["p50"] / 1000,
        "p90_ms": lat["p90"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "p999_ms": lat["p999"] / 1000,
        "max_ms": lat["max"] / 1000,
        "mean_ms": round(lat["mean"] / 1000, 3),
        "wrk_output": out.split("BENCH-JSON")[0],
    }


def count_and_describe(url: str) -> tuple[int, str]:
    from sqlalchemy import func, select, text

    from bot.storage.db import make_engine
    from bot.storage.models import Delivery

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(Delivery)).scalar_one()
            if url.startswith("sqlite"):
                sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                    conn.execute(text("PRAGMA synchronous")).scalar_one()
                ]
                mode = conn.execute(text("PRAGMA journal_mode")).scalar_one()
                return n, f"SQLite {sqlite3.sqlite_version}, journal={mode}, synchronous={sync}"
            return n, "PostgreSQL " + conn.execute(text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=15, help="active seconds per endpoint")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--serve", choices=["bare", "veilleur"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.workers)
        return 0

    sys.path.insert(0, str(ROOT))
    from bot.storage.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="veilleur-bench-") as tmpdir:
        tmp = Path(tmpdir)
        schema = None
        if args.db == "sqlite":
            url = f"sqlite:///{tmp / 'veilleur.db'}"
        else:
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        try:
            upgrade(url)
            env = {
                **os.environ,
                "VEILLEUR_DATABASE_URL": url,
                "VEILLEUR_WEBHOOK_SECRET": SECRET,
                "VEILLEUR_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
            }
            data = write_data(tmp)
            from bot.app import use_writer_process
            from bot.settings import load_settings

            server_settings = load_settings(database_url=url, webhook_secret=SECRET)
            writer = "process" if use_writer_process(server_settings, None) else "thread"
            load = os.getloadavg()[0]
            bare, plain = run_one(
                "bare", ["/webhooks/github", "/webhooks/github-plain"], args, env, tmp, data
            )
            [veil] = run_one("veilleur", ["/webhooks/github"], args, env, tmp, data)
            stored, database = count_and_describe(url)
        finally:
            if schema:
                with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    ratio = veil["rps"] / bare["rps"]
    zero_loss = stored == veil["acked_202"] == veil["sent"] and veil["consistent"]
    zero_loss = zero_loss and veil["non_2xx"] == veil["ok_200"] == 0
    print(
        f"\n{args.duration}s per endpoint, {args.connections} connections, {args.threads} wrk "
        f"threads, {args.workers} uvicorn worker(s), {os.cpu_count()} CPUs, load average "
        f"{load:.1f} before the run; {database}; intake writer: {writer}\n"
    )
    print("| endpoint | 202/s | p50 ms | p99 ms | max ms | non-2xx | stored / acked (202) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, r, st in (
        ("bare (FastAPI route)", bare, "-"),
        ("bare (Starlette route)", plain, "-"),
        (f"veilleur ({args.db})", veil, f"{stored} / {veil['acked_202']}"),
    ):
        print(
            f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['max_ms']:.1f} | {r['non_2xx']} | {st} |"
        )
    print(
        f"\nratio veilleur/bare: {ratio:.2f} (against the Starlette route: "
        f"{veil['rps'] / plain['rps']:.2f})"
    )
    print(
        "stored == acknowledged"
        if zero_loss
        else f"MISMATCH: stored {stored}, acknowledged {veil['acked_202']}, sent {veil['sent']}, "
        f"answered {veil['requests']}"
    )
    suffix = f"-w{args.workers}" if args.workers > 1 else ""
    out = HERE / "results" / f"intake-{args.db}{suffix}.json"
    out.parent.mkdir(exist_ok=True)
    git = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    out.write_text(
        json.dumps(
            {
                "config": {
                    **{k: v for k, v in vars(args).items() if k not in ("serve", "port")},
                    "cpus": os.cpu_count(),
                    "database": database,
                    "intake_writer": writer,
                    "git": git,
                    "drain_s": DRAIN_SECONDS,
                    "load_average_before": load,
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
                "bare": bare,
                "bare_starlette_route": plain,
                "veilleur": veil,
                "ratio": round(ratio, 3),
                "ratio_starlette_route": round(veil["rps"] / plain["rps"], 3),
                "stored": stored,
                "stored_equals_acked": zero_loss,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results: {out.relative_to(ROOT)}")
    return 0 if zero_loss else 1


if __name__ == "__main__":
    sys.exit(main())
