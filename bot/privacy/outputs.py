"""Digests without names: pseudonymised (`veilleur digest --pseudonymise`, `digest.pseudonymise`)
or without any per-person row content (the public dashboard unless `dashboard.public_people`).

Only who is named changes: every figure, list length and organisation stays the same, so a
pseudonymised digest can be compared with the plain one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bot.digest.model import Digest

HIDDEN = ""


def _person(login: str | None, name: Callable[[str], str]) -> str | None:
    """A person's login through `name`; nothing, or a team handle (`org/team`), as it is."""
    return name(login) if login and "/" not in login else login


def rename_people(digest: Digest, name: Callable[[str], str]) -> Digest:
    """The digest with every person's login passed through `name`, the attention figures'
    most mentioned person and the attention budget's decisions about a person included."""
    attention = digest.attention and digest.attention | {
        "most_mentioned": _person(digest.attention.get("most_mentioned"), name)
    }
    decisions = [d | {"person": _person(d.get("person"), name)} for d in digest.attention_decisions]
    return replace(
        digest,
        waiting=[replace(w, author=name(w.author)) for w in digest.waiting],
        new_contributors=[replace(c, login=name(c.login)) for c in digest.new_contributors],
        retention=digest.retention
        and replace(
            digest.retention,
            contributors=[replace(c, login=name(c.login)) for c in digest.retention.contributors],
        ),
        attention=attention,
        attention_decisions=decisions,
    )


def pseudonymise(digest: Digest, pseudonyms: Callable[[str], str]) -> Digest:
    """Logins replaced by their stable pseudonyms (`person-…`), in every format."""
    return rename_people(digest, pseudonyms)


def without_people(digest: Digest) -> Digest:
    """No login at all (the anonymous public dashboard)."""
    return rename_people(digest, lambda _login: HIDDEN)
