"""The web dashboard: access control, escaping, languages, SVG charts, the JSON API.

Pages run against the real app on a seeded record with a fixed digest (tests/web_fixtures.py);
the sign-in flow runs against the simulated forge over HTTP (tests/test_web_oauth.py).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.web.data import Shown, scope_digest, shift_week, valid_week
from bot.web.i18n import negotiate
from bot.web.session import safe_next
from tests.web_fixtures import SECRET_AUTHOR, SECRET_ORG, SECRET_TITLE, XSS, make_digest
from tests.web_fixtures import web_factory as web_factory  # noqa: F401 (fixture)

PRIVATE_MARKS = ("paris/interne", "lyon/app", SECRET_TITLE, SECRET_AUTHOR, SECRET_ORG)
PAGES = ("/", "/orgs/paris", "/orgs/paris/digest/2025-W09", "/orgs/lyon")
API = ("/api/orgs", "/api/orgs/paris/digest", "/api/orgs/paris/waiting", "/api/orgs/lyon/digest")


def leaks(text: str) -> list[str]:
    return [mark for mark in PRIVATE_MARKS if mark in text]


# -- access control ----------------------------------------------------------------------------
def test_anonymous_gets_nothing_without_the_public_dashboard(web_factory: Any) -> None:
    w = web_factory()
    for path in PAGES:
        r = w.client.get(path)
        assert r.status_code == 302, path
        assert r.headers["location"] == "/auth/login?" + urlencode({"next": path})
        assert not leaks(r.text) and "paris/site" not in r.text
    for path in API:
        r = w.client.get(path)
        assert r.status_code == 401 and not leaks(r.text), path


def test_anonymous_without_oauth_configured_is_told_so(web_factory: Any) -> None:
    w = web_factory(oauth_client_id=None)
    r = w.client.get("/orgs/paris")
    assert r.status_code == 401 and "VEILLEUR_OAUTH_CLIENT_ID" in r.text
    assert w.client.get("/auth/login").status_code == 503


def test_public_dashboard_shows_public_repositories_only(web_factory: Any) -> None:
    w = web_factory(public_dashboard=True)
    home = w.client.get("/")
    assert home.status_code == 200 and 'href="/orgs/paris"' in home.text
    assert "/orgs/lyon" not in home.text  # only a private repository there
    page = w.client.get("/orgs/paris")
    assert page.status_code == 200
    assert "paris/site#8" in page.text and "paris/outils#2" in page.text
    assert leaks(page.text) == []
    assert "Public view" in page.text
    assert w.client.get("/orgs/lyon").status_code == 404
    assert w.client.get("/api/orgs").json() == [
        {"org": "paris", "slug": "paris", "repositories": 2, "complete": False}
    ]
    digest = w.client.get("/api/orgs/paris/digest")
    assert digest.status_code == 200 and leaks(digest.text) == []
    assert digest.json()["withheld"] is True and digest.json()["organisations"] == []
    assert w.client.get("/api/orgs/lyon/waiting").status_code == 404


def test_signed_in_user_sees_only_what_github_lets_them(web_factory: Any) -> None:
    w = web_factory()
    w.sign_in("alice", {"paris": ["site"]})
    home = w.client.get("/")
    assert home.status_code == 200 and "/orgs/paris" in home.text and "/orgs/lyon" not in home.text
    assert "Signed in as alice" in home.text
    page = w.client.get("/orgs/paris")
    assert page.status_code == 200 and "paris/site#8" in page.text
    assert "paris/outils" not in page.text  # public, but not hers, and no public mode
    assert leaks(page.text) == []
    waiting = w.client.get("/api/orgs/paris/waiting").json()
    assert {i["repo"] for i in waiting["items"]} == {"paris/site"}
    assert w.client.get("/orgs/lyon").status_code == 404
    assert w.client.get("/api/orgs/lyon/digest").status_code == 404


def test_signed_in_user_with_a_private_repository(web_factory: Any) -> None:
    w = web_factory(public_dashboard=True)
    w.sign_in("paul", {"paris": ["interne"]})
    page = w.client.get("/orgs/paris")
    assert SECRET_TITLE in page.text and "paris/site#8" in page.text  # hers + public ones
    assert w.client.get("/orgs/lyon").status_code == 404
    w.sign_in("paul", {"paris": ["interne", "site", "outils"]})
    full = w.client.get("/api/orgs/paris/digest").json()
    assert full["withheld"] is False and SECRET_ORG in {o["name"] for o in full["organisations"]}


def test_a_forged_or_foreign_session_is_anonymous(web_factory: Any) -> None:
    w = web_factory()
    w.client.cookies.set("veilleur_session", '{"u":"eve","r":{"paris":["interne"]}}')
    assert w.client.get("/orgs/paris").status_code == 302  # to sign-in
    assert w.client.get("/api/orgs/paris/digest").status_code == 401
    other = web_factory(session_secret="another-secret")
    w.sign_in("eve", {"paris": ["interne"]})
    other.client.cookies.set("veilleur_session", w.client.cookies["veilleur_session"])
    assert other.client.get("/api/orgs").status_code == 401


def test_open_demo_mode_serves_everything_with_a_warning(web_factory: Any) -> None:
    w = web_factory(dashboard_open=True)
    page = w.client.get("/orgs/paris")
    assert page.status_code == 200 and SECRET_TITLE in page.text
    assert "Never use it in production" in page.text
    assert {o["org"] for o in w.client.get("/api/orgs").json()} == {"paris", "lyon"}


def test_logout_clears_the_session(web_factory: Any) -> None:
    w = web_factory()
    w.sign_in("alice", {"paris": ["site"]})
    assert w.client.get("/auth/logout").status_code == 405  # a link cannot sign anyone out
    r = w.client.post("/auth/logout")
    assert r.status_code == 303 and r.headers["location"] == "/auth/signed-out"
    assert 'veilleur_session=""' in r.headers["set-cookie"]
    assert "Max-Age=0" in r.headers["set-cookie"] or "expires=" in r.headers["set-cookie"]


def test_login_redirects_to_github_with_a_state_cookie(web_factory: Any) -> None:
    w = web_factory(github_web_url="https://github.example")
    r = w.client.get("/auth/login", params={"next": "/orgs/paris"})
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith("https://github.example/login/oauth/authorize?client_id=Iv1.test")
    assert "redirect_uri=http%3A%2F%2Ftestserver%2Fauth%2Fcallback" in location
    assert re.search(r"state=[\w-]{20,}", location)
    cookie = r.headers["set-cookie"]
    assert "veilleur_oauth_state=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    bad = w.client.get("/auth/callback", params={"code": "x", "state": "not-the-state"})
    assert bad.status_code == 400 and "expired" in bad.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [("/orgs/paris", "/orgs/paris"), ("//evil.example", "/"), ("https://evil.example", "/"),
     ("/\\evil", "/"), ("/\t/evil.example", "/"), ("/ok?lang=fr", "/ok?lang=fr"), (None, "/")],
)  # fmt: skip
def test_only_local_paths_after_sign_in(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


# -- escaping ----------------------------------------------------------------------------------
def test_untrusted_text_is_escaped_everywhere(web_factory: Any) -> None:
    w = web_factory(dashboard_open=True)
    page = w.client.get("/orgs/paris").text
    assert XSS not in page and "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the title, and the org in the chart
    api = w.client.get("/api/orgs/paris/digest").json()
    assert XSS in {x["title"] for x in api["waiting"]}  # JSON carries it as data
    r = w.client.get("/orgs/paris")
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_links_only_for_plain_http_urls(web_factory: Any) -> None:
    w = web_factory(dashboard_open=True)
    digest = make_digest("paris", None)
    digest.waiting[0].url = "javascript:alert(1)"
    w.app.state.digest_source = lambda org, week, repos: digest
    page = w.client.get("/orgs/paris").text
    assert "javascript:" not in page and "paris/site#7" in page


# -- languages ---------------------------------------------------------------------------------
def test_four_languages(web_factory: Any) -> None:
    w = web_factory(dashboard_open=True)
    fr = w.client.get("/orgs/paris", params={"lang": "fr"})
    assert "En attente d&#39;un mainteneur" in fr.text and fr.headers["content-language"] == "fr"
    assert 'href="/?lang=fr"' in fr.text and "12,0 j" in fr.text
    assert "<td>indépendant·e</td>" in fr.text and ">independent<" not in fr.text
    assert "extérieur" in fr.text and "1 fusionnée" in fr.text  # Volume(5, 2, 3, 1, 1)
    assert "5 tickets ouverts, 3 demandes de fusion ouvertes" in fr.text
    en = w.client.get("/orgs/paris", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Waiting for a maintainer" in en.text and "12.0 d" in en.text
    auto = w.client.get("/", headers={"Accept-Language": "es;q=1, fr-CA;q=0.8, en;q=0.5"})
    assert 'lang="fr"' in auto.text and "Organisations" in auto.text
    de = w.client.get("/orgs/paris", headers={"Accept-Language": "de-AT,de;q=0.9"})
    assert 'lang="de"' in de.text and "Wartet auf das Team" in de.text and "12,0 Tg." in de.text
    nl = w.client.get("/orgs/paris", params={"lang": "nl"})
    assert "Wacht op een beheerder" in nl.text and 'href="/?lang=nl"' in nl.text


def test_language_negotiation() -> None:
    assert negotiate("fr", "en") == ("fr", True)
    assert negotiate("xx", "fr-FR,fr;q=0.9") == ("fr", False)
    assert negotiate(None, "en;q=0.2, fr;q=0.1") == ("en", False)
    assert negotiate(None, None) == ("en", False)


def test_unknown_week_and_org(web_factory: Any) -> None:
    w = web_factory(dashboard_open=True)
    assert w.client.get("/orgs/paris/digest/2025-W60").status_code == 404
    assert w.client.get("/orgs/nowhere").status_code == 404
    assert w.client.get("/api/orgs/paris/digest", params={"week": "week-9"}).status_code == 422
    week = w.client.get("/orgs/paris/digest/2025-W09")
    assert week.status_code == 200 and "Week 2025-W09" in week.text and "2025-W10 →" in week.text
    assert valid_week("2026-W53") is True and valid_week("2025-W53") is False
    assert shift_week("2025-W01", -1) == "2024-W52"


# -- charts ------------------------------------------------------------------------------------
def test_the_page_has_three_charts(web_factory: Any) -> None:
    page = web_factory(dashboard_open=True).client.get("/orgs/paris").text
    for kind in ("line", "columns", "bars"):
        assert re.search(rf'<svg class="chart chart-{kind}"[^>]*data-points="[1-9]', page), kind


# -- scoping and the API description -----------------------------------------------------------
def test_scope_digest_withholds_organisation_figures_for_partial_views() -> None:
    digest = make_digest("paris", None)
    shown = scope_digest(digest, frozenset({"paris/site"}), withhold=True)
    assert isinstance(shown, Shown) and shown.withheld
    assert {x.repo for x in shown.digest.waiting} == {"paris/site"}
    assert shown.digest.organisations == [] and shown.digest.elephant_factor is None
    kept = scope_digest(digest, frozenset({"paris/site", "paris/interne"}), withhold=False)
    assert kept.digest.organisations == digest.organisations


def test_the_api_is_in_the_openapi_description(web_factory: Any) -> None:
    spec = web_factory().client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/orgs", "/api/orgs/{org}/digest", "/api/orgs/{org}/waiting"):
        assert "get" in paths[path], path
        assert "401" in paths[path]["get"]["responses"]
    ok = paths["/api/orgs/{org}/digest"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/DigestOut")
    schemas = spec["components"]["schemas"]
    assert {"DigestOut", "WaitingOut", "OrgSummary", "WaitingItem"} <= set(schemas)
    assert "title" in schemas["WaitingItem"]["properties"]
    assert not any(p.startswith(("/orgs", "/auth")) or p == "/" for p in paths)
