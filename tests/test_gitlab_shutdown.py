"""The GitLab client is closed when Veilleur stops: the worker's stop and the end of an
operator command close its connections with the GitHub client's."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FrozenClock
from bot.queue.worker import EmbeddedWorker
from bot.runtime import make_runtime_factory
from bot.settings import Settings
from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade


@pytest.fixture
def gitlab_env(
    gitlab_world: GitLabWorld, gitlab_server: GitLabServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEILLEUR_GITLAB_URL", gitlab_server.url)
    monkeypatch.setenv("VEILLEUR_GITLAB_TOKEN", gitlab_world.api_token)


@pytest.fixture
def engine(tmp_path: object) -> Engine:
    url = f"sqlite:///{tmp_path}/s.db"
    upgrade(url)
    return make_engine(url)


@pytest.mark.usefixtures("gitlab_env")
async def test_the_cleanup_of_a_runtime_closes_the_gitlab_client(
    forge_settings: Settings, forge_clock: FrozenClock, engine: Engine
) -> None:
    runtime, cleanup = await make_runtime_factory(forge_settings, engine, forge_clock)()
    forges = runtime.services.get("forges")
    assert forges is not None
    assert await forges.api.whoami() == "veilleur-bot"  # a connection is open
    assert not forges.api.http._client.is_closed
    await cleanup()
    assert forges.api.http._client.is_closed


@pytest.mark.usefixtures("gitlab_env")
def test_stopping_the_worker_closes_the_gitlab_client(
    forge_settings: Settings, forge_clock: FrozenClock, engine: Engine
) -> None:
    worker = EmbeddedWorker(
        engine, forge_clock, make_runtime_factory(forge_settings, engine, forge_clock)
    )
    worker.start()
    assert worker.runtime is not None
    forges = worker.runtime.services.get("forges")
    assert forges is not None
    assert worker.call(forges.api.whoami(), timeout=10) == "veilleur-bot"
    worker.stop()
    assert forges.api.http._client.is_closed
