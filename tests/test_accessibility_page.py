"""`/accessibility`: the RGAA accessibility statement, open to everyone, in four languages,
with the contact from the settings and the measure the browser test made."""

from __future__ import annotations

from typing import Any

from bot.web.accessibility import AUDIT
from tests.web_fixtures import web_factory as web_factory  # noqa: F401 (fixture)


def test_statement_is_public_and_names_the_contact(web_factory: Any) -> None:  # noqa: F811
    w = web_factory(accessibility_contact="accessibilite@paris.example")
    assert w.client.get("/").status_code in (302, 401)  # the dashboard wants a sign-in...
    page = w.client.get("/accessibility", params={"lang": "fr"})
    assert page.status_code == 200  # ...the statement does not
    assert 'href="mailto:accessibilite@paris.example"' in page.text
    assert "Partiellement conforme au RGAA 4.1" in page.text
    assert f"{AUDIT.tool} dans Chromium" in page.text and "5 décembre 2026" in page.text
    assert "http://testserver" in page.text  # the site the statement covers


def test_statement_in_every_language_and_without_contact(web_factory: Any) -> None:  # noqa: F811
    w = web_factory()
    titles = {"en": "Accessibility statement", "fr": "Déclaration d&#39;accessibilité",
              "nl": "Toegankelijkheidsverklaring", "de": "Erklärung zur Barrierefreiheit"}  # fmt: skip
    for lang, title in titles.items():
        page = w.client.get("/accessibility", params={"lang": lang})
        assert f"<h1>{title}</h1>" in page.text and f'<html lang="{lang}">' in page.text
        assert "VEILLEUR_ACCESSIBILITY_CONTACT" in page.text  # says no contact is set


def test_every_page_links_to_the_statement(web_factory: Any) -> None:  # noqa: F811
    w = web_factory(dashboard_open=True)
    for path in ("/", "/orgs/paris", "/accessibility"):
        assert 'href="/accessibility"' in w.client.get(path).text, path


def test_a_web_contact_is_a_link_and_anything_else_is_text(web_factory: Any) -> None:  # noqa: F811
    w = web_factory(accessibility_contact="https://paris.example/accessibilite")
    page = w.client.get("/accessibility").text
    assert 'href="https://paris.example/accessibilite"' in page
    w = web_factory(accessibility_contact="javascript:alert(1)")
    page = w.client.get("/accessibility").text
    assert 'href="javascript:' not in page and "javascript:alert(1)" in page
