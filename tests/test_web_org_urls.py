"""Organisation and group names in dashboard URLs: `/` written `~`, malformed names refused,
and the API telling each org's slug."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from bot.storage.models import Repository
from bot.web.org_urls import item_path, org_from_slug, org_path, org_slug, repo_in_org
from tests.web_fixtures import web_factory as web_factory  # noqa: F401 (fixture)

GROUP = "127.0.0.1/paris"


@pytest.mark.parametrize(
    "org",
    ["paris", "ville-de-lyon", GROUP, "code.europa.eu/digit/eu-login", "gl.example.org:8443/x_y"],
)
def test_a_slug_names_its_org_again(org: str) -> None:
    assert org_from_slug(org_slug(org)) == org
    assert "/" not in org_slug(org)


@pytest.mark.parametrize(
    "slug",
    ["", "~", "paris~", "~paris", "paris~app", "127.0.0.1", "127.0.0.1~..", "127.0.0.1~a~~b",
     "127.0.0.1~a.", "a b", "<script>", "-paris", "host.org:99999999~g", "x.org~" + "g~" * 30],
)  # fmt: skip
def test_a_malformed_slug_names_nothing(slug: str) -> None:
    assert org_from_slug(slug) is None


def test_paths_below_an_org() -> None:
    assert org_path(GROUP) == "/orgs/127.0.0.1~paris"
    assert org_path(GROUP, "digest", "2025-W09", root="/api/orgs") == (
        "/api/orgs/127.0.0.1~paris/digest/2025-W09"
    )
    assert repo_in_org(GROUP, "127.0.0.1/paris/app") == "app"
    assert repo_in_org("paris", "paris/app") == "app"
    assert item_path(GROUP, "127.0.0.1/paris/app", 7) == "/orgs/127.0.0.1~paris/items/app/7"
    assert org_path("paris", "repos", "a b") == "/orgs/paris/repos/a%20b"


def _add_project(app: Any, name: str, private: bool = False) -> None:
    """A GitLab project as bot/gitlab/projects.py records it: no installation."""
    with Session(app.state.engine) as s:
        s.add(Repository(id=-7, installation_id=None, full_name=name, owner=GROUP,
                         private=private))  # fmt: skip
        s.commit()


def test_a_gitlab_group_has_its_pages_and_api(web_factory: Any) -> None:
    w = web_factory(dashboard_open=True)
    _add_project(w.app, f"{GROUP}/app")
    home = w.client.get("/")
    assert 'href="/orgs/127.0.0.1~paris"' in home.text
    orgs = {o["org"]: o for o in w.client.get("/api/orgs").json()}
    assert orgs[GROUP] == {"org": GROUP, "slug": "127.0.0.1~paris", "repositories": 1,
                           "complete": True}  # fmt: skip
    assert orgs["paris"]["slug"] == "paris"
    page = w.client.get("/orgs/127.0.0.1~paris")
    assert page.status_code == 200
    assert 'href="/orgs/127.0.0.1~paris/digest/2025-W09"' in page.text  # the previous week
    assert 'href="/api/orgs/127.0.0.1~paris/digest"' in page.text
    assert w.client.get("/orgs/127.0.0.1~paris/digest/2025-W09").status_code == 200
    assert w.client.get("/api/orgs/127.0.0.1~paris/digest").json()["org"] == GROUP
    assert w.client.get("/orgs/127.0.0.1~paris/repos/app").status_code == 200
    assert w.client.get("/orgs/127.0.0.1~paris/contributors").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/orgs/127.0.0.1~..", "/orgs/127.0.0.1~~paris", "/orgs/paris~", "/orgs/127.0.0.1~lyon",
     "/orgs/127.0.0.1~paris/repos/nope", "/orgs/127.0.0.1~paris/repos/app/x",
     "/orgs/~/contributors", "/api/orgs/127.0.0.1~..~x/digest", "/api/orgs/a~~b/waiting"],
)  # fmt: skip
def test_malformed_or_unknown_names_are_404(web_factory: Any, path: str) -> None:
    w = web_factory(dashboard_open=True)
    _add_project(w.app, f"{GROUP}/app")
    assert w.client.get(path).status_code == 404


def test_a_private_project_stays_hidden_from_the_public(web_factory: Any) -> None:
    w = web_factory(public_dashboard=True)
    _add_project(w.app, f"{GROUP}/app", private=True)
    assert GROUP not in {o["org"] for o in w.client.get("/api/orgs").json()}
    assert w.client.get("/orgs/127.0.0.1~paris").status_code == 404


def test_a_public_gitlab_project_has_its_badge(web_factory: Any) -> None:
    w = web_factory()
    _add_project(w.app, f"{GROUP}/app")
    badge = w.client.get(f"/badges/{GROUP}/app/response.json")
    assert badge.status_code == 200 and badge.json()["message"] == "no data"
    assert w.client.get(f"/badges/{GROUP}/app/response.svg").status_code == 200
    assert w.client.get(f"/badges/{GROUP}/response.json").status_code == 404  # a group
    assert w.client.get("/badges/127.0.0.1/lyon/app/response.json").status_code == 404
