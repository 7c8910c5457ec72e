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
