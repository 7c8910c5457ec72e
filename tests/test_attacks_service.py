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
from bot.simforge import Forge
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
        if "POISON" in str((event.payload.get("comment") or {}).get("body")):
            while True:  # holds the GIL and the loop: only killing the process stops it
                pass
        return await real(event, ctx)

    commands.handle = handle
    return default_services(settings, engine, clock)


def test_stuck_handler_never_stalls_intake_and_is_killed_retried_then_dead(
    forge: Forge, forge_settings: Any, city: City, tmp_path: Path
) -> None:
    from bot.app import create_app
    from bot.settings import Settings
    from bot.simforge import ThreadedServer
    from bot.storage.db import make_engine
    from bot.storage.models import Delivery

    values = forge_settings.model_dump()
    values.update(
        database_url=f"sqlite:///{tmp_path / 'v.db'}",
        webhook_secret=forge.webhook_secret,
        private_key=forge_settings.private_key.get_secret_value(),
        retry_base_seconds=0.2,
        max_attempts=2,
        handler_time_limit_seconds=10,
        log_format="text",
    )
    settings = Settings(**values)
    app = create_app(settings, worker_process=True, services=looping_services)
    server = ThreadedServer(app, lifespan="on").start(timeout=60)
    engine = make_engine(settings.database_url)
    try:
        forge.webhook_url = f"{server.url}/webhooks/github"
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

        def status() -> Delivery | None:
            with engine.connect() as conn:
                from sqlmodel import Session

                with Session(conn) as s:
                    return s.get(Delivery, poison)

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
        m = forge.scenario.open_issue(city.repo, city.citizen_fr, "Carte", "La carte ne marche pas.")
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
