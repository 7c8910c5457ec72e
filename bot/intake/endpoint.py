"""`POST /webhooks/github`: verify, store durably, answer 202. No GitHub call happens here.

Durability without a per-request fsync: each request hands its row to the writer (a process
of its own with SQLite, else a thread: bot/intake/writer.py, bot/intake/writer_process.py), which
commits whole groups at once; each request is answered only after the commit that holds its
row. Work is keyed by `X-GitHub-Delivery`.
"""

from __future__ import annotations

import functools
import hmac
from datetime import UTC, datetime
from typing import Any

import simdjson
from fastapi import APIRouter
from starlette.types import ASGIApp, Receive, Scope, Send

from bot import prometheus as metrics
from bot.intake.limits import UnverifiedBudget
from bot.intake.writer import DeliveryRow, Stored

MAX_BODY_BYTES = 25 * 1024 * 1024
SIGNATURE_REFUSED = "invalid or missing X-Hub-Signature-256"


def signature_ok(body: bytes, header: str | None, secrets: list[bytes]) -> bool:
    """HMAC-SHA256 over the raw body, constant-time, against every configured secret."""
    if not header or not header.startswith("sha256=") or not secrets:
        return False
    try:
        given = bytes.fromhex(header[len("sha256=") :])
    except ValueError:
        return False
    ok = False
    for secret in secrets:  # no early exit: the time taken does not depend on which matched
        ok |= hmac.compare_digest(hmac.digest(secret, body, "sha256"), given)
    return ok


def row_from_payload(
    guid: str, event: str, body: bytes, payload: dict[str, Any], now: datetime
) -> DeliveryRow:
    """The row of an already parsed payload (tests, tools)."""
    return _row(guid, event, body, payload, dict, now)


def row_from_body(guid: str, event: str, body: bytes, now: datetime) -> DeliveryRow:
    """Validate the body as a JSON object and read the few fields a row needs, without building
    the payload's Python objects: simdjson checks the whole document (structure and UTF-8) and
    only the fields asked for become Python values. Raises NotJSON."""
    try:
        doc = simdjson.Parser().parse(body)  # a parser per request: no shared state to reuse
    except ValueError as exc:  # UnicodeDecodeError is one
        raise NotJSON("body is not JSON") from exc
    except RuntimeError as exc:  # simdjson's DEPTH_ERROR: nested deeper than orjson reads later
        raise NotJSON(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc
    if not isinstance(doc, simdjson.Object):
        raise NotJSON("body is not a JSON object")
    return _row(guid, event, body, doc, simdjson.Object, now)


def _row(
    guid: str, event: str, body: bytes, doc: Any, obj: type[Any], now: datetime
) -> DeliveryRow:
    # Keys are looked up only where present: a missing key costs an exception in simdjson's
    # Mapping.get, and most payloads lack some of these (10 us of the 15 us it took).
    keys = set(doc.keys())

    def inner(name: str, field: str) -> Any:
        if name not in keys:
            return None
        value = doc[name]
        return value[field] if isinstance(value, obj) and field in value else None

    action = doc["action"] if "action" in keys else None
    number = inner("pull_request", "number")
    if number is None:
        number = inner("issue", "number")
    if number is None and "number" in keys:
        number = doc["number"]
    full_name = inner("repository", "full_name")
    inst_id = inner("installation", "id")
    return DeliveryRow(
        guid=guid,
        event=event,
        action=action if isinstance(action, str) else None,
        installation_id=inst_id if _is_int(inst_id) else None,
        repo_full_name=full_name if isinstance(full_name, str) else None,
        item_number=number if _is_int(number) else None,
        received_at=now,
        payload=body,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


MAX_JSON_DEPTH = 1024  # simdjson's and orjson's limit: the worker can read whatever is accepted


class NotJSON(ValueError):
    """The body is not a JSON object: answered 400."""


_WANTED = (b"content-length", b"x-hub-signature-256", b"x-github-event", b"x-github-delivery")


@functools.cache  # a handful of fixed texts
def _answer(text: str, close: bool = False) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = (text + "\n").encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"%d" % len(body)),
    ]
    if close:  # a refused stranger starts again on a new connection, under the header deadline
        headers.append((b"connection", b"close"))
    return body, headers


class WebhookEndpoint:
    """The route as a plain ASGI app: the busiest route of all reads its four headers and its
    body straight from the ASGI messages, with no Request or Response objects to build, so
    that its cost is mostly the signature and the JSON check (bench/README). A body over the
    limit is refused before it is read whole."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, text = await self.handle(scope, receive)
        if status:
            body, headers = _answer(text, status in (413, 503))
            start = {"type": "http.response.start", "status": status, "headers": list(headers)}
            await send(start)
            await send({"type": "http.response.body", "body": body})

    async def handle(self, scope: Scope, receive: Receive) -> tuple[int, str]:
        """The status and text to answer; status 0 when the client went away."""
        state = scope["app"].state
        found: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _WANTED and name not in found:
                found[name] = value.decode("latin-1")
        length = found.get(b"content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return 413, "payload too large"
        budget: UnverifiedBudget = state.unverified
        try:  # a slow body is cut off by the server's request deadline (bot/intake/limits.py)
            body = await _read_body(receive, MAX_BODY_BYTES, budget)
        except _TooLarge:
            return 413, "payload too large"
        except _OverBudget:
            metrics.WEBHOOKS_REJECTED.labels(reason="busy").inc()
            return 503, "too many unverified requests in flight"
        if body is None:
            return 0, ""
        try:
            verified = signature_ok(body, found.get(b"x-hub-signature-256"), state.secrets)
        finally:
            budget.give_back(len(body))
        if not verified:
            metrics.WEBHOOKS_REJECTED.labels(reason="signature").inc()
            refusals = getattr(state, "refusals", None)
            if refusals is not None:
                refusals.refused(SIGNATURE_REFUSED, secret_set=bool(state.secrets))
            return 401, SIGNATURE_REFUSED
        event = found.get(b"x-github-event")
        guid = found.get(b"x-github-delivery")
        if not event or not guid or len(guid) > 64:
            return 400, "missing X-GitHub-Event or X-GitHub-Delivery"
        try:
            row = row_from_body(guid, event, body, state.clock.now().astimezone(UTC))
        except NotJSON as exc:
            return 400, str(exc)
        if event == "ping":
            return 200, "pong"
        try:
            outcome = await state.writer.store(row)
        except Exception:
            # GitHub records a failed delivery; the recovery job asks for it again later.
            metrics.WEBHOOKS_REJECTED.labels(reason="storage").inc()
            return 503, "storage unavailable"
        metrics.DELIVERIES_RECEIVED.labels(event=event, outcome=outcome).inc()
        if outcome == Stored.DONE:
            return 200, "already processed"
        return 202, "accepted"


class _TooLarge(Exception):
    pass


class _OverBudget(Exception):
    pass


async def _read_body(
    receive: Receive, limit: int, budget: UnverifiedBudget | None = None
) -> bytes | None:
    """The whole body, or None if the client disconnected. Raises _TooLarge past `limit`, and
    _OverBudget when unverified bodies together would hold more than `budget` allows. The
    caller gives the body's bytes back to the budget once the signature is checked."""
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Gone
            chunk = message.get("body", b"")
            if size + len(chunk) > limit:
                raise _TooLarge
            if budget is not None and not budget.take(size, len(chunk)):
                raise _OverBudget
            size += len(chunk)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except _Gone:
        if budget is not None:
            budget.give_back(size)
        return None
    except BaseException:  # over a limit, too slow (cancelled): what was held is given back
        if budget is not None:
            budget.give_back(size)
        raise


class _Gone(Exception):
    pass


WEBHOOK_PATH = "/webhooks/github"


def webhook_first(stack: ASGIApp) -> ASGIApp:
    """`POST /webhooks/github` straight to its endpoint, anything else to the app's middleware
    stack. The endpoint needs none of the stack's layers (it maps no exceptions, solves no
    dependencies, opens no files), and those layers cost about a fifth of a webhook's CPU in
    the web process (bench/README). The route stays registered: other methods get their 405."""
    endpoint = WebhookEndpoint()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path, root = scope["path"], scope.get("root_path", "")
            if (path[len(root) :] if root and path.startswith(root) else path) == WEBHOOK_PATH:
                await endpoint(scope, receive, send)
                return
        await stack(scope, receive, send)

    return app


def build_router() -> APIRouter:
    router = APIRouter()
    # An ASGI app as endpoint: Starlette routes to it as is (405 for other methods included).
    endpoint: Any = WebhookEndpoint()
    router.add_route(WEBHOOK_PATH, endpoint, methods=["POST"], include_in_schema=False)
    return router
