"""Sign-in with GitHub against the simulated forge, over real HTTP: the OAuth web flow, the
session it leaves, what each user may then see, and the forge's OAuth/user-to-server shapes
checked against GitHub's OpenAPI description."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bot.sim import Forge
from bot.sim.routes_oauth import oauth
from bot.web.session import decode_session
from tests.conftest import need
from tests.harness import City, Harness
from tests.test_simforge_openapi import SPEC_PATH, problems

SESSION_SECRET = "dashboard-session-secret"


@pytest.fixture
def dash(harness_factory: Any, city: City, forge: Forge) -> Harness:
    """Paris with a private repository where alice (an outsider) is a collaborator."""
    forge.add_repo("paris/secret", private=True, files={"README.md": "secret\n"})
    forge.set_permission("paris/secret", city.citizen_en, "read")
    forge.add_org("lyon")
    forge.add_repo("lyon/app", private=True)
    h = harness_factory(
        oauth_client_id=forge.the_app.client_id,
        oauth_client_secret=oauth(forge).client_secret,
        session_secret=SESSION_SECRET,
        github_web_url=forge.api_url,
    )
    forge.scenario.install(city.org)
    forge.scenario.install("lyon")
    h.wait()
    return h


def base_url(forge: Forge) -> str:
    assert forge.webhook_url is not None
    return forge.webhook_url.rsplit("/webhooks/", 1)[0]


def sign_in(forge: Forge, login: str, next_path: str = "/api/orgs") -> httpx.Response:
    oauth(forge).signed_in = login
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        response = client.get(f"{base_url(forge)}/auth/login", params={"next": next_path})
        response.read()
        response.extensions["cookies"] = dict(client.cookies)
    return response


def test_a_member_signs_in_and_sees_every_repository(dash: Harness, forge: Forge) -> None:
    r = sign_in(forge, "marie")
    assert r.status_code == 200, r.text
    assert [str(h.url.path) for h in r.history] == [
        "/auth/login", "/login/oauth/authorize", "/auth/callback",
    ]  # fmt: skip
    assert r.json() == [{"org": "paris", "slug": "paris", "repositories": 3, "complete": True}]
    set_cookie = next(h for h in r.history if h.url.path == "/auth/callback").headers["set-cookie"]
    assert "veilleur_session=" in set_cookie
    assert "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie and "Path=/" in set_cookie
    raw = r.extensions["cookies"]["veilleur_session"]
    assert "ghu_" not in raw
    assert "lutece" not in raw and "secret" not in raw  # encrypted, not only signed
    data = decode_session(dash.settings, raw)
    assert data is not None and data.pop("sid")
    assert data == {"u": "marie", "r": {"paris": ["lutece-core", "ospo", "secret"]}}
    issued = oauth(forge).tokens
    assert all(token not in str(data) for token in issued)


def test_an_outside_collaborator_sees_only_their_repository(dash: Harness, forge: Forge) -> None:
    r = sign_in(forge, "alice")
    assert r.json() == [{"org": "paris", "slug": "paris", "repositories": 1, "complete": False}]
    digest = sign_in(forge, "alice", "/api/orgs/paris/digest").json()  # the real digest engine
    assert [x["repo"] for x in digest["repositories"]] == ["paris/secret"]
    assert digest["withheld"] is False  # computed over her repository alone
    assert sign_in(forge, "alice", "/api/orgs/lyon/digest").status_code == 404
    nobody = sign_in(forge, "jan")
    assert nobody.status_code == 200 and nobody.json() == []


def test_signing_in_lands_on_the_page_asked_for(dash: Harness, forge: Forge) -> None:
    r = sign_in(forge, "alice", "/?lang=fr")
    assert r.status_code == 200 and "Connecté·e : alice" in r.text and "/orgs/paris" in r.text
    assert "/orgs/lyon" not in r.text


def test_the_state_is_checked(dash: Harness, forge: Forge) -> None:
    oauth(forge).signed_in = "marie"

    def begin(client: httpx.Client) -> str:
        start = client.get(f"{base_url(forge)}/auth/login")
        return str(client.get(start.headers["location"]).headers["location"])

    with httpx.Client(timeout=10) as client:
        callback = begin(client)
        with httpx.Client(timeout=10) as stranger:  # right state, but not the browser that began
            assert stranger.get(callback).status_code == 400
        tampered = callback.replace("state=", "state=x")
        assert client.get(tampered).status_code == 400
        assert client.get(callback).status_code == 400  # a failed callback ends the attempt
        assert "veilleur_session" not in client.cookies
        assert client.get(f"{base_url(forge)}/api/orgs").status_code == 401
        callback = begin(client)
        assert client.get(callback).status_code == 302
        assert "veilleur_session" in client.cookies
        assert client.get(f"{base_url(forge)}/api/orgs").status_code == 200


def test_the_forge_sign_in_form(dash: Harness, forge: Forge) -> None:
    params = {
        "client_id": forge.the_app.client_id,
        "redirect_uri": "http://127.0.0.1:1/auth/callback",
        "state": "s",
    }
    with httpx.Client(base_url=forge.api_url, timeout=10) as client:
        form = client.get("/login/oauth/authorize", params=params)
        assert form.status_code == 200 and 'name="login"' in form.text
        back = client.get("/login/oauth/authorize", params=params | {"login": "marie"})
        assert back.status_code == 302 and "code=" in back.headers["location"]
        wrong = client.get("/login/oauth/authorize", params=params | {"client_id": "nope"})
        assert wrong.status_code == 404
        code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
        form_body = {"client_id": forge.the_app.client_id, "code": code}
        bad_secret = client.post("/login/oauth/access_token", data=form_body | {
            "client_secret": "wrong"}, headers={"Accept": "application/json"})  # fmt: skip
        assert bad_secret.json()["error"] == "incorrect_client_credentials"
        good = client.post("/login/oauth/access_token", data=form_body | {
            "client_secret": oauth(forge).client_secret})  # fmt: skip
        assert good.headers["content-type"].startswith("application/x-www-form-urlencoded")
        assert parse_qs(good.text)["access_token"][0].startswith("ghu_")
        again = client.post(
            "/login/oauth/access_token",
            json=form_body | {"client_secret": oauth(forge).client_secret},
            headers={"Accept": "application/json"},
        )
        assert again.json()["error"] == "bad_verification_code"  # a code is used once
        assert client.get("/user", headers={"Authorization": "Bearer ghu_nope"}).status_code == 401


def test_user_to_server_answers_have_githubs_shapes(dash: Harness, forge: Forge) -> None:
    need(SPEC_PATH)
    sign_in(forge, "marie")
    sign_in(forge, "alice")
    with httpx.Client(base_url=forge.api_url, timeout=10) as client:
        token = next(iter(oauth(forge).tokens))
        auth = {"Authorization": f"Bearer {token}"}
        client.get("/user/installations/999/repositories", headers=auth)  # 404
        client.get("/user/installations", headers={"Authorization": "Bearer ghu_x"})  # 401
    served = [r for r in forge.requests if r.template and r.template.startswith("/user")]
    templates = {(r.template, r.status) for r in served}
    assert {
        ("/user", 200), ("/user/installations", 200),
        ("/user/installations/{installation_id}/repositories", 200),
        ("/user/installations/{installation_id}/repositories", 404),
        ("/user/installations", 401),
    } <= templates  # fmt: skip
    found = [p for record in served for p in problems(record)]
    assert not found, "\n".join(found[:20])
    repos = next(r for r in served if r.status == 200 and r.template.endswith("repositories"))
    permissions = {x["full_name"]: x["permissions"] for x in repos.response_json["repositories"]}
    assert permissions and all(p["pull"] for p in permissions.values())
