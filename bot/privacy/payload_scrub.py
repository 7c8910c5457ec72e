"""Remove a person from stored webhook payloads (lz4 frames, see bot/storage/payloads.py).

Their account objects become a bare pseudonymous account (no id, avatar or profile URLs), the
text they wrote (issue and pull request titles and bodies, comments, reviews, commit messages)
is emptied on erasure, and any other trace (an @mention in someone else's comment, their name
or e-mail address) is replaced with the pseudonym.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import update
from sqlalchemy.engine import Engine

from bot.privacy.person import Person, stored_payloads, walk
from bot.storage import payloads
from bot.storage.models import Delivery

AUTHORED = ("user", "author")
TEXT_KEYS = ("title", "body", "message", "description")
BATCH = 200


def _account(obj: dict[str, Any], pseudonym: str) -> dict[str, Any]:
    if "login" in obj:
        return {"login": pseudonym, "id": 0, "type": obj.get("type") or "User"}
    return {"name": pseudonym, "email": "", "username": pseudonym}


def scrub(doc: Any, person: Person, pseudonym: str, *, forget_text: bool) -> Any:
    """The payload without the person (a new document; `doc` is left as it was)."""
    doc = orjson.loads(orjson.dumps(doc))
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            authored = any(
                isinstance(node.get(k), dict) and person.is_account(node[k]) for k in AUTHORED
            )
            for key, value in list(node.items()):
                if isinstance(value, dict) and person.is_account(value):
                    node[key] = _account(value, pseudonym)
                elif isinstance(value, str):
                    if forget_text and authored and key in TEXT_KEYS:
                        node[key] = ""
                    elif person.found_in(value):
                        node[key] = person.replace_in(value, pseudonym)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            for k, value in enumerate(node):
                if isinstance(value, dict) and person.is_account(value):
                    node[k] = _account(value, pseudonym)
                elif isinstance(value, str) and person.found_in(value):
                    node[k] = person.replace_in(value, pseudonym)
                elif isinstance(value, dict | list):
                    stack.append(value)
    return doc


def mentions(doc: Any, person: Person) -> bool:
    """Whether a decoded payload holds any trace of the person."""
    return person.found_in(orjson.dumps(doc).decode()) or any(
        person.is_account(obj) for obj in walk(doc)
    )


def scrub_stored(
    engine: Engine, person: Person, pseudonym: str, *, forget_text: bool, dry_run: bool = False
) -> int:
    """Scrub every stored payload holding the person; the number of payloads concerned."""
    D = Delivery.__table__  # type: ignore[attr-defined]  # noqa: N806
    found, pending = 0, list[tuple[str, bytes]]()

    def write() -> None:
        with engine.begin() as conn:  # one transaction per batch (SQLite syncs each commit)
            for guid, blob in pending:
                conn.execute(update(D).where(D.c.guid == guid).values(payload=blob))
        pending.clear()

    for guid, doc in stored_payloads(engine):
        if doc is None or not mentions(doc, person):
            continue
        found += 1
        if not dry_run:
            clean = scrub(doc, person, pseudonym, forget_text=forget_text)
            pending.append((guid, payloads.pack(orjson.dumps(clean))))
            if len(pending) >= BATCH:
                write()
    if pending:
        write()
    return found
