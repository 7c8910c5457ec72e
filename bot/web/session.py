"""Cookies of the dashboard: the session (who signed in, which repositories they may see) and
the short-lived OAuth `state`.

The session holds no token: only the GitHub login and the org → repository names the user
could access when they signed in (read with their user-to-server token, then dropped). Those
names are private, so the cookie is encrypted and authenticated (Fernet, keyed by
`VEILLEUR_SESSION_SECRET`), not only signed: nobody reading it learns them. Each session has a
random id; signing out (a POST) revokes it on the server, so a copied cookie stops working at
once. It is HttpOnly, SameSite=Lax, `Secure` unless Veilleur is served over plain http on
localhost, and expires after `SESSION_SECONDS`: access changed on GitHub is picked up at the
next sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.settings import Settings
from bot.storage.models import ActionLog

SESSION_COOKIE = "veilleur_session"
STATE_COOKIE = "veilleur_oauth_state"
SESSION_SECONDS = 8 * 3600  # GitHub's user-to-server tokens live 8 hours too
STATE_SECONDS = 600
MAX_COOKIE_BYTES = 3900  # browsers keep at most 4096 bytes per cookie, name and attributes in


class SessionTooLarge(Exception):
    """The user's repository set does not fit in one cookie."""


@dataclass(frozen=True)
class Viewer:
    """A signed-in GitHub user and what they may see: lower org login → lower repo names."""

    login: str
    repos: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def full_names(self) -> set[str]:
        return {f"{org}/{name}" for org, names in self.repos.items() for name in names}

    def to_json(self) -> dict[str, object]:
        return {"u": self.login, "r": {o: sorted(n) for o, n in sorted(self.repos.items())}}

    @classmethod
    def from_json(cls, data: object) -> Viewer | None:
        if not isinstance(data, dict) or not isinstance(data.get("u"), str):
            return None
        raw = data.get("r")
        if not isinstance(raw, dict):
            return None
        repos = {
            str(org).lower(): frozenset(str(n).lower() for n in names)
            for org, names in raw.items()
            if isinstance(names, list)
        }
        return cls(data["u"], repos)


def _serializer(settings: Settings, salt: str) -> URLSafeTimedSerializer | None:
    if settings.session_secret is None:
        return None
    secret = settings.session_secret.get_secret_value()
    return URLSafeTimedSerializer(secret, salt=f"veilleur.{salt}") if secret else None


_LOCALHOST = {"localhost", "127.0.0.1", "::1"}


def _secure(request: Request, settings: Settings) -> bool:
    """Secure cookies, except over plain http on this machine (development, the demo)."""
    url = urlsplit(settings.public_url or str(request.base_url))
    return not (url.scheme == "http" and (url.hostname or "") in _LOCALHOST)


def _fernet(settings: Settings) -> Fernet | None:
    if settings.session_secret is None or not settings.session_secret.get_secret_value():
        return None
    secret = settings.session_secret.get_secret_value().encode()
    key = hashlib.sha256(b"veilleur.session\0" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encode_session(settings: Settings, viewer: Viewer, session_id: str | None = None) -> str:
    """The encrypted cookie value of a new session (`/auth/callback`, tests)."""
    fernet = _fernet(settings)
    if fernet is None:
        raise RuntimeError("VEILLEUR_SESSION_SECRET must be set to sign sessions")
    data = viewer.to_json() | {"sid": session_id or secrets.token_urlsafe(18)}
    return fernet.encrypt(zlib.compress(json.dumps(data).encode())).decode()


def _session_data(request: Request, settings: Settings) -> dict[str, Any] | None:
    return decode_session(settings, request.cookies.get(SESSION_COOKIE))


def decode_session(settings: Settings, raw: str | None) -> dict[str, Any] | None:
    """What a session cookie holds, if it is ours and not expired (revocation aside)."""
    fernet = _fernet(settings)
    if fernet is None or not raw:
        return None
    try:
        data = json.loads(zlib.decompress(fernet.decrypt(raw, ttl=SESSION_SECONDS)))
    except (InvalidToken, zlib.error, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("sid"), str) else None


def read_viewer(request: Request, settings: Settings) -> Viewer | None:
    """The signed-in viewer, or None (no cookie, forged, expired, signed out, no secret)."""
    data = _session_data(request, settings)
    if data is None or _revoked(request.app.state.engine, data["sid"]):
        return None
    return Viewer.from_json(data)


def revoke_session(request: Request, settings: Settings, now: datetime) -> None:
    """Sign-out: the session's id is refused from now on (kept as long as a cookie lives)."""
    data = _session_data(request, settings)
    if data is None:
        return
    engine = request.app.state.engine
    with Session(engine) as s:
        s.exec(
            delete(ActionLog).where(
                col(ActionLog.key).startswith(_REVOKED),
                col(ActionLog.done_at) < now - timedelta(seconds=SESSION_SECONDS),
            )
        )
        if s.get(ActionLog, _REVOKED + data["sid"]) is None:
            s.add(ActionLog(key=_REVOKED + data["sid"], done_at=now))
        s.commit()


_REVOKED = "session-revoked:"


def _revoked(engine: Engine, session_id: str) -> bool:
    with Session(engine) as s:
        return s.get(ActionLog, _REVOKED + session_id) is not None


def write_viewer(response: Response, request: Request, settings: Settings, viewer: Viewer) -> None:
    value = encode_session(settings, viewer)
    if len(value) + len(SESSION_COOKIE) > MAX_COOKIE_BYTES:
        raise SessionTooLarge(f"{len(viewer.full_names())} repositories")
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_secure(request, settings),
        path="/",
    )


def clear_viewer(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def new_state(
    response: Response, request: Request, settings: Settings, next_path: str, forge: str = "github"
) -> str:
    """A random OAuth `state`, remembered (with where to go after sign-in, and the forge it
    was sent to, so another forge's callback refuses it) in a signed cookie."""
    serializer = _serializer(settings, "state")
    if serializer is None:
        raise RuntimeError("VEILLEUR_SESSION_SECRET must be set to sign sessions")
    state = secrets.token_urlsafe(24)
    response.set_cookie(
        STATE_COOKIE,
        serializer.dumps(
            {"s": state, "n": next_path} | ({"f": forge} if forge != "github" else {})
        ),
        max_age=STATE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_secure(request, settings),
        path="/auth/",
    )
    return state


def check_state(
    request: Request, settings: Settings, state: str, forge: str = "github"
) -> str | None:
    """The path to return to when `state` matches the cookie set by `new_state` for this
    forge, else None."""
    serializer = _serializer(settings, "state")
    raw = request.cookies.get(STATE_COOKIE)
    if serializer is None or not raw or not state:
        return None
    try:
        data = serializer.loads(raw, max_age=STATE_SECONDS)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not secrets.compare_digest(str(data.get("s", "")), state):
        return None
    if data.get("f", "github") != forge:
        return None
    return safe_next(data.get("n"))


def clear_state(response: Response) -> None:
    response.delete_cookie(STATE_COOKIE, path="/auth/", httponly=True, samesite="lax")


_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\x00-\x20\x7f\\]*$")


def safe_next(value: object) -> str:
    """A local path to go back to; anything else becomes `/`: other hosts, `//evil`, and
    backslashes or whitespace, which browsers drop or read as slashes (`/\t/evil`)."""
    text = str(value or "/")
    return text if _LOCAL_PATH.match(text) else "/"
