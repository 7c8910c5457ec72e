"""Signed cookies of the dashboard: the session (who signed in, which repositories they may
see) and the short-lived OAuth `state`.

The session holds no token: only the GitHub login and the org → repository names the user
could access when they signed in (read with their user-to-server token, then dropped). It is
signed (itsdangerous, HMAC-SHA1 keyed by `VEILLEUR_SESSION_SECRET`, zlib-compressed when that
is shorter), HttpOnly and SameSite=Lax, and expires after `SESSION_SECONDS`: access changed on
GitHub is picked up at the next sign-in.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.settings import Settings

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


def _secure(request: Request, settings: Settings) -> bool:
    base = settings.public_url or str(request.base_url)
    return base.startswith("https://")


def read_viewer(request: Request, settings: Settings) -> Viewer | None:
    """The signed-in viewer, or None (no cookie, bad signature, expired, no secret)."""
    serializer = _serializer(settings, "session")
    raw = request.cookies.get(SESSION_COOKIE)
    if serializer is None or not raw:
        return None
    try:
        data = serializer.loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None
    return Viewer.from_json(data)


def write_viewer(response: Response, request: Request, settings: Settings, viewer: Viewer) -> None:
    serializer = _serializer(settings, "session")
    if serializer is None:
        raise RuntimeError("VEILLEUR_SESSION_SECRET must be set to sign sessions")
    value = serializer.dumps(viewer.to_json())
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


def new_state(response: Response, request: Request, settings: Settings, next_path: str) -> str:
    """A random OAuth `state`, remembered (with where to go after sign-in) in a signed cookie."""
    serializer = _serializer(settings, "state")
    if serializer is None:
        raise RuntimeError("VEILLEUR_SESSION_SECRET must be set to sign sessions")
    state = secrets.token_urlsafe(24)
    response.set_cookie(
        STATE_COOKIE,
        serializer.dumps({"s": state, "n": next_path}),
        max_age=STATE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_secure(request, settings),
        path="/auth/",
    )
    return state


def check_state(request: Request, settings: Settings, state: str) -> str | None:
    """The path to return to when `state` matches the cookie set by `new_state`, else None."""
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
    return safe_next(data.get("n"))


def clear_state(response: Response) -> None:
    response.delete_cookie(STATE_COOKIE, path="/auth/", httponly=True, samesite="lax")


_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\x00-\x20\x7f\\]*$")


def safe_next(value: object) -> str:
    """A local path to go back to; anything else becomes `/`: other hosts, `//evil`, and
    backslashes or whitespace, which browsers drop or read as slashes (`/\t/evil`)."""
    text = str(value or "/")
    return text if _LOCAL_PATH.match(text) else "/"
