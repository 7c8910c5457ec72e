"""Digests and a recorded world for the dashboard tests (no forge needed).

World: `paris` (installed) with `paris/site` and `paris/outils` public, `paris/interne`
private; `lyon` (installed) with only the private `lyon/app`. The digest source hands out a
digest naming every repository, with a malicious title on a public one and secrets
(title, author, organisation) on the private ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.app import create_app
from bot.clock import FrozenClock
from bot.digest.model import (
    Digest,
    NewContributor,
    OrganisationShare,
    RepoHealth,
    TimeToFirstResponse,
    TrendPoint,
    Volume,
    WaitingItem,
)
from bot.storage.models import Installation, Repository
from bot.web.data import shift_week
from bot.web.session import SESSION_COOKIE, Viewer
from tests.conftest import make_settings

NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)  # a Wednesday: last complete week 2025-W10
XSS = "<script>alert(1)</script>"
SECRET_TITLE = "Faille confidentielle"
SECRET_AUTHOR = "agent-secret"
SECRET_ORG = "SecretCorp"
REPOS = {
    "paris/site": False,
    "paris/outils": False,
    "paris/interne": True,
    "lyon/app": True,
}


def waiting(repo: str, number: int, title: str, author: str, days: float, org: str) -> WaitingItem:
    return WaitingItem(
        repo=repo, number=number, title=title, author=author, author_class="external",
        organisation=org, business_days_waiting=days, overdue=days > 2, kind="issue",
        url=f"https://github.com/{repo}/issues/{number}",
    )  # fmt: skip


def make_digest(org: str, week: str | None) -> Digest:
    week = week or "2025-W10"
    start = datetime.fromisocalendar(int(week[:4]), int(week[6:]), 1).replace(tzinfo=UTC)
    ttfr = TimeToFirstResponse("outside", 6, 4, 2, 5.5, 20.25, 0.5)
    weeks = [shift_week(week, -i) for i in range(11, -1, -1)]
    trend = [TrendPoint(w, None if i == 4 else 3.0 + i, i, i % 3) for i, w in enumerate(weeks)]
    repos = [r for r in REPOS if r.startswith(f"{org}/")]
    items = [
        waiting("paris/site", 7, XSS, "mallory", 3.5, "independent"),
        waiting("paris/site", 8, "Lien cassé", "camille", 0.5, "Lyon"),
        waiting("paris/outils", 2, "Carte", "jan", 12.0, "independent"),
        waiting("paris/interne", 3, SECRET_TITLE, SECRET_AUTHOR, 6.0, SECRET_ORG),
        waiting("lyon/app", 1, SECRET_TITLE, SECRET_AUTHOR, 1.0, SECRET_ORG),
    ]
    return Digest(
        org=org, week=week, start=start, end=start + timedelta(days=7), generated_at=NOW,
        ttfr_outside=ttfr, ttfr_inside=TimeToFirstResponse("inside", 2, 2, 0, 1.0, 2.0, 1.0),
        volume=Volume(5, 2, 3, 1, 1), change_request_closure_ratio=0.5,
        waiting=[w for w in items if w.repo in repos],
        new_contributors=[
            NewContributor("mallory", "independent", "paris/site", 7, "issue", "waiting"),
            NewContributor(SECRET_AUTHOR, SECRET_ORG, "paris/interne", 3, "issue", "waiting"),
        ],
        organisations=[OrganisationShare("Lyon", 3), OrganisationShare(SECRET_ORG, 2, True),
                       OrganisationShare(XSS, 1)],
        new_organisations=[SECRET_ORG], elephant_factor=2,
        repositories=[RepoHealth(r, 2, 3.5, 5.0, NOW - timedelta(days=3), False) for r in repos],
        trend_4w=trend[-4:], trend_12w=trend,
    )  # fmt: skip


class World:
    def __init__(self, client: TestClient, app: Any) -> None:
        self.client = client
        self.app = app

    def sign_in(self, login: str, repos: dict[str, list[str]]) -> None:
        """Put a session cookie in the client, as `/auth/callback` would."""
        from bot.web.session import encode_session

        viewer = Viewer(login, {o: frozenset(n) for o, n in repos.items()})
        self.client.cookies.set(SESSION_COOKIE, encode_session(self.app.state.settings, viewer))


def seed(engine: Any) -> None:
    with Session(engine) as s:
        s.add(Installation(id=1, account_login="paris"))
        s.add(Installation(id=2, account_login="lyon"))
        for i, (name, private) in enumerate(REPOS.items(), start=10):
            owner = name.split("/")[0]
            s.add(Repository(id=i, installation_id=1 if owner == "paris" else 2,
                             full_name=name, owner=owner, private=private))  # fmt: skip
        s.commit()


@pytest.fixture
def web_factory(tmp_path: Path) -> Iterator[Any]:
    """`make(**settings)` → a World: the real app (no worker) on a seeded SQLite record."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> World:
        values: dict[str, Any] = {
            "oauth_client_id": "Iv1.test", "oauth_client_secret": "client-secret",
            "session_secret": "session-secret", "public_url": "http://testserver",
        }  # fmt: skip
        values.update(overrides)
        settings = make_settings(f"sqlite:///{tmp_path / f'web-{len(clients)}.db'}", **values)
        app = create_app(settings, clock=FrozenClock(NOW), run_worker=False)
        app.state.digest_source = lambda org, week, repos: make_digest(org, week)
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        seed(app.state.engine)
        return World(client, app)

    yield make
    for client in clients:
        client.__exit__(None, None, None)
