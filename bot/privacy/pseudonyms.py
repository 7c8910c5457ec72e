"""Stable pseudonyms: `person-3f9a…` (retention, pseudonymised digests), `erased-3f9a…`.

A keyed hash (HMAC-SHA256) of the case-folded login, so the same person always gets the same
pseudonym (counts, "new contributor" and elephant-factor figures do not change), while nobody
without the key can recompute it from a list of GitHub logins. The key is random, created once
and kept in the `privacy_keys` table.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.storage.models import PrivacyKey

KEY_NAME = "pseudonym"
PREFIXES = ("person", "erased")
PSEUDONYM = re.compile(r"^(?:person|erased)-[0-9a-f]{12}$")


def is_pseudonym(login: str) -> bool:
    return bool(PSEUDONYM.match(login))


class Pseudonyms:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def of(cls, engine: Engine) -> Pseudonyms:
        """The database's pseudonym key, created on first use (concurrent creators agree)."""
        with Session(engine) as s:
            row = s.get(PrivacyKey, KEY_NAME)
            if row is None:
                s.add(PrivacyKey(name=KEY_NAME, value=secrets.token_hex(32)))
                try:
                    s.commit()
                except IntegrityError:
                    s.rollback()
                row = s.get(PrivacyKey, KEY_NAME)
            assert row is not None
            return cls(bytes.fromhex(row.value))

    def __call__(self, login: str, prefix: str = "person") -> str:
        """The pseudonym of `login`; a pseudonym is returned unchanged."""
        if prefix not in PREFIXES:
            raise ValueError(f"unknown pseudonym prefix {prefix!r}")
        if not login or is_pseudonym(login):
            return login
        digest = hmac.new(self._key, login.casefold().encode(), hashlib.sha256).hexdigest()
        return f"{prefix}-{digest[:12]}"
