"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against Veilleur
served over HTTP with a record built through the simulated forge (five weeks of issues and
pull requests, answered or not, a sweep), signing in through the forge's OAuth flow.

Saves tests/artifacts/dashboard.png (gitignored). Chromium comes from Debian (`.ci/run`
installs it); the browser Playwright would download is never used.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.sim import Forge
from bot.sim.routes_oauth import oauth
from bot.web.accessibility import AUDIT, RECOURSE_URL
from bot.web.i18n import catalog
from tests.conftest import missing
from tests.harness import City, Harness
from tests.web_pages import candidate_paths, is_page, route_of

CHROMIUM = os.environ.get("VEILLEUR_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# axe-core from npm (package.json at the project root; `.ci/run` runs `npm ci`), never a CDN.
AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
LANGS = ("en", "fr", "nl", "de")
# Links that leave both Veilleur and the forge (no network in tests): listed, so a new one is
# noticed, and not fetched.
EXTERNAL_OK = {RECOURSE_URL}
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
    forge.html_url = forge.api_url  # item links lead to the forge's own pages: checkable
    forge.scenario.install(city.org)
    h.wait()
    build_record(h, city)
    assert h.failures() == []
    return h


def served_at(forge: Forge) -> str:
    return forge.webhook_url.rsplit("/webhooks/", 1)[0] if forge.webhook_url else ""


def watch(page: Any) -> list[str]:
    """Console errors and warnings (a CSP refusal among them), page errors and dialogs."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)  # fmt: skip
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    return problems


def sign_in(page: Any, base: str, forge: Forge, login: str) -> None:
    page.goto(f"{base}/")  # anonymous: → /auth/login → the forge's sign-in form
    assert page.url.startswith(f"{forge.api_url}/login/oauth/authorize?")
    page.fill("input[name=login]", login)
    page.click("#authorize")  # → /auth/callback → back to /
    page.wait_for_url(f"{base}/")


def test_dashboard_in_chromium(browser: Any, dashboard: Harness, forge: Forge, city: City) -> None:
    base = served_at(forge)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    problems = watch(page)
    sign_in(page, base, forge, city.maintainer)
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


def _axe() -> str:
    script = AXE / "axe.min.js"
    if not script.is_file():
        missing(f"axe-core is not installed at {AXE} (npm ci at the project root; .ci/run does)")
    return script.read_text(encoding="utf-8")


def _violations(page: Any) -> list[str]:
    result = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: "tag", values: tags},
                                      resultTypes: ["violations"]})""",
        WCAG_AA,
    )
    assert len(result["passes"]) >= 10, "axe-core checked almost nothing: is it running?"
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(", ".join(n["target"]) for n in v["nodes"][:5])
        for v in result["violations"]
    ]


def _links(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"))


def _focus_problems(page: Any) -> list[str]:
    """Tab through the page: the skip link comes first, and every focused element shows a
    focus indicator (an outline) and is on screen."""
    problems = []
    for step in range(60):
        page.keyboard.press("Tab")
        seen = page.evaluate(
            """() => { const e = document.activeElement;
                if (!e || e === document.body) return null;
                const s = getComputedStyle(e), r = e.getBoundingClientRect();
                return {tag: e.tagName, text: (e.textContent || "").trim().slice(0, 30),
                        cls: e.className, outline: s.outlineStyle, width: s.outlineWidth,
                        visible: r.width > 0 && r.height > 0 && r.bottom > 0};
            }"""
        )
        if seen is None:
            break
        if step == 0 and "skip-link" not in str(seen["cls"]):
            problems.append(f"the first Tab reaches {seen}, not the skip link")
        if seen["outline"] == "none" or seen["width"] in ("0px", ""):
            problems.append(f"no visible focus on {seen}")
        if not seen["visible"]:
            problems.append(f"focused but not on screen: {seen}")
    return problems


def test_every_page_accessible_in_every_language(
    browser: Any, dashboard: Harness, forge: Forge, city: City, caplog: pytest.LogCaptureFixture
) -> None:
    """axe-core (WCAG 2.1 A and AA rules) finds nothing on any page in any language, with real
    data; no page asks for a message its language lacks or shows an English sentence; the
    keyboard reaches everything with a visible focus; every link answers 200."""
    caplog.set_level(logging.WARNING, logger="bot.web.i18n")  # the server runs in-process
    english = [
        text for text in catalog("en").values() if "{" not in text and len(text.split()) >= 3
    ]
    axe = _axe()
    version = json.loads((AXE / "package.json").read_text(encoding="utf-8"))["version"]
    assert AUDIT.tool == f"axe-core {version}", "update bot.web.accessibility.AUDIT with this run"
    base = served_at(forge)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.add_init_script(script=axe)  # in every page, before its own content
    page = context.new_page()
    problems = watch(page)
    sign_in(page, base, forge, city.maintainer)

    app = dashboard.app
    number = str(_an_item_number(dashboard, city))
    params = {"owner": city.org, "org": city.org, "week": "2025-W12", "repo": city.repo.split("/", 1)[1],
              "number": number, "login": city.citizen_fr}  # fmt: skip
    queue = candidate_paths(app, params)
    visited_routes: set[str] = set()
    pages: list[str] = []
    links: set[str] = set()
    failures: list[str] = []
    while queue:  # the routes' pages, then whatever they link to: one page per route
        path = queue.pop(0)
        route = route_of(app, path)
        if route is None or route in visited_routes:
            continue
        response = page.request.get(f"{base}{path}", max_redirects=0)
        if response.status != 200 or not is_page(response.headers.get("content-type")):
            continue  # a redirect (sign-in), JSON, CSS, an SVG badge: not a page
        visited_routes.add(route)
        pages.append(path)
        for lang in LANGS:
            sep = "&" if "?" in path else "?"
            page.goto(f"{base}{path}{sep}lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang, (path, lang)
            failures += [f"{path} in {lang}: {v}" for v in _violations(page)]
            if lang != "en":
                shown = page.locator("body").inner_text()
                failures += [f"{path} in {lang}: English {t!r}" for t in english if t in shown]
            if lang == "en":
                failures += [f"{path}: {f}" for f in _focus_problems(page)]
            for href in _links(page):
                links.add(href)
                if href.startswith(base + "/"):
                    queue.append(href[len(base) :].split("#")[0].split("?")[0])
    failures += [r.getMessage() for r in caplog.records if "untranslated" in r.getMessage()]
    assert not failures, "\n".join(failures)
    assert {"/", f"/orgs/{city.org}", "/accessibility"} <= set(pages), pages

    unchecked = set()
    for href in sorted(links):
        url = href.split("#")[0]
        if url.startswith("mailto:"):
            continue
        if not url.startswith((base + "/", forge.api_url + "/")) and url != base:
            unchecked.add(url)
            continue
        status = page.request.get(url).status  # redirects followed, with the session
        assert status == 200, f"{url} answers {status}"
    assert unchecked <= EXTERNAL_OK, f"links leaving the test's servers: {unchecked - EXTERNAL_OK}"
    assert problems == []
    context.close()


def _an_item_number(h: Harness, city: City) -> int:
    """An outside issue still waiting (for item pages)."""
    from sqlmodel import Session, col, select

    from bot.storage.models import Item

    with Session(h.app.state.engine) as s:
        numbers = s.scalars(
            select(Item.number).where(col(Item.repo_full_name) == city.repo).order_by(Item.number)
        ).all()
    assert numbers
    return int(numbers[0])
