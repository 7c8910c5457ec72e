"""GitLab's webhook checks: the plain `X-Gitlab-Token` and, from GitLab 19.0, the Standard
Webhooks HMAC (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`)."""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import datetime

MAX_SKEW_SECONDS = 300  # a signature older or newer than this is a replay


def token_ok(header: str | None, secrets: list[bytes]) -> bool:
    """Constant time against every configured secret (no early exit)."""
    if not header or not secrets:
        return False
    given = header.encode("utf-8", "replace")
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(secret, given)
    return ok


def signing_key(token: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` token (the raw text when it is not one)."""
    if token.startswith("whsec_"):
        try:
            return base64.b64decode(token[len("whsec_") :], validate=True)
        except (binascii.Error, ValueError):
            pass
    return token.encode()


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.digest(key, f"{msg_id}.{timestamp}.".encode() + body, "sha256")
    return "v1," + base64.b64encode(digest).decode()


def signature_ok(
    body: bytes,
    msg_id: str | None,
    timestamp: str | None,
    header: str | None,
    keys: list[bytes],
    now: datetime,
) -> bool:
    """One of the space-separated `v1,…` values matches one key, and the timestamp is fresh."""
    if not (msg_id and timestamp and header and keys) or not timestamp.isdigit():
        return False
    if len(timestamp) > 12 or abs(now.timestamp() - int(timestamp)) > MAX_SKEW_SECONDS:
        return False
    given = [v.encode() for v in header.split(" ")[:8] if v.startswith("v1,")]
    ok = False
    for key in keys:
        wanted = sign(key, msg_id, int(timestamp), body).encode()
        for value in given:
            ok |= hmac.compare_digest(wanted, value)
    return ok
