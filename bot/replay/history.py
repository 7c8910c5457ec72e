"""The recorded history a replay runs over: items and their timelines, without Veilleur's output.

Read from the record (webhooks and backfill write the same `items` and `timeline` tables), or
built by the busy-organisation generator. Veilleur's own comments and labels are left out: the
replay produces its own, as if Veilleur had been installed at the replay's start.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.forge.names import is_org_config_repo
from bot.record.entry import Entry
from bot.sla.plan import ESCALATED
from bot.storage.models import AuthorClassCache, ConfigRecord, Delivery, Item, TimelineEntry
from bot.storage.payloads import unpack

VEILLEUR_MARK = "veilleur-template:"  # every comment Veilleur writes carries it


@dataclass
class ItemRecord:
    """An item's fixed facts; its labels, assignees and state are rebuilt as time goes by."""

    repo_full_name: str
    number: int
    kind: str  # issue | pull
    title: str
    author_login: str
    author_class: str | None
    created_at: datetime
    body: str | None = None  # None: not recorded (backfill keeps no body)
    partner: str | None = None
    draft: bool = False
    # What the live Veilleur asked of this item when it was installed (marker kinds, e.g.
    # "pr-checklist"): the verdict on facts the record does not keep (changed files).
    asked: frozenset[str] = frozenset()

    @property
    def ref(self) -> str:
        return f"{self.repo_full_name}#{self.number}"


@dataclass
class History:
    org: str
    repos: list[str]
    items: list[ItemRecord]
    entries: dict[tuple[str, int], list[Entry]]  # by (repo, number), oldest first
    configs: dict[str, Any] = field(default_factory=dict)  # recorded config per repository
    veilleur_login: str | None = None  # whose entries were left out

    def timeline(self, item: ItemRecord) -> list[Entry]:
        return self.entries.get((item.repo_full_name, item.number), [])


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def veilleur_login(rows: list[TimelineEntry], hint: str | None) -> str | None:
    """Veilleur's login: given, else whoever wrote the comments carrying its template mark."""
    if hint:
        return hint
    counts: dict[str, int] = defaultdict(int)
    for e in rows:
        if e.kind == "commented" and VEILLEUR_MARK in str((e.detail or {}).get("body") or ""):
            counts[e.actor_login or ""] += 1
    return max(counts, key=lambda k: counts[k]) if counts else None


def _bodies(s: Session, org: str) -> dict[tuple[str, int], str]:
    """Opening bodies from the recorded webhooks (the timeline keeps none)."""
    out: dict[tuple[str, int], str] = {}
    q = select(col(Delivery.payload)).where(
        col(Delivery.event).in_(["issues", "pull_request"]),
        col(Delivery.action) == "opened",
        col(Delivery.repo_full_name).startswith(f"{org}/"),
    )
    for (payload,) in s.execute(q):
        try:
            p = json.loads(unpack(payload))
        except ValueError:
            continue
        raw = p.get("pull_request") or p.get("issue") or {}
        repo = (p.get("repository") or {}).get("full_name")
        if repo and isinstance(raw.get("number"), int):
            out[(repo, raw["number"])] = str(raw.get("body") or "")
    return out


def load_history(
    engine: Engine, org: str, until: datetime, bot_login: str | None = None
) -> History:
    """The organisation's record up to `until`, Veilleur's own entries left out."""
    until = _utc(until)
    with Session(engine) as s:
        rows_items = list(
            s.scalars(select(Item).where(col(Item.owner) == org).order_by(col(Item.id)))
        )
        rows = list(
            s.scalars(
                select(TimelineEntry)
                .where(col(TimelineEntry.repo_full_name).startswith(f"{org}/"))
                .order_by(col(TimelineEntry.occurred_at), col(TimelineEntry.id))
            )
        )
        bodies = _bodies(s, org)
        partners = {
            c.login.lower(): c.partner
            for c in s.scalars(select(AuthorClassCache).where(col(AuthorClassCache.org) == org))
        }
        configs = {
            r.repo_full_name: r.valid_json
            for r in s.scalars(
                select(ConfigRecord).where(col(ConfigRecord.repo_full_name).startswith(f"{org}/"))
            )
            if r.valid_json
        }
    me = veilleur_login(rows, bot_login)
    entries: dict[tuple[str, int], list[Entry]] = defaultdict(list)
    asked: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in rows:
        at = _utc(e.occurred_at)
        if me and (e.actor_login or "").lower() == me.lower():
            body = str((e.detail or {}).get("body") or "")
            if e.kind == "commented" and body.startswith("<!-- veilleur:"):
                asked[(e.repo_full_name, e.number)].add(body[14:].split(":", 1)[0])
            continue
        if at > until or e.kind == ESCALATED:  # Veilleur's own record of an escalation
            continue
        entries[(e.repo_full_name, e.number)].append(
            Entry(e.kind, at, e.actor_login, e.actor_class, dict(e.detail or {}), e.actor_type)
        )
    items = [
        ItemRecord(
            i.repo_full_name,
            i.number,
            i.kind,
            i.title,
            i.author_login,
            i.author_class,
            _utc(i.created_at),
            bodies.get((i.repo_full_name, i.number)),
            partners.get(i.author_login.lower()),
            i.draft,
            frozenset(asked.get((i.repo_full_name, i.number), ())),
        )
        for i in rows_items
        if _utc(i.created_at) <= until
        and not is_org_config_repo(i.repo_full_name)
        and not (me and i.author_login.lower() == me.lower())  # its waiting lists, its issues
    ]
    repos = sorted({i.repo_full_name for i in items})
    return History(org, repos, items, dict(entries), configs, me)


def without_veilleur(history: History) -> History:
    """A copy whose entries exclude any left by `history.veilleur_login` (generated input)."""
    me = (history.veilleur_login or "").lower()
    if not me:
        return history
    kept = {
        k: [e for e in v if (e.actor_login or "").lower() != me] for k, v in history.entries.items()
    }
    return replace(history, entries=kept)
