"""`Forge`: the simulated GitHub. State + App + tokens + webhooks + faults + request log.

Typical use::

    forge = Forge(clock=FrozenClock(...), app_key=keys, webhook_url=bot_url)
    forge.add_org("ville"); forge.add_repo("ville/site"); forge.install("ville")
    with ForgeServer(forge) as server:             # REST over real HTTP at server.url
        number = forge.scenario.open_issue("ville/site", "alice", "Broken link")
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.clock import Clock
from bot.sim.delivery import Delivery, WebhookSender
from bot.sim.faults import Fault, Faults
from bot.sim.items import ItemOps
from bot.sim.keys import AppKeyPair, generate_app_keypair
from bot.sim.models import App, Installation, Token
from bot.sim.scenario import Scenario

if TYPE_CHECKING:
    from fastapi import FastAPI

TOKEN_LIFETIME = 3600.0
GraphQLResolver = Any  # Callable[[str, dict[str, Any]], dict[str, Any]]: the `data` object


@dataclass
class RecordedRequest:
    method: str
    template: str | None  # the OpenAPI-style route, e.g. /repos/{owner}/{repo}/issues
    path: str
    query: str
    status: int  # 0 when the connection was reset
    request_json: Any
    response_json: Any
    response_headers: dict[str, str] = field(default_factory=dict)
    fault: bool = False
    arrival: int = 0  # requests are logged when answered; this is the order they arrived in


class Forge(ItemOps):
    def __init__(
        self,
        clock: Clock | None = None,
        *,
        app_key: AppKeyPair | str | None = None,
        app_id: int | None = None,
        app_slug: str = "veilleur",
        webhook_url: str | None = None,
        webhook_secret: str = "simforge-webhook-secret",  # noqa: S107 (a test double)
        emit_bot_events: bool = True,
        api_url: str = "https://api.github.com",
    ) -> None:
        """`app_key`: a key pair, or just the public PEM; generated when omitted.
        `app_id`: unique per forge by default (githubkit caches JWTs by app id)."""
        super().__init__(clock, api_url=api_url)
        app_id = app_id or 100_000 + self.generation
        if app_key is None:
            app_key = generate_app_keypair()
        self.app_key: AppKeyPair | None = app_key if isinstance(app_key, AppKeyPair) else None
        public = app_key.public_pem if isinstance(app_key, AppKeyPair) else app_key
        self.create_app(public, app_id=app_id, slug=app_slug)
        self.hooks = WebhookSender(
            self.new_id, self.now, url=webhook_url, secret=webhook_secret, app_id=app_id
        )
        self.emit_bot_events = emit_bot_events
        self.faults = Faults()
        self.requests: list[RecordedRequest] = []
        self.graphql_resolver: GraphQLResolver | None = None
        self.rate_limit = 5000
        self._rate_used: dict[str, int] = {}
        self._rate_window = 0
        self._log_lock = threading.Lock()
        self.scenario = Scenario(self)

    # -- the App ---------------------------------------------------------------------------
    @property
    def the_app(self) -> App:
        assert self.app is not None
        return self.app

    @property
    def bot_login(self) -> str:
        return self.the_app.bot_login

    @property
    def private_key_pem(self) -> str:
        """For `VEILLEUR_PRIVATE_KEY`."""
        if self.app_key is None:
            raise RuntimeError("this forge was given only the App's public key")
        return self.app_key.private_pem

    def issue_token(self, inst: Installation) -> Token:
        alphabet = string.ascii_letters + string.digits
        token = "ghs_" + "".join(secrets.choice(alphabet) for _ in range(36))
        record = Token(token, inst.id, time.time() + TOKEN_LIFETIME)
        with self.lock:
            self.tokens[token] = record
        return record

    def token_installation(self, token: str) -> Installation | None:
        """The installation a live token belongs to (expiry by the wall clock, as githubkit
        caches tokens by it: a FrozenClock moved days ahead must not expire them)."""
        with self.lock:
            record = self.tokens.get(token)
            if record is None or record.expires_at < time.time():
                return None
            return self.installations.get(record.installation_id)

    def expire_tokens(self) -> None:
        """Make every issued token invalid (tests of the 401 → refresh path)."""
        with self.lock:
            self.tokens.clear()

    # -- webhooks --------------------------------------------------------------------------
    @property
    def webhook_url(self) -> str | None:
        return self.hooks.url

    @webhook_url.setter
    def webhook_url(self, value: str | None) -> None:
        self.hooks.url = value

    @property
    def webhook_secret(self) -> str:
        return self.hooks.secret

    @webhook_secret.setter
    def webhook_secret(self, value: str) -> None:
        self.hooks.secret = value

    @property
    def deliveries(self) -> list[Delivery]:
        return self.hooks.deliveries

    def emit(self, event: tuple[str, dict[str, Any]], *, by_bot: bool = False) -> Delivery | None:
        """Log and send one webhook. Scenario events go out now, from this thread; events
        the App caused via REST are queued (and dropped when `emit_bot_events` is off)."""
        name, payload = event
        if by_bot and not self.emit_bot_events:
            return None
        delivery = self.hooks.record(name, payload, by_bot=by_bot)
        if by_bot:
            self.hooks.enqueue(delivery)
        else:
            self.hooks.send_now(delivery)
        return delivery

    def redeliver(self, delivery_id: int, *, wait: bool = False) -> Delivery:
        """Send a logged delivery again (same GUID), like POST …/deliveries/{id}/attempts."""
        original = next((d for d in self.deliveries if d.id == delivery_id), None)
        if original is None:
            raise KeyError(delivery_id)
        copy = self.hooks.redelivery(original)
        self.hooks.enqueue(copy)
        if wait:
            self.settle()
        return copy

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until queued webhooks (those the bot's own actions caused) were delivered."""
        self.hooks.settle(timeout)

    def events(self, name: str | None = None, action: str | None = None) -> list[Delivery]:
        """Logged deliveries, filtered by event name and action."""
        return [
            d
            for d in self.deliveries
            if (name is None or d.event == name) and (action is None or d.action == action)
        ]

    # -- faults, rate limits and the request log -------------------------------------------
    def inject(
        self,
        method: str,
        path_regex: str,
        status: int | None = None,
        times: int = 1,
        retry_after: int | None = None,
        delay: float | None = None,
        reset_connection: bool = False,
    ) -> Fault:
        """Make the next `times` matching requests fail; see `bot.sim.faults`."""
        return self.faults.add(
            method, path_regex, status=status, times=times, retry_after=retry_after,
            delay=delay, reset_connection=reset_connection,
        )  # fmt: skip

    def rate_headers(self, resource: str, *, count: bool = True) -> dict[str, str]:
        """Count one request against `resource` (unless `count` is false: a 304) and return
        GitHub's x-ratelimit-* headers."""
        window = int(time.time()) // 3600
        with self._log_lock:
            if window != self._rate_window:
                self._rate_window, self._rate_used = window, {}
            used = self._rate_used[resource] = self._rate_used.get(resource, 0) + int(count)
        limit = self.rate_limit
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(limit - used, 0)),
            "x-ratelimit-reset": str((window + 1) * 3600),
            "x-ratelimit-used": str(used),
            "x-ratelimit-resource": resource,
        }

    def record(self, entry: RecordedRequest) -> None:
        with self._log_lock:
            self.requests.append(entry)

    def requests_to(self, template: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.template == template and (method is None or r.method == method.upper())
        ]

    # -- plumbing --------------------------------------------------------------------------
    def asgi_app(self) -> FastAPI:
        from bot.sim.app import create_forge_app

        return create_forge_app(self)

    def close(self) -> None:
        """Stop the webhook thread (if it was started)."""
        self.hooks.close()
