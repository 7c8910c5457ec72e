"""Replace a person's login with a pseudonym across the record, keeping every figure.

Items, timeline entries and effect keys keep their rows (counts, first responses and "new
contributor" dates do not move); only who they name changes. Shared by the erasure (which
also forgets the person's text and affiliation) and the person retention (which keeps the
organisation their contributions are credited to).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from bot.privacy import scan
from bot.privacy.person import Person
from bot.storage.models import AuthorClassCache, Item, TimelineEntry
from bot.storage.models import TimelineKind as K

I = Item.__table__  # type: ignore[attr-defined]  # noqa: E741
T = TimelineEntry.__table__  # type: ignore[attr-defined]
A = AuthorClassCache.__table__  # type: ignore[attr-defined]
WRITTEN = (K.COMMENTED, K.COMMENT_EDITED, K.REVIEWED)


def _is(column: Any, login: str) -> Any:
    return func.lower(column) == login.lower()


def _command_only(body: Any) -> bool:
    """A comment made only of commands is no response (bot/sla/rules.py reads it): kept as is, so
    the figures do not move; any other text of the person is emptied."""
    lines = [ln.strip() for ln in str(body or "").splitlines() if ln.strip()]
    return bool(lines) and all(ln.startswith("/") for ln in lines)


def rename_person(
    conn: Connection,
    person: Person,
    pseudonym: str,
    *,
    forget_text: bool,
    forget_affiliation: bool,
    keep_tables: frozenset[str] = frozenset(),
) -> Counter[str]:
    """Rename `person` to `pseudonym` in every table; rows changed per table."""
    login, changed = person.login, Counter[str]()
    item_values: dict[str, Any] = {"author_login": pseudonym}
    if forget_affiliation:
        item_values.update(author_company=None, author_email_domain=None)
        gone = conn.execute(delete(T).where(_is(T.c.actor_login, login), T.c.kind == K.AFFILIATION))
        changed["timeline"] += gone.rowcount
    if forget_text:
        item_values["title"] = ""
        written = select(T.c.id, T.c.detail).where(
            _is(T.c.actor_login, login), T.c.kind.in_(WRITTEN)
        )
        for entry_id, detail in conn.execute(written).all():
            if isinstance(detail, dict) and "body" in detail and not _command_only(detail["body"]):
                conn.execute(
                    update(T).where(T.c.id == entry_id).values(detail={**detail, "body": ""})
                )
    changed["items"] += conn.execute(
        update(I).where(_is(I.c.author_login, login)).values(**item_values)
    ).rowcount
    changed["items"] += conn.execute(
        update(I).where(_is(I.c.closed_by, login)).values(closed_by=pseudonym)
    ).rowcount
    changed["timeline"] += conn.execute(
        update(T).where(_is(T.c.actor_login, login)).values(actor_login=pseudonym)
    ).rowcount
    changed["author_classes"] += conn.execute(delete(A).where(_is(A.c.login, login))).rowcount
    changed["*"] += scan.rewrite(conn, person, pseudonym, keep_tables=keep_tables)
    return changed


def items_by_org(conn: Connection, login: str) -> dict[str, tuple[str, int]]:
    """One item per org the person opened items in (where a frozen credit is recorded)."""
    q = select(I.c.owner, func.min(I.c.repo_full_name)).where(_is(I.c.author_login, login))
    out = {}
    for owner, repo in conn.execute(q.group_by(I.c.owner)):
        number = conn.execute(
            select(func.min(I.c.number)).where(
                I.c.repo_full_name == repo, _is(I.c.author_login, login)
            )
        ).scalar_one()
        out[str(owner)] = (str(repo), int(number))
    return out
