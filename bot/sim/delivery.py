"""Signed webhook deliveries to the bot, and their log.

Events a scenario causes are POSTed synchronously by the calling thread, so a test step returns
once the bot has answered. Events the bot causes through REST are queued and POSTed by one
background thread: GitHub delivers those asynchronously too, and sending them from inside the
REST handler would deadlock a bot that calls the forge back while handling them.
"""

from __future__ import annotations

import functools
import hmac
import json
import queue
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

Json = dict[str, Any]


@dataclass
class Delivery:
    id: int
    guid: str
    event: str
    action: str | None
    payload: Json
    body: bytes
    installation_id: int | None
    repository_id: int | None
    delivered_at: datetime
    redelivery: bool = False
    by_bot: bool = False
    status_code: int | None = None  # None: not sent (no webhook_url); 0: no HTTP answer
    status: str = "pending"
    duration: float = 0.0
    response_text: str = ""


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every webhook POST of the simulated forges: a bare `httpx.post`
    builds a new one each time, loading the CA bundle (20-40 ms, more than the delivery)."""
    return httpx.create_ssl_context()


def signature(secret: str, body: bytes, digest: str = "sha256") -> str:
    """The value of X-Hub-Signature-256 (or, with sha1, X-Hub-Signature)."""
    mac = hmac.new(secret.encode(), body, digest)
    return f"{digest}={mac.hexdigest()}"


class WebhookSender:
    def __init__(
        self,
        new_id: Callable[[], int],
        now: Callable[[], datetime],
        *,
        url: str | None,
        secret: str,
        app_id: int,
        hook_id: int = 1,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.secret = secret
        self.app_id = app_id
        self.hook_id = hook_id
        self.timeout = timeout  # GitHub gives up after 10 s
        self.deliveries: list[Delivery] = []
        self._new_id, self._now = new_id, now
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    # -- building and sending --------------------------------------------------------------
    def record(self, event: str, payload: Json, *, by_bot: bool = False) -> Delivery:
        body = json.dumps(payload, separators=(",", ":")).encode()
        repo, inst = payload.get("repository"), payload.get("installation")
        delivery = Delivery(
            id=self._new_id(),
            guid=str(uuid.uuid4()),
            event=event,
            action=payload.get("action"),
            payload=payload,
            body=body,
            installation_id=inst.get("id") if isinstance(inst, dict) else None,
            repository_id=repo.get("id") if isinstance(repo, dict) else None,
            delivered_at=self._now(),
            by_bot=by_bot,
        )
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def send_now(self, delivery: Delivery) -> None:
        """POST and record the outcome; without a URL the delivery is only logged."""
        url = self.url
        if url is None:
            delivery.status = "not sent: no webhook_url"
            return
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/5f1c3a2",
            "X-GitHub-Event": delivery.event,
            "X-GitHub-Delivery": delivery.guid,
            "X-GitHub-Hook-ID": str(self.hook_id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-GitHub-Hook-Installation-Target-ID": str(self.app_id),
            "X-Hub-Signature": signature(self.secret, delivery.body, "sha1"),
            "X-Hub-Signature-256": signature(self.secret, delivery.body),
        }
        start = time.monotonic()
        try:
            resp = httpx.post(
                url, content=delivery.body, headers=headers, timeout=self.timeout,
                verify=tls_context(),
            )  # fmt: skip
        except httpx.TimeoutException:
            delivery.status_code, delivery.status = 0, "timed out"
        except httpx.HTTPError as exc:
            delivery.status_code, delivery.status = 0, f"failed to connect: {exc}"
        else:
            delivery.status_code = resp.status_code
            delivery.response_text = resp.text[:2000]
            ok = 200 <= resp.status_code < 300
            delivery.status = "OK" if ok else f"Invalid HTTP Response: {resp.status_code}"
        delivery.duration = round(time.monotonic() - start, 3)

    def redelivery(self, original: Delivery) -> Delivery:
        """Same GUID and body, flagged as a redelivery (POST …/deliveries/{id}/attempts)."""
        copy = Delivery(
            id=self._new_id(),
            guid=original.guid,
            event=original.event,
            action=original.action,
            payload=original.payload,
            body=original.body,
            installation_id=original.installation_id,
            repository_id=original.repository_id,
            delivered_at=self._now(),
            redelivery=True,
            by_bot=original.by_bot,
        )
        with self._lock:
            self.deliveries.append(copy)
        return copy

    # -- the background queue --------------------------------------------------------------
    def enqueue(self, delivery: Delivery) -> None:
        with self._lock:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="simforge-webhooks", daemon=True
                )
                self._thread.start()
        self._queue.put(delivery)

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                self.send_now(delivery)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._idle.notify_all()

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until every queued delivery was sent (and the bot answered it)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._pending} webhook deliveries still pending")
                self._idle.wait(left)

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=5)
