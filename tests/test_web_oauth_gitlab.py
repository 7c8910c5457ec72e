"""Sign-in with GitLab against the simulated GitLab, over real HTTP: the authorization code
flow with PKCE (S256, scope `read_api`), the session it leaves, which projects each person
then sees (group membership inherited downwards, project membership, Reporter or above),
the choice page beside GitHub, the unconfigured page, and `veilleur doctor`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bot.clock import FrozenClock
from bot.doctor.cli import run_checks
from bot.gitlab.settings import GitLabSettings
from bot.gitlab.user_access import Memberships
from bot.sim import Forge
from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.sim.gitlab.oauth import oauth
from bot.sim.routes_oauth import oauth as github_oauth
from bot.web.access_gitlab import gitlab_group_visible, gitlab_may_see, recorded_paths
from bot.web.session import decode_session
from tests.conftest import make_settings
from tests.harness import City, Harness

SESSION_SECRET = "dashboard-session-secret"
GUEST, REPORTER, DEVELOPER = 10, 20, 30
PROJECTS = {  # path -> visibility
    "paris/lutece-core": "public",
    "paris/secret": "private",
    "paris/outils/carte": "private",
    "lyon/app": "private",
}


@dataclass
class Dash:
    harness: Harness
    world: GitLabWorld
    base: str  # Veilleur's address
    host: str  # the instance's host, which qualifies its project names


def _seed(world: GitLabWorld) -> None:
    for login in ("marie", "alice", "lea", "gaston", "jan"):
        world.add_user(login)
    for group in ("paris", "paris/outils", "lyon"):
        world.add_group(group)
        world.add_member(group, world.bot["username"], 40)
    for path, visibility in PROJECTS.items():
        world.add_project(path, visibility=visibility)
    world.add_member("paris", "marie", DEVELOPER)  # the whole group, subgroups included
    world.add_member("paris/secret", "alice", REPORTER)  # one project
    world.add_member("paris/outils", "lea", DEVELOPER)  # a subgroup: not its parent
    world.add_member("paris", "gaston", GUEST)  # below read access


@pytest.fixture
def gitlab(gitlab_world: GitLabWorld) -> Iterator[GitLabServer]:
    _seed(gitlab_world)
    with GitLabServer(gitlab_world) as server:
        yield server


def _dash(
    harness_factory: Any,
    forge: Forge,
    server: GitLabServer,
    monkeypatch: pytest.MonkeyPatch,
    *,
    gitlab_oauth: bool = True,
    **overrides: Any,
) -> Dash:
    world = server.world
    monkeypatch.setenv("VEILLEUR_GITLAB_URL", server.url)
    monkeypatch.setenv("VEILLEUR_GITLAB_TOKEN", world.api_token)
    monkeypatch.setenv("VEILLEUR_GITLAB_WEBHOOK_SECRET", world.webhook_token)
    if gitlab_oauth:
        monkeypatch.setenv("VEILLEUR_GITLAB_OAUTH_CLIENT_ID", oauth(world).client_id)
        monkeypatch.setenv("VEILLEUR_GITLAB_OAUTH_SECRET", oauth(world).client_secret)
    h = harness_factory(session_secret=SESSION_SECRET, **overrides)
    assert forge.webhook_url is not None
    base = forge.webhook_url.rsplit("/webhooks/", 1)[0]
    oauth(world).redirect_uris = [f"{base}/auth/gitlab/callback"]
    host = urlsplit(server.url).hostname or ""
    deadline = time.monotonic() + 60  # the projects, as the reconciliation at start records them
    while recorded_paths(h.engine, host) != sorted(PROJECTS):
        assert time.monotonic() < deadline, recorded_paths(h.engine, host)
        time.sleep(0.05)
    return Dash(h, world, base, host)


@pytest.fixture
def dash(
    harness_factory: Any, forge: Forge, gitlab: GitLabServer, monkeypatch: pytest.MonkeyPatch
) -> Dash:
    return _dash(harness_factory, forge, gitlab, monkeypatch)


@pytest.fixture
def both(
    harness_factory: Any, forge: Forge, gitlab: GitLabServer, monkeypatch: pytest.MonkeyPatch
) -> Dash:
    """GitLab's sign-in and GitHub's, both configured."""
    return _dash(
        harness_factory, forge, gitlab, monkeypatch,
        oauth_client_id=forge.the_app.client_id,
        oauth_client_secret=github_oauth(forge).client_secret,
        github_web_url=forge.api_url,
    )  # fmt: skip


def sign_in(d: Dash, login: str, next_path: str = "/api/orgs") -> httpx.Response:
    oauth(d.world).signed_in = login
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        response = client.get(f"{d.base}/auth/login", params={"next": next_path})
        response.read()
        response.extensions["cookies"] = dict(client.cookies)
    return response


def orgs(d: Dash, login: str) -> dict[str, int]:
    r = sign_in(d, login)
    assert r.status_code == 200, r.text
    return {o["org"].removeprefix(f"{d.host}/"): o["repositories"] for o in r.json()}


def test_a_group_member_signs_in_and_sees_the_groups_projects(dash: Dash) -> None:
    r = sign_in(dash, "marie")
    assert r.status_code == 200, r.text
    assert [h.url.path for h in r.history] == [
        "/auth/login", "/auth/gitlab/login", "/oauth/authorize", "/auth/gitlab/callback",
    ]  # fmt: skip
    assert orgs(dash, "marie") == {"paris": 2, "paris/outils": 1}
    raw = r.extensions["cookies"]["veilleur_session"].strip('"')
    assert "secret" not in raw and "carte" not in raw  # encrypted, not only signed
    data = decode_session(dash.harness.settings, raw)
    assert data is not None and data.pop("sid")
    paths = ["paris/lutece-core", "paris/outils/carte", "paris/secret"]
    assert data == {"u": "marie", "r": {dash.host: paths}}
    assert all(token not in str(data) for token in oauth(dash.world).tokens)


def test_membership_is_inherited_downwards_only_and_needs_read_access(dash: Dash) -> None:
    assert orgs(dash, "alice") == {"paris": 1}  # her one project
    assert orgs(dash, "lea") == {"paris/outils": 1}  # her subgroup, not its parent
    assert orgs(dash, "gaston") == {}  # a Guest reads no private project's code
    assert orgs(dash, "jan") == {}


def test_the_rules_on_names(dash: Dash) -> None:
    member = Memberships("x", frozenset({"city/sub"}), frozenset({"other/app"}))
    assert gitlab_group_visible("City/Sub/Deep", member.groups)
    assert not gitlab_group_visible("city", member.groups)
    assert not gitlab_group_visible("city/subway", member.groups)
    assert gitlab_may_see("city/sub/deep/app", member) and gitlab_may_see("Other/App", member)
    assert not gitlab_may_see("other/app2", member) and not gitlab_may_see("city/app", member)


def test_pkce_s256_and_read_api(dash: Dash) -> None:
    oauth(dash.world).signed_in = "marie"
    with httpx.Client(timeout=10) as client:
        start = client.get(f"{dash.base}/auth/gitlab/login")
        assert start.status_code == 302 and start.headers["cache-control"] == "no-store"
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert query["scope"] == ["read_api"] and query["response_type"] == ["code"]
        assert query["code_challenge_method"] == ["S256"]
        assert len(query["code_challenge"][0]) == 43
        callback = client.get(start.headers["location"]).headers["location"]
        code = parse_qs(urlsplit(callback).query)["code"][0]
        grant = oauth(dash.world).codes[code]
        assert grant.scopes == {"read_api"} and grant.challenge == query["code_challenge"][0]
        assert "code_challenge" not in str(client.cookies)
        assert client.get(callback).status_code == 302
    form = {
        "grant_type": "authorization_code",
        "client_id": oauth(dash.world).client_id,
        "client_secret": oauth(dash.world).client_secret,
        "redirect_uri": oauth(dash.world).redirect_uris[0],
    }
    token = next(iter(oauth(dash.world).tokens))
    with httpx.Client(base_url=dash.world.url, timeout=10) as gl:
        user = gl.get("/api/v4/user", headers={"Authorization": f"Bearer {token}"})
        assert user.json()["username"] == "marie"
        write = gl.post(
            "/api/v4/projects/paris%2Fsecret/issues",
            json={"title": "x"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert write.status_code == 403 and write.json()["error"] == "insufficient_scope"
        # a code asked with a challenge is redeemed with its verifier only
        oauth(dash.world).signed_in = "alice"
        back = gl.get(start.headers["location"]).headers["location"]
        stolen = parse_qs(urlsplit(back).query)["code"][0]
        refused = gl.post("/oauth/token", data=form | {"code": stolen, "code_verifier": "x" * 43})
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_a_code_from_another_sign_in_is_refused(dash: Dash) -> None:
    """A code taken from someone's sign-in and fed to another browser's callback (with that
    browser's own state): the verifier of that state does not match the code's challenge."""

    def begin(client: httpx.Client, login: str) -> dict[str, list[str]]:
        oauth(dash.world).signed_in = login
        start = client.get(f"{dash.base}/auth/gitlab/login")
        return parse_qs(urlsplit(client.get(start.headers["location"]).headers["location"]).query)

    with httpx.Client(timeout=10) as victim, httpx.Client(timeout=10) as attacker:
        stolen = begin(victim, "marie")["code"][0]
        own_state = begin(attacker, "jan")["state"][0]
        url = f"{dash.base}/auth/gitlab/callback"
        r = attacker.get(url, params={"code": stolen, "state": own_state})
        assert r.status_code == 502 and "GitLab refused" in r.text
        assert "veilleur_session" not in attacker.cookies


def test_the_state_is_checked(dash: Dash, forge: Forge) -> None:
    oauth(dash.world).signed_in = "marie"

    def begin(client: httpx.Client) -> str:
        start = client.get(f"{dash.base}/auth/gitlab/login")
        return str(client.get(start.headers["location"]).headers["location"])

    with httpx.Client(timeout=10) as client:
        callback = begin(client)
        with httpx.Client(timeout=10) as stranger:  # right state, another browser
            assert stranger.get(callback).status_code == 400
        assert client.get(callback.replace("state=", "state=x")).status_code == 400
        assert client.get(callback).status_code == 400  # a failed callback ends the attempt
        denied = client.get(f"{dash.base}/auth/gitlab/callback", params={"error": "access_denied"})
        assert denied.status_code == 400
        assert client.get(f"{dash.base}/api/orgs").status_code == 401
        assert client.get(begin(client)).status_code == 302
        assert client.get(f"{dash.base}/api/orgs").status_code == 200


def test_a_github_state_is_refused_at_the_gitlab_callback(both: Dash) -> None:
    oauth(both.world).signed_in = "marie"
    with httpx.Client(timeout=10) as client:
        start = client.get(f"{both.base}/auth/gitlab/login")
        code = parse_qs(urlsplit(client.get(start.headers["location"]).headers["location"]).query)
        github = client.get(f"{both.base}/auth/github/login")  # its state replaces GitLab's
        state = parse_qs(urlsplit(github.headers["location"]).query)["state"][0]
        callback = f"{both.base}/auth/gitlab/callback"
        r = client.get(callback, params={"code": code["code"][0], "state": state})
        assert r.status_code == 400 and "expired or was not started here" in r.text


def test_the_choice_page_when_both_forges_sign_in(forge: Forge, city: City, both: Dash) -> None:
    forge.scenario.install(city.org)
    both.harness.wait()
    with httpx.Client(timeout=10) as client:
        page = client.get(f"{both.base}/auth/login", params={"next": "/api/orgs", "lang": "fr"})
        assert page.status_code == 200
        assert 'href="/auth/github/login?next=%2Fapi%2Forgs"' in page.text
        assert 'href="/auth/gitlab/login?next=%2Fapi%2Forgs"' in page.text
        assert "Se connecter avec GitLab" in page.text and "Se connecter avec GitHub" in page.text
    github_oauth(forge).signed_in = "marie"
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        r = client.get(f"{both.base}/auth/github/login", params={"next": "/api/orgs"})
        assert [o["org"] for o in r.json()] == ["paris"]  # her GitHub organisation
    assert orgs_via(both, "/auth/gitlab/login", "marie") == [
        f"{both.host}/paris",
        f"{both.host}/paris/outils",
    ]


def orgs_via(d: Dash, start: str, login: str) -> list[str]:
    oauth(d.world).signed_in = login
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        r = client.get(f"{d.base}{start}", params={"next": "/api/orgs"})
        return [o["org"] for o in r.json()]


def test_the_unconfigured_page_names_both_forges(
    harness_factory: Any, forge: Forge, gitlab: GitLabServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _dash(harness_factory, forge, gitlab, monkeypatch, gitlab_oauth=False)
    with httpx.Client(timeout=10) as client:
        for path in ("/auth/login", "/auth/gitlab/login", "/auth/gitlab/callback"):
            r = client.get(f"{d.base}{path}")
            assert r.status_code == 503, path
            for name in ("VEILLEUR_OAUTH_CLIENT_ID", "VEILLEUR_GITLAB_OAUTH_CLIENT_ID",
                         "VEILLEUR_GITLAB_OAUTH_SECRET", "VEILLEUR_SESSION_SECRET"):  # fmt: skip
                assert name in r.text, (path, name)
        assert client.get(f"{d.base}/").status_code == 401


def test_only_gitlab_configured_the_top_bar_says_gitlab(dash: Dash) -> None:
    with httpx.Client(timeout=10) as client:
        page = client.get(f"{dash.base}/accessibility")
        assert "Sign in with GitLab" in page.text and "Sign in with GitHub" not in page.text
    r = sign_in(dash, "alice", "/?lang=nl")
    assert r.status_code == 200 and "alice" in r.text


def test_doctor_checks_gitlab_sign_in(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'v.db'}", session_secret="k")
    clock = FrozenClock(datetime(2025, 3, 3, tzinfo=UTC))

    def check(**values: Any) -> Any:
        found = run_checks(settings, clock, GitLabSettings(**values))
        return next(c for c in found if c.name == "GitLab sign-in")

    assert check().status == "skip"
    partial = check(oauth_client_id="abc")
    assert partial.status == "fail"
    assert (
        "VEILLEUR_GITLAB_OAUTH_SECRET" in partial.detail and "VEILLEUR_GITLAB_URL" in partial.detail
    )
    complete = check(url="https://gitlab.example.org", oauth_client_id="abc", oauth_secret="s")
    assert complete.status == "ok" and "/auth/gitlab/callback" in complete.detail
    assert "read_api" in complete.detail


def test_the_simulated_provider_answers_as_gitlab(dash: Dash) -> None:
    app = oauth(dash.world)
    params = {
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uris[0],
        "response_type": "code",
        "state": "s",
        "scope": "read_api",
    }
    with httpx.Client(base_url=dash.world.url, timeout=10) as gl:
        form = gl.get("/oauth/authorize", params=params)
        assert form.status_code == 200 and 'name="username"' in form.text
        assert form.headers["content-type"].startswith("text/html")
        elsewhere = gl.get(
            "/oauth/authorize", params=params | {"redirect_uri": "http://evil.test/"}
        )
        assert elsewhere.status_code == 400 and "location" not in elsewhere.headers
        assert gl.get("/oauth/authorize", params=params | {"client_id": "nope"}).status_code == 401
        for bad in ({"scope": "sudo"}, {"response_type": "token"},
                    {"code_challenge": "c", "code_challenge_method": "plain"}):  # fmt: skip
            back = gl.get("/oauth/authorize", params=params | bad | {"username": "marie"})
            query = parse_qs(urlsplit(back.headers["location"]).query)
            assert back.status_code == 302 and "code" not in query and query["state"] == ["s"]
        back = gl.get("/oauth/authorize", params=params | {"username": "marie"})
        code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
        form_body = {
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "code": code,
            "redirect_uri": app.redirect_uris[0],
        }
        wrong = gl.post("/oauth/token", data=form_body | {"client_secret": "wrong"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        good = gl.post("/oauth/token", json=form_body | {"client_secret": app.client_secret})
        body = good.json()
        assert good.status_code == 200 and body["token_type"] == "Bearer"
        assert body["scope"] == "read_api" and body["expires_in"] == 7200
        again = gl.post("/oauth/token", data=form_body | {"client_secret": app.client_secret})
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # once
        auth = {"Authorization": f"Bearer {body['access_token']}"}
        groups = gl.get("/api/v4/groups", params={"min_access_level": 20}, headers=auth)
        assert [g["full_path"] for g in groups.json()] == ["paris", "paris/outils"]
        assert groups.headers["x-total"] == "2" and "members" not in groups.json()[0]
        mine = gl.get("/api/v4/projects", params={"membership": "true"}, headers=auth)
        assert "lyon/app" not in {p["path_with_namespace"] for p in mine.json()}
        assert gl.get("/api/v4/user", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_signing_out_of_a_gitlab_session(dash: Dash) -> None:
    oauth(dash.world).signed_in = "marie"
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        client.get(f"{dash.base}/auth/login")
        copied = dict(client.cookies)
        assert client.get(f"{dash.base}/api/orgs").status_code == 200
        out = client.post(f"{dash.base}/auth/logout")
        assert out.url.path == "/auth/signed-out" and "or GitLab may still keep you" in out.text
    with httpx.Client(timeout=10, cookies=copied) as thief:  # the session was revoked
        assert thief.get(f"{dash.base}/api/orgs").status_code == 401
