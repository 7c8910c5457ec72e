# SPDX-License-Identifier: EUPL-1.2
"""The demo's first step: `veilleur setup`'s manifest flow on the simulated forge, clicked
through as a browser would, so the demo runs with the credentials the flow wrote."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from pathlib import Path

import httpx

from bot.settings import Settings
from bot.setup.flow import SetupFlow, SetupPlan


class Forms(HTMLParser):
    """The forms of a page: (action, method, {name: value}) as a browser would submit them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), a.get("method", "get"), {}))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1][2][a["name"]] = a.get("value", "")


def click_through(setup_url: str) -> httpx.Response:
    """Open the setup page, click "Register", then GitHub's "Create", and come back."""
    with httpx.Client(timeout=10) as browser:
        start = browser.get(setup_url.rstrip("/") + "/")
        ((action, _, fields),) = Forms(start.text).forms
        confirm = browser.post(action, data=fields)
        confirm.raise_for_status()
        ((action2, _, fields2),) = Forms(confirm.text).forms
        created = browser.post(str(confirm.url.join(action2)), data=fields2)
        return browser.get(created.headers["location"])


def register(forge_url: str, org: str, folder: Path, public_url: str) -> tuple[Settings, str]:
    """Run the flow against the forge (its web pages and API at `forge_url`); the settings
    read back from the `.env` it wrote, and what `veilleur setup` printed."""
    from bot.sim import ThreadedServer

    plan = SetupPlan(public_url, forge_url, forge_url, folder / ".env", org=org)
    out = io.StringIO()
    flow = SetupFlow(plan, redirect_url="", out=out)
    server = ThreadedServer(flow.app())  # binds its port at once: the redirect URL is known
    flow.redirect_url = f"{server.url}/callback"
    with server:
        click_through(server.url)
    if flow.registered is None:
        raise RuntimeError("the demo's App registration failed")
    return Settings(_env_file=plan.env_path), out.getvalue()  # type: ignore[call-arg]
