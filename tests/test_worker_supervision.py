"""The worker process's supervisor (`veilleur serve`): a worker that cannot start is replaced,
never left alive and idle while deliveries wait, and a worker that keeps failing is started
again after a pause that grows instead of several times a second. Against the real server
(worker process forked as in `veilleur serve`) on the simulated forge."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.prometheus import REGISTRY
from bot.queue import worker_process
from bot.sim import Forge
from tests.harness import City, Harness  # noqa: F401
from tests.test_attacks_service import served_in_process_mode

# Set by each test before the app starts: the forked worker process inherits it.
MARKERS: dict[str, Path] = {}


def first_start(name: str) -> bool:
    """True the first time it is asked, in any process (a file marks it)."""
    marker = MARKERS["dir"] / name
    if marker.exists():
        return False
    marker.write_text("started")
    return True


def failing_once_services(settings: Any, engine: Any, clock: Any) -> dict[str, Any]:
    """The worker's runtime cannot be built the first time (a service that failed to start)."""
    from bot.app import default_services

    if first_start("failed"):
        raise RuntimeError("the first worker cannot build its services")
    return default_services(settings, engine, clock)


def hanging_once_services(settings: Any, engine: Any, clock: Any) -> dict[str, Any]:
    """The first worker's runtime never finishes building (a call that never returns)."""
    from bot.app import default_services

    if first_start("hung"):
        while True:
            time.sleep(1)
    return default_services(settings, engine, clock)


def slow_once_services(settings: Any, engine: Any, clock: Any) -> dict[str, Any]:
    """The first worker's runtime takes 4 s to build (a loaded host), then builds."""
    from bot.app import default_services

    if first_start("slow"):
        time.sleep(4)
    return default_services(settings, engine, clock)


def always_failing_services(settings: Any, engine: Any, clock: Any) -> dict[str, Any]:
    (MARKERS["dir"] / "attempts").open("a").write("x")
    raise RuntimeError("this worker can never start")


def not_started() -> float:
    """Workers started again so far because one did not start (this test process's counter)."""
    value = REGISTRY.get_sample_value("veilleur_worker_restarts_total", {"reason": "not_started"})
    return value or 0.0


def welcomed(forge: Forge, city: City, number: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        forge.settle()
        repo = forge.get_repo(city.repo)
        if any(c.issue_number == number for c in repo.comments.values()):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("services", [failing_once_services, hanging_once_services])
def test_a_worker_that_cannot_start_is_replaced_and_the_next_one_works(
    services: Any,
    forge: Forge,
    forge_settings: Any,
    city: City,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    MARKERS["dir"] = tmp_path
    monkeypatch.setattr(worker_process, "MIN_START_SECONDS", 0.0)  # the handler limit: 3 s
    app, server = served_in_process_mode(
        forge, forge_settings, tmp_path, handler_time_limit_seconds=3, services=services
    )
    try:
        forge.scenario.install(city.org)
        n = forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
        assert welcomed(forge, city, n, 30), "no worker handled the new issue"
        supervisor = app.state.worker_process
        assert supervisor.restarts >= 1
        metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
        assert 'veilleur_worker_restarts_total{reason="not_started"}' in metrics
    finally:
        forge.webhook_url = None
        server.stop()


def test_a_worker_silent_before_it_builds_anything_is_killed_and_replaced(
    forge: Forge,
    forge_settings: Any,
    city: City,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first worker hangs before its own time limit applies (opening its database): the
    supervisor's limit kills it."""
    import bot.storage.db

    MARKERS["dir"] = tmp_path
    web, real = os.getpid(), bot.storage.db.make_engine

    def make_engine(*args: Any, **kwargs: Any) -> Any:
        if os.getpid() != web and first_start("silent"):
            while True:
                time.sleep(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(bot.storage.db, "make_engine", make_engine)
    monkeypatch.setattr(worker_process, "MIN_START_SECONDS", 0.0)  # the handler limit: 5 s
    app, server = served_in_process_mode(
        forge, forge_settings, tmp_path, handler_time_limit_seconds=5
    )
    try:
        forge.scenario.install(city.org)
        n = forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
        assert welcomed(forge, city, n, 30), "no worker handled the new issue"
        assert app.state.worker_process.restarts >= 1
        assert "the worker process did not start within 10 s; stopped" in caplog.text
    finally:
        forge.webhook_url = None
        server.stop()


def test_a_short_handler_limit_still_gives_a_slow_worker_time_to_start(
    forge: Forge, forge_settings: Any, city: City, tmp_path: Path
) -> None:
    """A handler limit of 2 s is for deliveries: a worker whose start takes 4 s is waited for
    (MIN_START_SECONDS), not killed and started again and again."""
    MARKERS["dir"] = tmp_path
    before = not_started()
    app, server = served_in_process_mode(
        forge, forge_settings, tmp_path, handler_time_limit_seconds=2, services=slow_once_services
    )
    try:
        assert (tmp_path / "slow").exists()  # the first worker was the slow one
        forge.scenario.install(city.org)
        n = forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
        assert welcomed(forge, city, n, 60), "no worker handled the new issue"
        assert not_started() == before
    finally:
        forge.webhook_url = None
        server.stop()


def test_a_worker_that_keeps_failing_is_restarted_after_growing_pauses(
    forge: Forge, forge_settings: Any, tmp_path: Path
) -> None:
    MARKERS["dir"] = tmp_path
    app, server = served_in_process_mode(
        forge, forge_settings, tmp_path, services=always_failing_services
    )
    try:
        time.sleep(8)
        attempts = len((tmp_path / "attempts").read_text())
        # pauses of 1, 2 and 4 s after the first failure: at most 4 attempts in 8 s (checked
        # every 0.2 s without them: ~40)
        assert 2 <= attempts <= 4, attempts
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    finally:
        forge.webhook_url = None
        server.stop()


def test_an_embedded_worker_that_cannot_start_stops_the_app_from_starting(
    forge_settings: Any, tmp_path: Path
) -> None:
    """In one process (`veilleur demo`), nothing would start it again: the app does not start,
    rather than take deliveries nobody handles."""
    from fastapi.testclient import TestClient

    from bot.app import create_app
    from bot.settings import Settings

    MARKERS["dir"] = tmp_path
    values = forge_settings.model_dump() | {
        "database_url": f"sqlite:///{tmp_path / 'v.db'}",
        "private_key": forge_settings.private_key.get_secret_value(),
    }
    app = create_app(Settings(**values), services=always_failing_services)
    with pytest.raises(RuntimeError, match="the worker did not start"), TestClient(app):
        pass
    assert (tmp_path / "attempts").read_text() == "x"
