"""Who a request is about: a login, and the ids, names and e-mail addresses found with it.

GitHub webhook payloads carry, besides the login, the account's numeric id (also inside avatar
URLs and `<id>+<login>@users.noreply.github.com` addresses) and, in push payloads, the commit
author's name and e-mail address. Everything is matched case-insensitively, with regular
expressions made only of escaped literals (linear time on hostile text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.storage import payloads
from bot.storage.models import Delivery

MIN_NAME = 3  # shorter "names" would match ordinary words


def walk(doc: Any) -> Iterator[dict[str, Any]]:
    """Every mapping inside a JSON document (iteratively: no recursion limit to hit)."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))


@dataclass
class Person:
    login: str
    ids: set[int] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._pattern: re.Pattern[str] | None = None
        self._folded: tuple[str, frozenset[str]] | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        """Any trace of the person in a text: login as a word, name, e-mail, id in URLs."""
        if self._pattern is None:
            parts = [rf"(?<![A-Za-z0-9-]){re.escape(self.login)}(?![A-Za-z0-9-])"]
            parts += [re.escape(e) for e in sorted(self.emails, key=len, reverse=True)]
            names = sorted((n for n in self.names if len(n) >= MIN_NAME), key=len, reverse=True)
            parts += [rf"(?<!\w){re.escape(n)}(?!\w)" for n in names]
            for i in sorted(self.ids):
                parts += [rf"/u/{i}(?!\d)", rf"(?<!\d){i}\+"]
            self._pattern = re.compile("|".join(parts), re.IGNORECASE)
        return self._pattern

    def found_in(self, text: str) -> bool:
        return self.pattern.search(text) is not None

    def replace_in(self, text: str, pseudonym: str) -> str:
        def sub(match: re.Match[str]) -> str:
            found = match.group(0)
            if found.startswith("/u/"):
                return "/u/0"
            return "0+" if found.endswith("+") else pseudonym

        return self.pattern.sub(sub, text)

    def is_account(self, obj: dict[str, Any]) -> bool:
        """A GitHub user object (or commit author) of this person."""
        if self._folded is None:
            self._folded = (self.login.casefold(), frozenset(e.casefold() for e in self.emails))
        folded_login, folded_emails = self._folded
        login = obj.get("login") or obj.get("username")
        if isinstance(login, str) and login.casefold() == folded_login:
            return True
        if "login" in obj and obj.get("id") in self.ids:
            return True
        email = obj.get("email")
        return isinstance(email, str) and email.casefold() in folded_emails

    def learn(self, doc: Any) -> None:
        """Add the ids, names and e-mail addresses a payload shows for this login."""
        for obj in walk(doc):
            if not self.is_account(obj):
                continue
            if "login" in obj and isinstance(obj.get("id"), int) and obj.get("type") != "Bot":
                self.ids.add(obj["id"])
            for key, into in (("name", self.names), ("email", self.emails)):
                value = obj.get(key)
                if isinstance(value, str) and value.strip():
                    into.add(value.strip())
        self._pattern, self._folded = None, None

    def describe(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "ids": sorted(self.ids),
            "names": sorted(self.names),
            "emails": sorted(self.emails),
        }


def stored_payloads(engine: Engine) -> Iterator[tuple[str, Any]]:
    """(guid, decoded payload) of every stored delivery, a batch at a time."""
    D = Delivery.__table__  # type: ignore[attr-defined]  # noqa: N806
    last = ""
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                select(D.c.guid, D.c.payload).where(D.c.guid > last).order_by(D.c.guid).limit(200)
            ).all()
        if not rows:
            return
        for guid, blob in rows:
            try:
                yield guid, orjson.loads(payloads.unpack(bytes(blob)))
            except orjson.JSONDecodeError:
                yield guid, None
        last = rows[-1][0]


def identify(engine: Engine, login: str, extra: Iterable[dict[str, Any]] = ()) -> Person:
    """The person behind `login`, with what the stored payloads show about them."""
    person = Person(login)
    for _, doc in stored_payloads(engine):
        if doc is not None:
            person.learn(doc)
    for doc in extra:
        person.learn(doc)
    return person
