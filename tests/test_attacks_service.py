"""Issue 11, part B: attacks on the service itself (isolation, limits, rate limits, delivery
guarantees, sessions), each against the real server on the simulated forge. One test per row of
the issue's table: 4, 6, 7, 11, 14, 15, 16, plus a handler stuck in a loop."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.cli import main as veilleur_main
from bot.sim import Forge
from tests.conftest import sign
from tests.harness import City, Harness  # noqa: F401


def signed_post(
    url: str, secret: str, event: str = "watch", body: bytes | None = None, **kw: Any
) -> httpx.Response:
    body = body or json.dumps({"action": "started", "n": uuid.uuid4().hex}).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
        "Content-Type": "application/json",
    }
    return httpx.post(f"{url}/webhooks/github", content=body, headers=headers, **kw)


def base_url(forge: Forge) -> str:
    assert forge.webhook_url
    return forge.webhook_url.removesuffix("/webhooks/github")


# -- row 11: a locked SQLite database ---------------------------------------------------------
def test_row11_locked_database_answers_503_quickly_and_readyz_says_not_ready(
    harness: Harness, forge: Forge
) -> None:
    url = base_url(forge)
    path = harness.settings.database_url.removeprefix("sqlite:///")
    assert httpx.get(f"{url}/readyz").status_code == 200
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        r = signed_post(url, forge.webhook_secret, timeout=40)
        waited = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert waited < 8, f"answered 503 only after {waited:.1f} s"
        assert httpx.get(f"{url}/readyz", timeout=20).status_code == 503
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert httpx.get(f"{url}/readyz").status_code == 200
    assert signed_post(url, forge.webhook_secret).status_code == 202


# -- row 15: the open dashboard ---------------------------------------------------------------
def test_row15_serve_refuses_the_open_dashboard(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("VEILLEUR_DASHBOARD_OPEN", "true")
    monkeypatch.setenv("VEILLEUR_DATABASE_URL", f"sqlite:///{tmp_path / 'v.db'}")
    assert veilleur_main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "VEILLEUR_DASHBOARD_OPEN" in err and "refused" in err
    assert not (tmp_path / "v.db").exists()


# -- /metrics behind a bearer token -----------------------------------------------------------
def test_metrics_can_require_a_bearer_token(harness_factory: Any, forge: Forge) -> None:
    harness_factory(metrics_token="s3cret-metrics")
    url = base_url(forge)
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert ok.status_code == 200 and "veilleur" in ok.text


# -- a handler stuck in a loop ----------------------------------------------------------------
def looping_services(settings: Any, engine: Any, clock: Any) -> dict[str, Any]:
    """Services for the worker process (spawned: a picklable function) whose commands handler
    spins forever on a comment saying POISON, as a backtracking parser would."""
    import handlers.commands as commands
    from bot.app import default_services

    real = commands.handle

    async def handle(event: Any, ctx: Any) -> Any:
        body = str((event.payload.get("comment") or {}).get("body"))
        if "POISON" in body:
            while True:  # holds the GIL and the loop: only killing the process stops it
                pass
        if "SLOW" in body:  # busy for 5 s, then done
            end = time.monotonic() + 5
            while time.monotonic() < end:
                pass
        return await real(event, ctx)

    commands.handle = handle
    return default_services(settings, engine, clock)


def served_in_process_mode(
    forge: Forge,
    forge_settings: Any,
    tmp_path: Path,
    services: Any = looping_services,
    **overrides: Any,
) -> tuple[Any, Any]:
    """The app as `veilleur serve` builds it (worker process), with `looping_services`
    unless told other `services`; `overrides`: settings."""
    from bot.app import create_app
    from bot.settings import Settings
    from bot.sim import ThreadedServer

    values = forge_settings.model_dump()
    values.update(
        database_url=f"sqlite:///{tmp_path / 'v.db'}",
        webhook_secret=forge.webhook_secret,
        private_key=forge_settings.private_key.get_secret_value(),
        retry_base_seconds=0.2,
        log_format="text",
    )
    values.update(overrides)
    app = create_app(Settings(**values), worker_process=True, services=services)
    server = ThreadedServer(app, lifespan="on").start(timeout=60)
    forge.webhook_url = f"{server.url}/webhooks/github"
    return app, server


def delivery_row(engine: Any, guid: str) -> Any:
    from sqlmodel import Session

    from bot.storage.models import Delivery

    with Session(engine) as s:
        return s.get(Delivery, guid)


def test_stuck_handler_never_stalls_intake_and_is_killed_retried_then_dead(
    forge: Forge, forge_settings: Any, city: City, tmp_path: Path
) -> None:
    from bot.storage.db import make_engine

    app, server = served_in_process_mode(
        forge, forge_settings, tmp_path, max_attempts=2, handler_time_limit_seconds=10
    )
    engine = make_engine(app.state.settings.database_url)
    try:
        forge.scenario.install(city.org)
        n = forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
        forge.scenario.comment(city.repo, n, city.citizen_en, "POISON")
        poison = forge.events("issue_comment", "created")[-1].guid
        supervisor = app.state.worker_process

        def stuck() -> bool:
            return supervisor.current.value.decode() == poison

        deadline = time.monotonic() + 30
        while not stuck() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stuck(), "the poison comment never reached its handler"
        time.sleep(0.5)
        for _ in range(5):  # while the handler spins, intake answers at once
            t0 = time.monotonic()
            assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
            t1 = time.monotonic()
            assert signed_post(server.url, forge.webhook_secret, timeout=5).status_code == 202
            t2 = time.monotonic()
            print(f"healthz {t1 - t0:.3f} s, webhook {t2 - t1:.3f} s")
            assert t1 - t0 < 1.0 and t2 - t1 < 1.0
            assert stuck()

        def status() -> Any:
            return delivery_row(engine, poison)

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = status()
            if row is not None and row.status == "dead":
                break
            time.sleep(0.2)
        row = status()
        assert row is not None and row.status == "dead", row
        assert row.attempts == 2 and "time limit of 10 s" in (row.last_error or "")
        assert supervisor.restarts >= 2
        # the restarted worker goes on with the rest: a new issue is welcomed
        m = forge.scenario.open_issue(
            city.repo, city.citizen_fr, "Carte", "La carte ne marche pas."
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            forge.settle()
            bot = [c for c in forge.get_repo(city.repo).comments.values() if c.issue_number == m]
            if bot:
                break
            time.sleep(0.2)
        assert bot, "the restarted worker did not process the next delivery"
    finally:
        forge.webhook_url = None
        server.stop()
        engine.dispose()


# -- row 16: SIGTERM while a delivery is being processed --------------------------------------
def test_row16_shutdown_lets_a_busy_delivery_finish_within_the_grace_period(
    forge: Forge, forge_settings: Any, city: City, tmp_path: Path
) -> None:
    """A handler holding its loop for 5 s (landed code: the scheduler could not be stopped
    within 10 s on that loop: TimeoutError, "Application shutdown failed")."""
    import logging

    from bot.storage.db import make_engine

    failures: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                failures.append(record.getMessage())

    catch = Catch()
    logging.getLogger("uvicorn.error").addHandler(catch)
    app, server = served_in_process_mode(forge, forge_settings, tmp_path, shutdown_grace_seconds=20)
    engine = make_engine(app.state.settings.database_url)
    try:
        forge.scenario.install(city.org)
        n = forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
        forge.scenario.comment(city.repo, n, city.citizen_en, "SLOW")
        slow = forge.events("issue_comment", "created")[-1].guid
        supervisor = app.state.worker_process
        deadline = time.monotonic() + 30
        while supervisor.current.value.decode() != slow and time.monotonic() < deadline:
            time.sleep(0.05)
        assert supervisor.current.value.decode() == slow
        server._server.should_exit = True  # what uvicorn's SIGTERM handler does
        server._thread.join(timeout=40)
        assert not server._thread.is_alive()
        row = delivery_row(engine, slow)
        assert (row.status, row.attempts) == ("done", 1)
        assert supervisor._proc.exitcode == 0
        assert not failures, failures
    finally:
        logging.getLogger("uvicorn.error").removeHandler(catch)
        forge.webhook_url = None
        server.stop()
        engine.dispose()


def test_sigterm_on_veilleur_serve_finishes_the_running_delivery_then_exits(
    forge: Forge, forge_server: Any, city: City, tmp_path: Path
) -> None:
    import signal

    from sqlalchemy import create_engine, text

    from tests.scaleout_support import Procs, free_port, veilleur_env, wait_until

    db = tmp_path / "veilleur.db"
    env = veilleur_env(forge, forge_server.url, f"sqlite:///{db}", shutdown_grace_seconds=30)
    env["VEILLEUR_LOG_LEVEL"] = "INFO"
    procs = Procs(env, tmp_path)
    engine = create_engine(f"sqlite:///{db}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def status(guid: str) -> tuple[str, int]:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT status, attempts FROM deliveries WHERE guid = :g"), {"g": guid}
            ).first()
        return (str(row[0]), int(row[1])) if row else ("", 0)

    try:
        proc = procs.start("serve", "serve", "--port", str(port))
        wait_until(ready, 60, "serve not ready", procs, "serve")
        forge.webhook_url = f"{url}/webhooks/github"
        forge.scenario.install(city.org)
        time.sleep(2)
        forge.faults.add("POST", r"/issues/\d+/comments$", delay=4.0)  # the welcome is slow
        n = forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
        guid = forge.events("issues", "opened")[-1].guid
        wait_until(lambda: status(guid)[0] == "processing", 30, "never processed", procs, "serve")
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
        log = procs.log("serve")
        assert "shutdown failed" not in log.lower() and "Traceback" not in log, log[-3000:]
        assert status(guid) == ("done", 1)
        forge.settle()
        welcomes = [
            c
            for c in forge.get_repo(city.repo).comments.values()
            if c.issue_number == n and "veilleur:welcome" in c.body
        ]
        assert len(welcomes) == 1
    finally:
        forge.webhook_url = None
        procs.stop()
        engine.dispose()


# -- row 4: slow unsigned bodies and slow headers ---------------------------------------------
def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def slow_body_attacker(port: int, until: float, refused: list[int]) -> None:
    """Announces a 24 MB unsigned body and sends it slowly; starts again when cut off."""
    import socket

    head = (
        b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\n"
        b"X-GitHub-Delivery: evil\r\nX-Hub-Signature-256: sha256=00\r\n"
        b"Content-Type: application/json\r\nContent-Length: 25165824\r\n\r\n"
    )
    chunk = b"x" * 256 * 1024
    while time.monotonic() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(head)
                while time.monotonic() < until:
                    s.sendall(chunk)
                    time.sleep(0.1)
        except OSError:  # refused (503, 408): the server closed the connection
            refused.append(1)
            time.sleep(0.05)


def test_row4_slow_unsigned_bodies_cost_little_and_signed_deliveries_are_answered(
    forge: Forge, forge_server: Any, tmp_path: Path
) -> None:
    import socket
    import threading

    from tests.scaleout_support import Procs, free_port, veilleur_env, wait_until

    env = veilleur_env(forge, forge_server.url, f"sqlite:///{tmp_path / 'v.db'}")
    env["VEILLEUR_REQUEST_TIMEOUT_SECONDS"] = "3"
    procs = Procs(env, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        proc = procs.start("serve", "serve", "--port", str(port))
        wait_until(ready, 60, "serve not ready", procs, "serve")
        for _ in range(5):  # warm up, then the idle size
            assert signed_post(url, forge.webhook_secret).status_code == 202
        idle = rss_mb(proc.pid)
        # slow headers: one byte a second never makes a request; cut off after 3 s
        lazy = socket.create_connection(("127.0.0.1", port))
        lazy.sendall(b"POST /webhooks/github HTTP/1.1\r\n")
        lazy.settimeout(10)
        # a slow body: headers at once, then 10 of the 1,000 bytes announced, then nothing
        stall = socket.create_connection(("127.0.0.1", port))
        stall.sendall(
            b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"{" * 10
        )
        stall.settimeout(10)
        lazy_started = time.monotonic()
        until = time.monotonic() + 8
        refused: list[int] = []
        attackers = [
            threading.Thread(target=slow_body_attacker, args=(port, until, refused), daemon=True)
            for _ in range(30)
        ]
        for t in attackers:
            t.start()
        peak, answers = idle, []
        while time.monotonic() < until:
            answers.append(signed_post(url, forge.webhook_secret, timeout=10).status_code)
            peak = max(peak, rss_mb(proc.pid))
            time.sleep(0.2)
        for t in attackers:
            t.join(15)
        assert lazy.recv(100) == b"", "a connection sending its headers slowly was kept"
        assert stall.recv(100) == b"", "a connection sending its body slowly was kept"
        assert time.monotonic() - lazy_started < 9
        assert set(answers) == {202}, answers
        assert refused, "the attack never hit a limit"
        assert peak - idle < 100, f"RSS went from {idle:.0f} MB to {peak:.0f} MB"
        print(f"idle {idle:.0f} MB, peak {peak:.0f} MB, {len(answers)} signed deliveries")
    finally:
        procs.stop()


# -- row 7: the mail server down during an escalation -----------------------------------------
def test_row7_an_escalation_mail_refused_is_sent_by_a_later_sweep_exactly_once(
    harness: Harness, city: City
) -> None:
    import socket
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from aiosmtpd.controller import Controller

    from bot.effects.mail import Mailer
    from tests.smtp_fixtures import Inbox

    h = harness
    with socket.socket() as probe:  # a port where no mail server listens yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = h.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    h.worker.runtime.mailer = Mailer(settings)
    day = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
    h.clock.set(day)
    n = h.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Map is broken",
        "The map of the city does not load on my phone when I zoom in on my district.",
    )
    h.wait()

    def escalated() -> bool:  # recorded (the OSPO is told by mail, never in a comment)
        return any(k.key.endswith(f"#{n}:first_response:escalation") for k in h.action_keys("sla:"))

    for _ in range(30):  # working days until the escalation (mail server down)
        day += timedelta(days=1)
        if day.weekday() < 5:
            h.sweep(day)
        if escalated():
            break
    assert escalated()
    assert [k.key for k in h.action_keys("outbox:")], "the refused mail was not kept"
    assert not [k for k in h.action_keys("sla:") if k.key.endswith(":email")]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()  # the mail server is back
    try:
        h.sweep(day + timedelta(hours=2))
        h.sweep(day + timedelta(hours=3))
        h.sweep(day + timedelta(days=1))
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["ospo@paris.example"] and city.repo in msg["Subject"]
    assert not h.action_keys("outbox:")
    assert len([k for k in h.action_keys("sla:") if k.key.endswith(":email")]) == 1


# -- row 14: the dashboard session ------------------------------------------------------------
def test_row14_sessions_are_encrypted_revoked_at_logout_and_secure_off_localhost(
    harness_factory: Any, city: City, forge: Forge
) -> None:
    import base64
    import zlib

    from bot.sim.routes_oauth import oauth

    forge.add_repo("paris/secret-plans", private=True, files={"README.md": "secret\n"})
    forge.set_permission("paris/secret-plans", city.citizen_en, "read")
    oauth_settings = dict(
        oauth_client_id=forge.the_app.client_id,
        oauth_client_secret=oauth(forge).client_secret,
        session_secret="row-14-session-secret",
        github_web_url=forge.api_url,
    )
    h = harness_factory(**oauth_settings)
    forge.scenario.install(city.org)
    h.wait()
    url = base_url(forge)
    oauth(forge).signed_in = city.citizen_en
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        r = client.get(f"{url}/auth/login", params={"next": "/api/orgs"})
        assert r.status_code == 200 and r.json()[0]["org"] == "paris"
        raw = client.cookies["veilleur_session"]
        callback = next(x for x in r.history if x.url.path == "/auth/callback")
        assert "Secure" not in callback.headers["set-cookie"]  # plain http on localhost only
        # no readable repository name, however the cookie is decoded
        for part in [raw, *raw.split(".")]:
            for decoded in (part, _b64(base64, part), _unzip(zlib, _b64(base64, part))):
                assert "secret-plans" not in decoded
        assert client.get(f"{url}/auth/logout").status_code == 405
        assert client.post(f"{url}/auth/logout", follow_redirects=False).status_code == 303
    # the cookie, copied before logout, no longer works
    stolen = httpx.get(f"{url}/api/orgs", cookies={"veilleur_session": raw})
    assert stolen.status_code == 401
    # anywhere but plain http on localhost, cookies are Secure
    from bot.app import create_app
    from bot.sim import ThreadedServer

    public = h.settings.model_copy(update={"public_url": "http://veilleur.example"})
    web = ThreadedServer(create_app(public, run_worker=False), lifespan="on").start(timeout=60)
    try:
        login = httpx.get(f"{web.url}/auth/login", follow_redirects=False)
        assert "Secure" in login.headers["set-cookie"]
    finally:
        web.stop()


def _b64(base64: Any, part: str) -> str:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("latin-1")
    except ValueError:
        return ""


def _unzip(zlib: Any, data: str) -> str:
    for start in range(len(data)):
        try:
            return zlib.decompress(data[start:].encode("latin-1")).decode("latin-1")
        except zlib.error:
            continue
    return ""


# -- row 6: rate limits are obeyed, not fought ------------------------------------------------
@pytest.mark.parametrize("limit", ["secondary", "primary"])
def test_row6_a_rate_limit_pauses_the_installation_without_counting_attempts(
    harness: Harness, city: City, limit: str
) -> None:
    from datetime import timedelta

    from bot.storage.models import Delivery

    h = harness
    comments = r"/issues/\d+/comments$"
    if limit == "secondary":  # 429 + Retry-After: 600, more times than max_attempts
        h.forge.faults.add("POST", comments, status=429, retry_after=600, times=9)
    else:  # 403, x-ratelimit-remaining: 0 and x-ratelimit-reset a minute away
        h.forge.faults.add("POST", comments, status=403, times=9)
    wait = timedelta(seconds=601 if limit == "secondary" else 61)
    first = h.forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
    guid = h.forge.events("issues", "opened")[-1].guid

    def row(g: str) -> Delivery:
        with __import__("sqlmodel").Session(h.engine) as s:
            return s.get(Delivery, g)

    def waiting_again() -> bool:  # postponed to a time still to come (or done)
        r = row(guid)
        if r is None or r.status in ("received", "processing"):
            return False
        return r.status == "done" or r.next_attempt_at > h.clock.now()

    def until(check: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "timed out"
            h.forge.settle()
            h.worker.wake()
            time.sleep(0.05)

    until(waiting_again)
    assert row(guid).status == "failed" and row(guid).attempts == 0
    assert "rate limited until" in (row(guid).last_error or "")
    # another item of the same installation waits with it
    second = h.forge.scenario.open_issue(city.repo, city.citizen_fr, "Carte", "La carte.")
    h.forge.settle()
    other = h.forge.events("issues", "opened")[-1].guid
    time.sleep(1.5)
    assert row(other).status == "received"
    for _ in range(12):  # each time the wait is over, GitHub asks again, until it does not
        h.clock.advance(wait)
        h.worker.wake()
        time.sleep(0.1)
        until(waiting_again)
        if row(guid).status == "done":
            break
        assert row(guid).status == "failed" and row(guid).attempts == 0
    h.wait(timeout=60)
    assert row(guid).status == "done" and row(guid).attempts == 1  # never dead
    assert row(other).status == "done"
    for n in (first, second):
        assert len([c for c in h.comments(city.repo, n) if "veilleur:welcome" in c.body]) == 1


def test_row6_content_creating_calls_of_an_installation_are_spaced(
    harness_factory: Any, city: City, forge: Forge
) -> None:
    h = harness_factory(write_spacing_seconds=0.5)
    forge.scenario.install(city.org)
    h.wait()
    answered: list[tuple[str, str, float]] = []
    record = forge.record

    def timed(entry: Any) -> None:
        answered.append((entry.method, entry.path, time.monotonic()))
        record(entry)

    forge.record = timed  # type: ignore[method-assign]
    forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
    h.wait(timeout=60)
    writes = [
        at
        for method, path, at in answered
        if method in ("POST", "PATCH", "PUT", "DELETE")
        and path != "/graphql"
        and "/access_tokens" not in path
    ]
    assert len(writes) >= 4
    gaps = [b - a for a, b in zip(writes, writes[1:], strict=False)]
    assert min(gaps) >= 0.4, gaps  # 0.5 s apart, give or take the forge's answer time
