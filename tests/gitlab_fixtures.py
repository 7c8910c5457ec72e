"""Shared material for the GitLab tests: the real webhook examples, an intake app with GitLab
secrets, and the simulated GitLab served over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.clock import FrozenClock
from bot.gitlab.signature import sign, signing_key
from bot.gitlab.webhook import GitLabIntake
from bot.sim.gitlab import GitLabServer, GitLabWorld
from tests.conftest import SHARED_ROOT, make_settings, need
from tests.simforge_fixtures import FORGE_START

GITLAB_SECRET = "gl-secret-1"  # noqa: S105 - test secret
SIGNING = "whsec_" + "c2lnbmluZy1rZXktZm9yLXRlc3Rz"  # base64 of "signing-key-for-tests"


def shared() -> Path:
    """../shared/gitlab (or $VEILLEUR_TEST_SHARED/gitlab), as tests/conftest.py finds GitHub's."""
    return need(SHARED_ROOT / "gitlab")


def webhook_examples() -> list[Path]:
    """The real examples (at collection time: none when the material is absent, and the
    tests that count them skip or fail through `shared()`)."""
    return sorted((SHARED_ROOT / "gitlab" / "webhook-examples").rglob("*.json"))


def example(rel: str) -> dict[str, object]:
    return json.loads((shared() / "webhook-examples" / rel).read_text())


def gitlab_client(db_url: str, intake: GitLabIntake, **overrides: object) -> TestClient:
    settings = make_settings(db_url, intake_writer="thread", **overrides)
    app = create_app(settings, run_worker=False, clock=FrozenClock(FORGE_START))
    app.state.gitlab = intake
    return TestClient(app)


def gitlab_headers(
    body: bytes, key: str, *, token: str | None = GITLAB_SECRET, event: str = "Issue Hook"
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Gitlab-Event": event,
        "Idempotency-Key": key,
        "X-Gitlab-Event-UUID": key,
    }
    if token is not None:
        headers["X-Gitlab-Token"] = token
    return headers


def signed(headers: dict[str, str], body: bytes, at: int, token: str = SIGNING) -> dict[str, str]:
    key = headers["Idempotency-Key"]
    return headers | {
        "webhook-id": key,
        "webhook-timestamp": str(at),
        "webhook-signature": sign(signing_key(token), key, at, body),
    }


@pytest.fixture
def gitlab_world(forge_clock: FrozenClock) -> GitLabWorld:
    """On the simulated GitHub's clock: one movable time for both forges and Veilleur."""
    return GitLabWorld(forge_clock)


@pytest.fixture
def gitlab_server(gitlab_world: GitLabWorld) -> Iterator[GitLabServer]:
    with GitLabServer(gitlab_world) as server:
        yield server
