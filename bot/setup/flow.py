# SPDX-License-Identifier: EUPL-1.2
"""The local page of `veilleur setup` and the exchange of GitHub's code for the credentials.

`GET /` shows the manifest in a form that posts it to GitHub (one click); GitHub redirects the
browser to `GET /callback?code&state`, where the code is exchanged
(`POST /app-manifests/{code}/conversions`), the `.env` file written and the server stopped.
"""

from __future__ import annotations

import html
import json
import secrets
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import uvicorn
from githubkit import GitHub
from githubkit.exception import GitHubException, RequestFailed
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.setup import envfile
from bot.setup.manifest import build_manifest, form_action


@dataclass(frozen=True)
class SetupPlan:
    public_url: str  # where GitHub will send webhooks: https://<host> of this deployment
    api_url: str
    web_url: str
    env_path: Path
    force: bool = False
    org: str | None = None
    name: str | None = None
    defaults: tuple[str, str] = ("https://api.github.com", "https://github.com")
    timeout_seconds: float = 10.0


@dataclass
class SetupFlow:
    plan: SetupPlan
    redirect_url: str
    out: TextIO = field(default_factory=lambda: sys.stdout)
    on_done: Callable[[], None] = lambda: None
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    registered: dict[str, Any] | None = None

    def start_page(self) -> str:
        manifest = build_manifest(self.plan.public_url, self.redirect_url, self.plan.name)
        action = form_action(self.plan.web_url, self.plan.org, self.state)
        account = f"the organisation {self.plan.org}" if self.plan.org else "your account"
        return _PAGE.format(
            title="Register Veilleur on GitHub",
            body=f"<p>This creates the GitHub App for {html.escape(account)}, with the webhook "
            f"<code>{html.escape(manifest['hook_attributes']['url'])}</code>.</p>"
            f'<form method="post" action="{html.escape(action)}">'
            f'<input type="hidden" name="manifest" value="{html.escape(json.dumps(manifest))}">'
            '<button type="submit" id="register">Register the GitHub App</button></form>',
        )

    async def callback(self, request: Request) -> Response:
        code = request.query_params.get("code", "")
        state = request.query_params.get("state", "")
        if not code or not secrets.compare_digest(state, self.state):
            return _page(400, "Not from this setup", "Start again from the setup page.")
        if self.registered is not None:
            return _page(200, "Already registered", "The credentials were written already.")
        try:
            conversion = await self._convert(code)
        except RequestFailed as exc:
            why = "expired or was already used" if exc.response.status_code == 404 else "failed"
            return _page(502, "GitHub refused the code", f"The code {why}: start again.")
        except GitHubException as exc:
            return _page(502, "GitHub unreachable", html.escape(f"{self.plan.api_url}: {exc}"))
        try:
            self._write(conversion)
        except (envfile.EnvFileExists, OSError) as exc:
            return _page(500, "Could not write the credentials", html.escape(str(exc)))
        self.registered = conversion
        install = self.install_url()
        self.out.write(
            f"The GitHub App {conversion.get('name')!r} (id {conversion['id']}) is registered; "
            f"its credentials are in {self.plan.env_path} (mode 0600).\n"
            f"Install it on your organisation: {install}\n"
            "Then check the whole setup with `veilleur doctor` and start with `veilleur serve`.\n"
        )
        self.out.flush()
        self.on_done()
        return _page(
            200,
            "Veilleur is registered",
            f"<p>Credentials written to <code>{html.escape(str(self.plan.env_path))}</code>.</p>"
            f'<p><a id="install" href="{html.escape(install)}">Install the App</a> on your '
            "organisation, then run <code>veilleur doctor</code>.</p>",
        )

    def install_url(self) -> str:
        assert self.registered is not None
        return f"{str(self.registered['html_url']).rstrip('/')}/installations/new"

    async def _convert(self, code: str) -> dict[str, Any]:
        gh: GitHub[Any] = GitHub(
            base_url=self.plan.api_url.rstrip("/") + "/",
            timeout=self.plan.timeout_seconds,
            user_agent="veilleur",
            http_cache=False,
        )
        resp = await gh.arequest("POST", f"/app-manifests/{code}/conversions")
        data: dict[str, Any] = resp.json()
        return data

    def _write(self, conversion: dict[str, Any]) -> None:
        values = envfile.credentials_env(
            conversion,
            public_url=self.plan.public_url,
            api_url=self.plan.api_url,
            web_url=self.plan.web_url,
            defaults=self.plan.defaults,
        )
        text = envfile.render(values, datetime.now(UTC))
        try:
            envfile.write_private(self.plan.env_path, text, self.plan.force)
        except FileExistsError:
            envfile.refuse_to_overwrite(self.plan.env_path, force=False)
            raise

    def app(self) -> Starlette:
        async def index(_: Request) -> Response:
            return HTMLResponse(self.start_page())

        return Starlette(routes=[Route("/", index), Route("/callback", self.callback)])


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="data:,"></head><body><h1>{title}</h1>{body}</body></html>"""


def _page(status: int, title: str, body: str) -> HTMLResponse:
    text = body if body.startswith("<") else f"<p>{body}</p>"
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=text), status_code=status)


def run_setup(plan: SetupPlan, host: str, port: int, out: TextIO | None = None) -> int:
    """Serve the setup page until the App is registered (0) or the user interrupts (130)."""
    out = out or sys.stdout
    envfile.refuse_to_overwrite(plan.env_path, plan.force)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    local = f"http://{host}:{bound}"
    flow = SetupFlow(plan, redirect_url=f"{local}/callback", out=out)
    config = uvicorn.Config(flow.app(), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)

    def stop() -> None:
        server.should_exit = True

    flow.on_done = stop
    out.write(f"Open {local}/ in a browser and click once to register the App on GitHub.\n")
    out.flush()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0 if flow.registered is not None else 130
