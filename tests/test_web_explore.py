"""The pages below an organisation (repository, item, contributors, organisations), their
periods, access rules, links and badges, on a real recorded world (the real digest engine).

World (NOW: Wednesday 2025-03-12; last complete week 2025-W10): `paris/site` and
`paris/outils` public, `paris/interne` private.
- site#7 by mallory (outside, malicious title), opened in W10, never answered: waiting,
  overdue; Veilleur sent reminder 1;
- site#8 by camille (Lyon), opened in W10: a bot comment, a slash-command-only comment, then
  marie's answer (the first response), then another answer;
- outils#2 by jan, opened in W07 and answered; jan came back with outils#3 in W10;
- interne#3 by a secret author (private repository).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.app import create_app
from bot.clock import FrozenClock
from bot.storage.models import ActionLog, Installation, Item, Repository, TimelineEntry
from bot.web.session import SESSION_COOKIE, Viewer, encode_session
from tests.conftest import make_settings

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)
XSS = "<script>alert(1)</script>"
SECRET = "agent-secret"


def at(m: int, d: int, hh: int = 10) -> datetime:
    return datetime(2025, m, d, hh, tzinfo=PARIS)


class Writer:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.keys = 0

    def item(self, repo: str, n: int, author: str, created: datetime, **kw: Any) -> None:
        with Session(self.engine) as s:
            s.add(Item(repo_full_name=repo, owner="paris", number=n, kind=kw.get("kind", "issue"),
                       title=kw.get("title", f"item {n}"), author_login=author,
                       author_class="external", author_company=kw.get("company"),
                       created_at=created))  # fmt: skip
            s.commit()
        self.entry(repo, n, created, "opened", author, "external")

    def entry(self, repo: str, n: int, when: datetime, kind: str, actor: str, cls: str,
              **detail: Any) -> None:  # fmt: skip
        self.keys += 1
        with Session(self.engine) as s:
            s.add(TimelineEntry(repo_full_name=repo, number=n, occurred_at=when, kind=kind,
                                actor_login=actor, actor_class=cls,
                                actor_type="Bot" if cls == "bot" else "User",
                                source_key=f"k{self.keys}", detail=detail))  # fmt: skip
            s.commit()


def seed(engine: Any) -> Writer:
    with Session(engine) as s:
        s.add(Installation(id=1, account_login="paris"))
        for i, (name, private) in enumerate(
            [("paris/site", False), ("paris/outils", False), ("paris/interne", True)], start=10
        ):
            s.add(Repository(id=i, installation_id=1, full_name=name, owner="paris",
                             private=private))  # fmt: skip
        s.add(ActionLog(key="sla:paris/site#7:first_response:reminder:1",
                        done_at=at(3, 11, 11), detail="remind the maintainers of paris/site#7"))  # fmt: skip
        s.commit()
    w = Writer(engine)
    w.item("paris/site", 7, "mallory", at(3, 4, 9), title=XSS)
    w.item("paris/site", 8, "camille", at(3, 5), company="Ville de Lyon")
    w.entry("paris/site", 8, at(3, 5, 11), "commented", "helper[bot]", "bot", body="Hello")
    w.entry("paris/site", 8, at(3, 5, 12), "commented", "marie", "maintainer", body="/label bug")
    w.entry("paris/site", 8, at(3, 6, 14), "commented", "marie", "maintainer", body="Thanks!")
    w.entry("paris/site", 8, at(3, 7, 9), "commented", "paul", "member", body="Merged soon")
    w.item("paris/outils", 2, "jan", at(2, 11))
    w.entry("paris/outils", 2, at(2, 12), "commented", "marie", "maintainer", body="Yes")
    w.item("paris/outils", 3, "jan", at(3, 4))
    w.item("paris/interne", 3, SECRET, at(3, 5), title="Faille", company="SecretCorp")
    return w


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "oauth_client_id": "Iv1.test", "oauth_client_secret": "client-secret",
            "session_secret": "session-secret", "public_url": "http://testserver",
        }  # fmt: skip
        values.update(overrides)
        settings = make_settings(f"sqlite:///{tmp_path / f'x-{len(clients)}.db'}", **values)
        app = create_app(settings, clock=FrozenClock(NOW), run_worker=False)
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        seed(app.state.engine)
        return client

    yield build
    for c in clients:
        c.__exit__(None, None, None)


PAGES = [
    "/orgs/paris/repos/site",
    "/orgs/paris/items/site/8",
    "/orgs/paris/contributors",
    "/orgs/paris/organisations",
]


def test_every_page_answers_and_every_link_on_it_answers_200(make: Any) -> None:
    client = make(dashboard_open=True)
    seen: set[str] = set()
    todo = ["/", "/orgs/paris", *PAGES, *(p + "?period=12w" for p in PAGES[2:])]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        if "html" not in page.headers["content-type"]:
            continue
        for href in re.findall(r'href="(/[^"]*)"', page.text):
            href = href.replace("&amp;", "&")
            other_language = "lang=" in href  # the same page in another language
            if (
                not href.startswith(("/auth/", "/static/", "/api/"))
                and not other_language
                and len(seen) < 300
            ):
                todo.append(href)
    for must in ("/orgs/paris/repos/site", "/orgs/paris/repos/outils", "/orgs/paris/items/site/7",
                 "/orgs/paris/items/outils/3", "/orgs/paris/contributors",
                 "/orgs/paris/organisations", "/badges/paris/site/response.svg"):  # fmt: skip
        assert must in seen, must  # reachable by links


def test_the_overview_links_repositories_items_and_the_other_pages(make: Any) -> None:
    page = make(dashboard_open=True).get("/orgs/paris").text
    for href in ("/orgs/paris/repos/site", "/orgs/paris/repos/outils", "/orgs/paris/items/site/7",
                 "/orgs/paris/contributors", "/orgs/paris/organisations"):  # fmt: skip
        assert f'href="{href}"' in page, href


def test_contributors_come_in_pages(make: Any, monkeypatch: Any) -> None:
    from bot.web import explore

    monkeypatch.setattr(explore, "PAGE_ROWS", 1)
    client = make(dashboard_open=True)
    first = client.get("/orgs/paris/contributors").text
    assert (
        "Page 1 of 3" in first and 'href="/orgs/paris/contributors?period=week&amp;page=2"' in first
    )
    second = client.get("/orgs/paris/contributors?period=week&page=2").text
    assert ("mallory" in first) != ("mallory" in second)
    assert client.get("/orgs/paris/contributors?page=4").status_code == 404


def test_repository_page_shows_waits_trend_volume_health_and_config(make: Any) -> None:
    page = make(dashboard_open=True).get("/orgs/paris/repos/site").text
    assert 'href="/orgs/paris/items/site/7"' in page and "&lt;script&gt;" in page
    assert "<script>" not in page.split("</head>")[1]
    assert page.count('class="chart chart-line"') == 1 and "chart-target" in page
    assert 'class="chart-bar chart-bar-late"' in page  # #7 waits overdue
    assert "sla.first_response_days" in page and "default" in page
    assert "<table" in page and "The chart&#39;s data as a table" in page
    opened = re.search(r'kpi-label">Opened</span>\s*<span class="kpi-value">(\d+)<', page)
    assert opened is not None and opened[1] == "2"  # site#7 and site#8 in W10
    outils = make(dashboard_open=True).get("/orgs/paris/repos/outils?period=4w").text
    opened = re.search(r'kpi-label">Opened</span>\s*<span class="kpi-value">(\d+)<', outils)
    assert opened is not None and opened[1] == "2"  # outils#2 (W07) and #3 (W10)


def test_item_page_names_the_first_response_and_why_others_were_not(make: Any) -> None:
    page = make(dashboard_open=True).get("/orgs/paris/items/site/8").text
    rows = re.findall(r"<tr[^>]*>.*?</tr>", page, re.S)
    first = [r for r in rows if "counted as the first response" in r]
    assert len(first) == 1 and "marie" in first[0] and "6 March 2025" in first[0]
    assert any("helper[bot]" in r and "by a bot" in r for r in rows)
    assert any("slash commands only" in r for r in rows)
    assert any("paul" in r and "after the first one" in r for r in rows)
    assert "maintainer" in page.split('id="first-response"')[1].split("</section>")[0]
    seven = make(dashboard_open=True).get("/orgs/paris/items/site/7").text
    assert "reminder 1" in seven and "remind the maintainers" in seven
    assert "No response yet." in seven and "Waiting for a maintainer now" in seven


def test_contributors_and_their_return_follow_the_period(make: Any) -> None:
    client = make(dashboard_open=True)
    week = client.get("/orgs/paris/contributors").text
    assert "mallory" in week and "camille" in week and "jan" not in week
    four = client.get("/orgs/paris/contributors?period=4w").text
    jan = [r for r in re.findall(r"<tr>.*?</tr>", four, re.S) if ">jan<" in r]
    assert len(jan) == 1 and "came back" in jan[0]
    custom = client.get("/orgs/paris/contributors?from=2025-W07&to=2025-W07").text
    assert "jan" in custom and "mallory" not in custom
    assert client.get("/orgs/paris/contributors?from=2025-W11").status_code == 404  # not over
    assert client.get("/orgs/paris/contributors?from=2024-W01&to=2025-W10").status_code == 404
    assert client.get("/orgs/paris/contributors?period=year").status_code == 404


def test_organisations_matrix_and_elephant_factor(make: Any) -> None:
    page = make(dashboard_open=True).get("/orgs/paris/organisations?period=4w").text
    matrix = page.split('id="matrix"')[1].split("</section>")[0]
    assert "Ville de Lyon" in matrix and "independent" in matrix
    assert 'href="/orgs/paris/repos/site?period=4w"' in matrix
    kpi = page.split("Elephant factor")[1][:200]
    assert re.search(r'kpi-value">\d', kpi)


def test_public_mode_shows_public_repositories_only_and_no_names(make: Any) -> None:
    client = make(public_dashboard=True)
    for path in ("/orgs/paris/repos/interne", "/orgs/paris/items/interne/3"):
        assert client.get(path).status_code == 404, path
    for path in PAGES + ["/orgs/paris/contributors?period=12w", "/orgs/paris"]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert (
            SECRET not in page.text and "Faille" not in page.text and "secretcorp" not in page.text
        )
    contributors = client.get("/orgs/paris/contributors").text
    assert "mallory" not in contributors and "camille" not in contributors
    assert "marie" not in client.get("/orgs/paris/items/site/8").text


def test_sign_in_is_required_and_a_user_sees_their_repositories(make: Any) -> None:
    client = make()
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["location"].startswith("/auth/login")
    settings = client.app.state.settings  # type: ignore[attr-defined]
    viewer = Viewer("marie", {"paris": frozenset({"interne"})})
    client.cookies.set(SESSION_COOKIE, encode_session(settings, viewer))
    assert client.get("/orgs/paris/repos/interne").status_code == 200
    assert client.get("/orgs/paris/items/interne/3").status_code == 200
    assert client.get("/orgs/paris/repos/site").status_code == 404
    assert "mallory" not in client.get("/orgs/paris/contributors").text


def test_badges_for_public_repositories_only(make: Any) -> None:
    client = make()  # no public dashboard, no sign-in: badges are public anyway
    svg = client.get("/badges/paris/site/response.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "first response" in svg.text and "business day" in svg.text
    body = client.get("/badges/paris/site/response.json").json()
    assert body["schemaVersion"] == 1 and body["label"] == "first response"
    assert body["color"] == "green" and body["message"] == "1.2 business days"  # site#8 only
    assert client.get("/badges/paris/interne/response.json").status_code == 404
    assert client.get("/badges/paris/nothing/response.svg").status_code == 404
    assert client.get("/badges/paris/outils/response.json").json()["color"] == "green"


def test_snapshots_are_computed_once_and_again_after_a_change(make: Any) -> None:
    client = make(dashboard_open=True)
    for path in ["/orgs/paris", *PAGES, "/orgs/paris/contributors?period=4w"]:
        assert client.get(path).status_code == 200
    store = client.app.state.snapshots  # type: ignore[attr-defined]
    assert store.computations == 1  # one snapshot serves every page of the latest week
    store.marker_seconds = store.refresh_seconds = 0.0
    Writer(client.app.state.engine).item("paris/site", 9, "newbie", at(3, 6))  # type: ignore[attr-defined]
    assert "newbie" not in client.get("/orgs/paris/contributors").text  # served, not waited
    store.wait_idle()
    assert store.computations == 2
    assert "newbie" in client.get("/orgs/paris/contributors").text
