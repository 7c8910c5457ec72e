"""Faults, end to end through the harness (the simulated forge and the real Veilleur over HTTP):
GitHub's 5xx, timeouts, connection resets and secondary rate limits; retries running out; a
process killed in the middle of a delivery; the database going away while serving."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot import prometheus as metrics
from bot.github.client import RetryPolicy
from bot.intake.recovery import recover
from bot.queue import deliveries
from bot.sim import Forge, ForgeServer, ThreadedServer
from tests.harness import City, Harness
from tests.scaleout_support import Procs, TcpProxy, free_port, veilleur_env, wait_until

TEXT = "The map of the city does not load on my phone since the last update. Could you look?"
COMMENTS = r"/issues/\d+/comments$"
WELCOME = "veilleur:welcome:"


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-place retries after 0.05 s, 0.1 s, … instead of 0.5 s, 1 s, … (same policy)."""
    monkeypatch.setattr(RetryPolicy.__init__, "__defaults__", (4, 0.05))


@pytest.fixture
def h(fast_retries: None, harness_factory: Any, city: City, forge: Forge) -> Harness:
    harness: Harness = harness_factory(github_timeout_seconds=0.5)
    forge.scenario.install(city.org)
    harness.wait()
    return harness


def open_issue(h: Harness, city: City, login: str | None = None) -> int:
    return h.forge.scenario.open_issue(city.repo, login or city.citizen_en, "Map is broken", TEXT)


def welcomes(h: Harness, city: City, n: int) -> int:
    return len([c for c in h.comments(city.repo, n) if WELCOME in c.body])


def hits(forge: Forge, method: str, path: str, *, fault: bool | None = None) -> int:
    return len(
        [
            r
            for r in forge.requests
            if r.method == method
            and re.search(path, r.path)
            and (fault is None or r.fault == fault)
        ]
    )


def retries(reason: str) -> float:
    return metrics.GITHUB_RETRIES.labels(reason=reason)._value.get()


def retry_later(h: Harness) -> None:
    """The queue's backoff elapses: move the clock, nudge the worker, wait."""
    h.clock.advance(timedelta(minutes=10))
    h.worker.wake()
    h.wait()


def test_server_errors_are_retried_in_place(h: Harness, city: City) -> None:
    h.forge.inject("GET", r"/repos/[^/]+/[^/]+/issues$", status=502, times=2)
    h.forge.inject("POST", r"/issues/\d+/labels$", status=503, times=2)
    h.forge.inject("GET", r"/labels/", status=500)
    before = retries("server_error")
    n = open_issue(h, city)
    h.wait()
    assert h.failures() == []
    assert welcomes(h, city, n) == 1
    assert len([r for r in h.forge.requests if r.fault]) == 5
    assert retries("server_error") - before == 5


def test_timeouts_and_connection_resets_are_retried_in_place(h: Harness, city: City) -> None:
    faults = [
        h.forge.inject("GET", r"/community/profile$", delay=1.0, times=2),  # client timeout: 0.5 s
        h.forge.inject("GET", r"/collaborators/[^/]+/permission$", reset_connection=True, times=2),
        h.forge.inject("POST", r"/issues/\d+/labels$", reset_connection=True),  # idempotent write
    ]
    timeouts, resets = retries("timeout"), retries("connection")
    start = len(h.forge.requests)
    n = open_issue(h, city)
    h.wait()
    assert h.failures() == []
    assert welcomes(h, city, n) == 1
    # A delayed request is logged when the forge answers it, after the client gave up on it.
    wait_until(
        lambda: sum(r.fault for r in h.forge.requests[start:]) == sum(f.hits for f in faults),
        5, "the delayed requests were never logged",
    )  # fmt: skip
    log = sorted(h.forge.requests[start:], key=lambda r: r.arrival)
    trace = "\n".join(f"{r.method} {r.path} fault={r.fault} {r.status}" for r in log)
    faulted = [(i, r) for i, r in enumerate(log) if r.fault]
    assert faulted, trace
    for i, r in faulted:  # each one was sent again, in place, until it got its answer
        again = [x for x in log[i + 1 :] if (x.method, x.path) == (r.method, r.path)]
        assert any(not x.fault for x in again), trace
    slow = [r for _, r in faulted if r.path.endswith("/community/profile")]
    assert len(slow) == 2, trace
    delta = (retries("timeout") - timeouts, retries("connection") - resets)
    assert delta == (len(slow), len(faulted) - len(slow)), trace


def test_secondary_rate_limits_wait_for_retry_after(h: Harness, city: City) -> None:
    h.forge.inject("POST", r"/issues/\d+/labels$", status=403, retry_after=1)
    h.forge.inject("POST", COMMENTS, status=429, retry_after=1)  # refused: safe to resend now
    started = time.monotonic()
    n = open_issue(h, city)
    h.wait()
    assert time.monotonic() - started >= 2.0  # both Retry-After waits honoured
    assert h.failures() == []
    assert welcomes(h, city, n) == 1
    assert hits(h.forge, "POST", COMMENTS) == 2


def test_exhausted_retries_fail_the_delivery_and_the_queue_retries_it(
    h: Harness, city: City
) -> None:
    h.forge.inject("GET", r"/community/profile$", status=502, times=5)  # 1 try + 4 retries
    n = open_issue(h, city)
    h.wait()
    [failed] = h.failures()
    assert failed.status == "failed" and "triage" in (failed.last_error or "")
    assert failed.next_attempt_at is not None and failed.next_attempt_at > h.clock.now()
    assert welcomes(h, city, n) == 0
    assert "records" in deliveries.handler_done(h.engine, failed.guid)  # not run again
    retry_later(h)
    assert h.failures() == []
    assert welcomes(h, city, n) == 1
    with h.engine.connect() as conn:
        attempts = conn.execute(
            text("SELECT attempts FROM deliveries WHERE guid = :g"), {"g": failed.guid}
        ).scalar()
    assert attempts == 2


class LateAnswers:
    """ASGI wrapper around the forge: the next matching request is carried out at once, but
    its answer is held `delay` seconds, so a client with a shorter timeout gives up on a write
    that did happen (the hard case: GitHub may well do this)."""

    def __init__(self, app: Any, method: str, pattern: str, delay: float) -> None:
        self.app, self.method, self.pattern, self.delay = app, method, re.compile(pattern), delay
        self.left = 0  # armed by the test

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        match = scope["type"] == "http" and scope["method"] == self.method
        if not (match and self.pattern.search(scope["path"]) and self.left):
            await self.app(scope, receive, send)
            return
        self.left -= 1
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        held: list[Any] = []
        given = False

        async def replay() -> Any:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def hold(message: Any) -> None:
            held.append(message)

        await self.app(scope, replay, hold)
        await asyncio.sleep(self.delay)
        for message in held:
            try:
                await send(message)
            except Exception:  # the client left long ago
                return


@pytest.mark.parametrize("fault", ["answered-late", "reset", "server-error"])
def test_a_comment_whose_outcome_is_unknown_is_never_posted_twice(
    fast_retries: None, harness_factory: Any, city: City, forge: Forge, fault: str
) -> None:
    """A create that timed out may have been carried out: it is not resent in place; the
    delivery fails, and its retry (after the backoff) finds the marker, or posts it when the
    first try had not landed (reset, 5xx)."""
    late_app = LateAnswers(forge.asgi_app(), "POST", COMMENTS, 1.0)
    late = ThreadedServer(late_app).start()
    try:
        h: Harness = harness_factory(github_timeout_seconds=0.5, github_api_url=late.url)
        forge.scenario.install(city.org)
        h.wait()
        if fault == "reset":
            forge.inject("POST", COMMENTS, reset_connection=True)
        elif fault == "server-error":
            forge.inject("POST", COMMENTS, status=502)
        else:
            late_app.left = 1
        n = open_issue(h, city)
        # later deliveries of the item (the bot's own label events) wait behind the failed one
        wait_until(lambda: len(h.failures()) == 1, 30, "the delivery did not fail")
        assert hits(forge, "POST", COMMENTS) == 1
        assert welcomes(h, city, n) == (1 if fault == "answered-late" else 0)
        retry_later(h)
        assert h.failures() == []
        assert welcomes(h, city, n) == 1
        assert hits(forge, "POST", COMMENTS) == (1 if fault == "answered-late" else 2)
    finally:
        late.stop()


def test_process_killed_mid_delivery_is_completed_once_after_restart(
    forge: Forge, forge_server: ForgeServer, city: City, tmp_path: Path
) -> None:
    """SIGKILL `veilleur serve` (SQLite) while its welcome POST is in flight (carried out by
    the forge, not yet answered); the restarted process releases the delivery
    (`release_stale`), completes it, and finds the welcome by its marker: posted once."""
    db = tmp_path / "veilleur.db"
    late_app = LateAnswers(forge.asgi_app(), "POST", COMMENTS, 5.0)
    late = ThreadedServer(late_app).start()
    procs = Procs(veilleur_env(forge, late.url, f"sqlite:///{db}"), tmp_path)
    engine = create_engine(f"sqlite:///{db}")

    def serve(name: str) -> None:
        port = free_port()
        procs.start(name, "serve", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(url), 60, f"{name} not ready", procs, name)
        forge.webhook_url = f"{url}/webhooks/github"

    def status(guid: str) -> tuple[str, int]:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT status, attempts FROM deliveries WHERE guid = :g"), {"g": guid}
            ).one()
        return str(row[0]), int(row[1])

    try:
        serve("first")
        forge.scenario.install(city.org)
        late_app.left = 1
        n = forge.scenario.open_issue(city.repo, city.citizen_en, "Map is broken", TEXT)
        guid = forge.events("issues", "opened")[-1].guid
        wait_until(lambda: hits(forge, "POST", COMMENTS) == 1, 30, "no welcome", procs, "first")
        assert status(guid) == ("processing", 1)
        procs.kill("first", signal.SIGKILL)
        serve("second")
        wait_until(lambda: status(guid)[0] == "done", 60, "not completed", procs, "second")
        forge.settle()
        assert status(guid) == ("done", 2)
        welcome = [c for c in forge.get_repo(city.repo).comments.values() if WELCOME in c.body]
        assert [c.issue_number for c in welcome] == [n]
        assert hits(forge, "POST", COMMENTS) == 1
    finally:
        forge.webhook_url = None
        procs.stop()
        late.stop()
        engine.dispose()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def proxied_pg(pg_url: str) -> Iterator[tuple[str, TcpProxy]]:
    proxy = TcpProxy("127.0.0.1", 5432)
    try:
        yield pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"), proxy
    finally:
        proxy.close()


@pytest.mark.postgres
def test_database_outage_answers_503_and_recovery_brings_the_deliveries_back(
    fast_retries: None, harness_factory: Any, city: City, proxied_pg: tuple[str, TcpProxy]
) -> None:
    url, proxy = proxied_pg
    h: Harness = harness_factory(database_url=url)
    forge = h.forge
    base = forge.webhook_url.removesuffix("/webhooks/github")  # type: ignore[union-attr]
    forge.scenario.install(city.org)
    h.wait()
    before = open_issue(h, city, city.citizen_fr)
    h.wait()

    proxy.cut()
    during = [open_issue(h, city, login) for login in (city.citizen_en, city.citizen_nl)]
    refused = [d for d in forge.events("issues", "opened") if d.status_code == 503]
    assert len(refused) == 2 and all("503" in d.status for d in refused)
    assert httpx.get(f"{base}/readyz").status_code == 503
    assert metrics.WEBHOOKS_REJECTED.labels(reason="storage")._value.get() >= 2

    proxy.restore()  # no restart: the pool reconnects
    wait_until(lambda: _ready(base), 30, "Veilleur did not recover")
    assert all(welcomes(h, city, n) == 0 for n in during)
    report = h.worker.call(
        recover(h.worker.runtime.app_client, h.engine, h.clock.now()), timeout=30
    )
    assert sorted(m.guid for m in report.redelivered) == sorted(d.guid for d in refused)
    assert {m.reason for m in report.redelivered} == {"failed"}
    forge.settle()
    h.wait()
    assert h.failures() == []
    assert [welcomes(h, city, n) for n in (before, *during)] == [1, 1, 1]
    again = h.worker.call(recover(h.worker.runtime.app_client, h.engine, h.clock.now()), timeout=30)
    assert again.redelivered == []
