"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against Veilleur
served over HTTP with a record built through the simulated forge (five weeks of issues and
pull requests, answered or not, a sweep), signing in through the forge's OAuth flow.

Saves tests/artifacts/dashboard.png (gitignored). Chromium comes from Debian (`.ci/run`
installs it); the browser Playwright would download is never used.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.sim import Forge
from bot.sim.routes_oauth import oauth
from tests.conftest import missing
from tests.harness import City, Harness

CHROMIUM = os.environ.get("VEILLEUR_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
XSS = "<script>alert(1)</script> breaks the search"
W10 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # Monday; the harness clock starts there
NOW = datetime(2025, 4, 2, 10, 0, tzinfo=UTC)  # Wednesday of W14: the latest week is W13
BODY = "Bonjour, la carte de mon quartier ne se charge pas sur mon téléphone quand je zoome."


def _chromium() -> str:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("playwright is not installed (pip install -e '.[test]')")
    return CHROMIUM


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        yield b
        b.close()


def at(h: Harness, when: datetime) -> Harness:
    h.clock.set(when)
    return h


def build_record(h: Harness, city: City) -> None:
    """Five weeks of a city's outside contributions, through the forge's webhooks."""
    sc, repo, day = h.forge.scenario, city.repo, timedelta(days=1)
    history = [  # (opened, author, title, answered after)
        (W10, city.citizen_nl, "Traduction néerlandaise manquante", timedelta(hours=25)),
        (W10 + 2 * day + timedelta(hours=1), city.citizen_en, XSS, None),
        (W10 + 7 * day + timedelta(hours=1), city.partner_user, "Export CSV des horaires",
         timedelta(hours=4)),
        (W10 + 15 * day, city.citizen_nl, "Accessibilité du formulaire", timedelta(hours=30)),
        (W10 + 21 * day + timedelta(hours=1), city.citizen_fr, "La carte ne s'affiche pas", None),
        (W10 + 23 * day + timedelta(hours=2), city.citizen_nl, "Lien mort dans la FAQ",
         timedelta(hours=6)),
        (W10 + 24 * day + timedelta(hours=6), city.citizen_en, "Dark mode for the map", None),
    ]  # fmt: skip
    for opened, author, title, answer in history:
        at(h, opened)
        number = sc.open_issue(repo, author, title, BODY)
        h.wait()
        if answer is not None:
            at(h, opened + answer)
            sc.comment(repo, number, city.maintainer, "Merci, nous regardons cela cette semaine.")
            h.wait()
    at(h, W10 + 22 * day)
    sc.open_pull(repo, city.citizen_nl, "Corrige le lien de la documentation", BODY,
                 files={"docs/guide.md": "Guide corrigé\n"})  # fmt: skip
    h.wait()
    at(h, W10 + 24 * day)
    sc.open_issue("paris/secret", city.citizen_nl, "Fuite de données interne", BODY)
    h.wait()
    h.sweep(NOW)


@pytest.fixture
def smtp_port() -> Iterator[int]:
    """A mail server that accepts everything (the sweep mails the OSPO)."""
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def dashboard(harness_factory: Any, city: City, forge: Forge, smtp_port: int) -> Harness:
    forge.add_repo("paris/secret", private=True, files={"README.md": "interne\n"})
    forge.set_permission("paris/secret", city.citizen_nl, "read")
    h = harness_factory(
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        oauth_client_id=forge.the_app.client_id,
        oauth_client_secret=oauth(forge).client_secret,
        session_secret="browser-test-session-secret",
        github_web_url=forge.api_url,
    )
    forge.scenario.install(city.org)
    h.wait()
    build_record(h, city)
    assert h.failures() == []
    return h


def test_dashboard_in_chromium(browser: Any, dashboard: Harness, forge: Forge, city: City) -> None:
    base = forge.webhook_url.rsplit("/webhooks/", 1)[0] if forge.webhook_url else ""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)  # fmt: skip
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))

    page.goto(f"{base}/")  # anonymous: → /auth/login → the forge's sign-in form
    assert page.url.startswith(f"{forge.api_url}/login/oauth/authorize?")
    page.fill("input[name=login]", city.maintainer)
    page.click("#authorize")  # → /auth/callback → back to /
    page.wait_for_url(f"{base}/")
    page.click("a[href='/orgs/paris']")
    page.wait_for_url(f"{base}/orgs/paris")
    assert page.locator(".who").inner_text() == f"Signed in as {city.maintainer}"

    waiting = page.locator("#waiting tbody tr")
    rows = [waiting.nth(i).inner_text() for i in range(waiting.count())]
    assert any(XSS in row for row in rows), rows  # shown as text, never run
    assert any("La carte ne s'affiche pas" in row for row in rows)
    assert any("Fuite de données interne" in row for row in rows)  # marie may see paris/secret
    assert not any("Export CSV" in row for row in rows)  # answered
    assert page.locator("#waiting .badge-late").count() >= 1

    line = page.locator("#chart-ttfr svg.chart-line")
    assert line.count() == 1 and int(line.get_attribute("data-points") or 0) >= 3
    assert page.locator("#chart-ttfr circle.chart-point").count() >= 3
    late = page.locator("#chart-age rect.chart-bar-late")  # coloured by each item's SLA state
    assert late.count() >= 1 and late.first.get_attribute("fill") == "#b91c1c"
    assert page.locator("#chart-age details table tbody tr").count() == 6  # its text alternative
    assert page.locator("#chart-orgs rect.chart-bar").count() >= 1
    assert page.locator("#repositories tbody tr").count() >= 2

    api = page.request.get(f"{base}/api/orgs/paris/waiting").json()  # same session
    assert XSS in {x["title"] for x in api["items"]} and api["week"] == "2025-W13"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    page.click("a[lang=fr]")
    page.wait_for_url("**lang=fr")
    assert page.locator("#waiting h2").inner_text().startswith("En attente d'un mainteneur")
    assert problems == []

    # The pages below the org, on a 390 px phone: nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/orgs/paris")
    page.locator("#repositories a[href^='/orgs/paris/repos/']").first.click()
    page.wait_for_url("**/orgs/paris/repos/**")
    assert page.locator("#chart-ttfr svg.chart-line .chart-target").count() == 1
    for path in ("", "/contributors?period=12w", "/organisations?period=12w"):
        page.goto(f"{base}/orgs/paris{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        svgs = page.locator("svg.chart")
        for k in range(svgs.count()):
            box = svgs.nth(k).bounding_box()
            assert box is not None and box["width"] <= 390, (path, box)
    assert problems == []
    page.click("form.signout button")
    page.wait_for_url(f"{base}/auth/signed-out")  # not "/": that would sign in again
    assert page.goto(f"{base}/api/orgs").status == 401  # signed out
    context.close()
