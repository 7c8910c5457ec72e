"""`POST /webhooks/gitlab`: verify, store durably, answer 2xx. No GitLab call happens here.

Verified by `X-Gitlab-Token` against `VEILLEUR_GITLAB_WEBHOOK_SECRET` (constant time, every
configured secret; none configured refuses everything), and by the HMAC signature headers
(`webhook-id`, `webhook-timestamp`, `webhook-signature`) when signing tokens are configured
or the instance sends them. Deduplicated by `Idempotency-Key` (the same across GitLab's
retries and "Resend Request"), else `X-Gitlab-Event-UUID`. The raw body is stored as the
GitHub endpoint stores its deliveries (bot/intake/writer.py), under `gitlab/<kind>`; the worker
tells it as a neutral event (bot/gitlab/hooks.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from bot import prometheus as metrics
from bot.gitlab.hooks import kind_of, row_fields
from bot.gitlab.settings import GitLabSettings
from bot.gitlab.signature import signature_ok, token_ok
from bot.intake.endpoint import MAX_BODY_BYTES
from bot.intake.rows import DeliveryRow, Stored

WEBHOOK_PATH = "/webhooks/gitlab"
TOKEN_REFUSED = "invalid or missing X-Gitlab-Token"  # noqa: S105 - the refusal text, not a secret
SIGNATURE_REFUSED = "invalid, stale or missing webhook-signature"
# Hooks Veilleur acts on; others (pipelines, jobs, wiki…) are answered 200 and not stored,
# since a 4xx would make GitLab disable the webhook.
STORED_KINDS = frozenset({"issue", "merge_request", "note", "member", "push"})


@dataclass(frozen=True)
class GitLabIntake:
    host: str = ""
    secrets: list[bytes] = field(default_factory=list)
    signing_keys: list[bytes] = field(default_factory=list)

    @classmethod
    def of(cls, settings: GitLabSettings) -> GitLabIntake:
        return cls(settings.host, settings.secrets(), settings.signing_keys())


def _text(status: int, text: str) -> PlainTextResponse:
    return PlainTextResponse(text + "\n", status_code=status)


async def _body(request: Request) -> bytes | None:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(state: Any, reason: str, text: str, secret_set: bool) -> PlainTextResponse:
    metrics.WEBHOOKS_REJECTED.labels(reason=reason).inc()
    refusals = getattr(state, "refusals", None)
    if refusals is not None:
        refusals.refused(text, secret_set=secret_set)
    return _text(401, text)


async def receive(request: Request) -> PlainTextResponse:
    state = request.app.state
    intake: GitLabIntake = getattr(state, "gitlab", None) or GitLabIntake()
    headers = request.headers
    # The token is a header: a stranger is refused before a byte of the body is read.
    if not token_ok(headers.get("x-gitlab-token"), intake.secrets):
        return _refuse(state, "signature", TOKEN_REFUSED, bool(intake.secrets))
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        return _text(413, "payload too large")
    body = await _body(request)
    if body is None:
        return _text(413, "payload too large")
    signed = headers.get("webhook-signature") is not None
    now = state.clock.now().astimezone(UTC)
    if intake.signing_keys or signed:
        ok = signature_ok(
            body,
            headers.get("webhook-id"),
            headers.get("webhook-timestamp"),
            headers.get("webhook-signature"),
            intake.signing_keys,
            now,
        )
        if not ok:
            return _refuse(state, "signature", SIGNATURE_REFUSED, True)
    key = headers.get("idempotency-key") or headers.get("x-gitlab-event-uuid")
    if not key or len(key) > 57:
        return _text(400, "missing Idempotency-Key or X-Gitlab-Event-UUID")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _text(400, "body is not JSON")
    if not isinstance(payload, dict):
        return _text(400, "body is not a JSON object")
    if kind_of(payload) not in STORED_KINDS:
        return _text(200, "ignored")
    event, action, repo, number = row_fields(payload, intake.host)
    row = DeliveryRow(
        guid=f"gitlab:{key}",
        event=event,
        action=action,
        installation_id=None,
        repo_full_name=repo,
        item_number=number,
        received_at=now,
        payload=body,
    )
    try:
        outcome = await state.writer.store(row)
    except Exception:
        metrics.WEBHOOKS_REJECTED.labels(reason="storage").inc()
        return _text(503, "storage unavailable")  # GitLab retries a 5xx
    metrics.DELIVERIES_RECEIVED.labels(event=event, outcome=outcome).inc()
    if outcome == Stored.DONE:
        return _text(200, "already processed")
    return _text(202, "accepted")


def build_gitlab_router() -> APIRouter:
    router = APIRouter()
    router.add_api_route(WEBHOOK_PATH, receive, methods=["POST"], include_in_schema=False)
    return router
