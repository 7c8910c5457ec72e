"""The record's timeline: a payload (or imported history) as an item snapshot and entries,
and their idempotent writing (natural `source_key`s, so a redelivery or a later backfill of the
same fact adds nothing). Used by the `records` handler and by the history import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.forge.names import owner_of
from bot.record.people import TEAM_CLASSES, is_bot_account
from bot.record.text import asks_question
from bot.storage.models import Item, TimelineEntry, TimelineKind

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class EventLike(Protocol):
    """What the pure steps read of an event (`bot.dispatch.context.Event`)."""

    @property
    def name(self) -> str: ...
    @property
    def action(self) -> str | None: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def repo(self) -> str | None: ...
    @property
    def sender(self) -> dict[str, Any]: ...


class Writer(Protocol):
    """Where entries are written: a handler's context (its engine and clock)."""

    @property
    def engine(self) -> Engine: ...
    def now(self) -> datetime: ...


K = TimelineKind
_ISSUE_ACTIONS = {
    "opened": K.OPENED,
    "reopened": K.REOPENED,
    "closed": K.CLOSED,
    "labeled": K.LABELED,
    "unlabeled": K.UNLABELED,
    "assigned": K.ASSIGNED,
    "unassigned": K.UNASSIGNED,
    "edited": K.EDITED,
    "transferred": K.TRANSFERRED,
    "deleted": K.DELETED,
    "locked": K.LOCKED,
    "unlocked": K.UNLOCKED,
    "review_requested": K.REVIEW_REQUESTED,
    "ready_for_review": K.READY_FOR_REVIEW,
    "converted_to_draft": K.CONVERTED_TO_DRAFT,
    "synchronize": K.PUSHED,
}


def ts(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return None


@dataclass
class Entry:
    kind: str
    occurred_at: datetime
    actor: dict[str, Any]
    source_key: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recorded:
    repo: str
    item: dict[str, Any]  # normalised Item fields
    author: dict[str, Any]
    entries: list[Entry]


def item_fields(repo: str, raw: dict[str, Any], is_pull: bool) -> dict[str, Any]:
    user = raw.get("user") or {}
    merged_at = ts(raw.get("merged_at")) or ts((raw.get("pull_request") or {}).get("merged_at"))
    return {
        "repo_full_name": repo,
        "owner": owner_of(repo),
        "number": raw["number"],
        "kind": "pull" if is_pull else "issue",
        "github_id": raw.get("id"),
        "title": raw.get("title") or "",
        "author_login": user.get("login") or "ghost",
        "author_type": "Bot" if is_bot_account(user) else (user.get("type") or "User"),
        "author_association": raw.get("author_association"),
        "state": raw.get("state") or "open",
        "draft": bool(raw.get("draft")),
        "created_at": ts(raw.get("created_at")),
        "updated_at": ts(raw.get("updated_at")),
        "closed_at": ts(raw.get("closed_at")),
        "merged_at": merged_at,
        "labels": sorted(lbl.get("name", "") for lbl in raw.get("labels") or []),
        "assignees": sorted(a.get("login", "") for a in raw.get("assignees") or []),
    }


def parse(event: EventLike, now: datetime) -> Recorded | None:
    """Pure step: payload -> item snapshot and timeline entries."""
    p, repo = event.payload, event.repo
    raw = p.get("pull_request") or p.get("issue")
    if not repo or not isinstance(raw, dict) or "number" not in raw:
        return None
    is_pull = "pull_request" in p or "pull_request" in raw and event.name == "issue_comment"
    is_pull = is_pull or isinstance(raw.get("pull_request"), dict)
    item = item_fields(repo, raw, is_pull)
    sender = p.get("sender") or {}
    when = item["updated_at"] or now
    entries: list[Entry] = []
    action = event.action or ""
    if event.name in ("issues", "pull_request"):
        kind = _ISSUE_ACTIONS.get(action)
        if kind == K.CLOSED and raw.get("merged"):
            kind = K.MERGED
            item["merged_at"] = ts(raw.get("merged_at")) or when
        if kind == K.OPENED:
            # `live`: seen opened by a webhook, so the backfill's grace rule never applies.
            live: dict[str, Any] = {"live": True}
            live |= {"draft": bool(raw.get("draft"))} if is_pull else {}
            opener = raw.get("user") or sender
            entries.append(Entry(K.OPENED, item["created_at"] or when, opener, "opened", live))
        elif kind in (K.CLOSED, K.MERGED):
            at = ts(raw.get("merged_at")) if kind == K.MERGED else None
            at = at or item["closed_at"] or when
            entries.append(Entry(kind, at, sender, f"{kind}:{at.isoformat()}"))
            if kind == K.MERGED:
                item["closed_by"] = sender.get("login")
        elif kind in (K.LABELED, K.UNLABELED):
            name = (p.get("label") or {}).get("name", "")
            entries.append(
                Entry(kind, when, sender, f"{kind}:{name}:{when.isoformat()}", {"label": name})
            )
        elif kind in (K.ASSIGNED, K.UNASSIGNED):
            who = (p.get("assignee") or {}).get("login", "")
            entries.append(
                Entry(kind, when, sender, f"{kind}:{who}:{when.isoformat()}", {"assignee": who})
            )
        elif kind == K.REVIEW_REQUESTED:
            who = (p.get("requested_reviewer") or {}).get("login") or (
                p.get("requested_team") or {}
            ).get("slug", "")
            entries.append(
                Entry(kind, when, sender, f"{kind}:{who}:{when.isoformat()}", {"reviewer": who})
            )
        elif kind == K.PUSHED:
            sha = p.get("after") or (raw.get("head") or {}).get("sha", "")
            entries.append(Entry(kind, when, sender, f"pushed:{sha}", {"sha": sha}))
        elif kind == K.TRANSFERRED:
            new = transfer_target(p)
            moved_to = {"to": f"{new[0]}#{new[1]}"} if new else {}
            entries.append(Entry(kind, when, sender, f"{kind}:{when.isoformat()}", moved_to))
        elif kind is not None:
            entries.append(Entry(kind, when, sender, f"{kind}:{when.isoformat()}"))
        if kind == K.CLOSED:
            item["closed_by"] = sender.get("login")
    elif event.name in ("issue_comment", "pull_request_review_comment"):
        comment = p.get("comment") or {}
        cid = comment.get("id")
        at = ts(comment.get("created_at")) or when
        detail = {"comment_id": cid, "body": (comment.get("body") or "")[:4000]}
        if event.name == "pull_request_review_comment":
            detail["review_comment"] = True
        if action == "created":
            entries.append(
                Entry(K.COMMENTED, at, comment.get("user") or sender, f"comment:{cid}", detail)
            )
        elif action == "edited":
            at = ts(comment.get("updated_at")) or when
            entries.append(
                Entry(K.COMMENT_EDITED, at, sender, f"comment-edit:{cid}:{at.isoformat()}", detail)
            )
    elif event.name == "pull_request_review":
        review = p.get("review") or {}
        rid = review.get("id")
        if action == "submitted":
            at = ts(review.get("submitted_at")) or when
            state = str(review.get("state") or "").lower()
            detail = {"review_id": rid, "state": state, "body": (review.get("body") or "")[:4000]}
            entries.append(
                Entry(K.REVIEWED, at, review.get("user") or sender, f"review:{rid}", detail)
            )
    return Recorded(repo=repo, item=item, author=raw.get("user") or {}, entries=entries)


def transfer_target(payload: dict[str, Any]) -> tuple[str, int] | None:
    """Where an `issues.transferred` issue went: (new repository, new number)."""
    changes = payload.get("changes") or {}
    issue, repo = changes.get("new_issue") or {}, changes.get("new_repository") or {}
    if isinstance(issue.get("number"), int) and isinstance(repo.get("full_name"), str):
        return repo["full_name"], issue["number"]
    return None


def transfer_source(payload: dict[str, Any]) -> tuple[str, int] | None:
    """Where an `issues.opened` issue came from, when it arrived by a transfer."""
    changes = payload.get("changes") or {}
    issue, repo = changes.get("old_issue") or {}, changes.get("old_repository") or {}
    if isinstance(issue.get("number"), int) and isinstance(repo.get("full_name"), str):
        return repo["full_name"], issue["number"]
    return None


def converted(event: EventLike, now: datetime) -> Recorded | None:
    """Pure step: a discussion created with the number of a recorded issue is that issue,
    converted (they share the repository's numbers); the issue no longer waits."""
    disc = event.payload.get("discussion") or {}
    if not event.repo or not isinstance(disc.get("number"), int):
        return None
    at = ts(disc.get("created_at")) or now
    entry = Entry(K.CONVERTED_TO_DISCUSSION, at, event.sender, f"discussion:{disc['number']}", {})
    return Recorded(repo=event.repo, item={"number": disc["number"]}, author={}, entries=[entry])


def write_if_known(ctx: Writer, rec: Recorded) -> None:
    """Add `rec`'s entries to an item already in the record; nothing otherwise."""
    with Session(ctx.engine) as s:
        known = s.exec(
            select(Item.id).where(
                Item.repo_full_name == rec.repo, Item.number == rec.item["number"]
            )
        ).first()
    if known is not None:
        add_entries(ctx, rec.repo, rec.item["number"], rec.entries, {})


def mark_questions(rec: Recorded, classes: dict[str, str | None]) -> None:
    """A team comment that asks something hands the turn to the author (read by the SLA)."""
    for e in rec.entries:
        if e.kind == K.COMMENTED and classes.get(e.actor.get("login", "")) in TEAM_CLASSES:
            e.detail["asks_author"] = asks_question(str(e.detail.get("body") or ""))


def write(ctx: Writer, rec: Recorded, classes: dict[str, str | None]) -> None:
    with Session(ctx.engine) as s:
        item = s.exec(
            select(Item).where(Item.repo_full_name == rec.repo, Item.number == rec.item["number"])
        ).first()
        fields = dict(rec.item)
        if item is None:
            fields["created_at"] = fields["created_at"] or ctx.now()
            item = Item(**fields)
        else:
            for key, value in fields.items():
                if value is not None or key in ("closed_at", "merged_at"):
                    if key == "merged_at" and value is None:
                        continue
                    setattr(item, key, value)
        author_class = classes.get(item.author_login)
        if author_class:
            item.author_class = author_class
        s.add(item)
        s.commit()
        number = item.number
    add_entries(ctx, rec.repo, number, rec.entries, classes)


def add_entries(
    ctx: Writer, repo: str, number: int, entries: list[Entry], classes: dict[str, str | None]
) -> None:
    with Session(ctx.engine) as s:
        for e in entries:
            login = e.actor.get("login") if e.actor else None
            s.add(
                TimelineEntry(
                    repo_full_name=repo,
                    number=number,
                    occurred_at=e.occurred_at,
                    kind=e.kind,
                    actor_login=login,
                    actor_type="Bot" if is_bot_account(e.actor) else (e.actor or {}).get("type"),
                    actor_class=classes.get(login or ""),
                    source_key=e.source_key,
                    detail=e.detail,
                )
            )
            try:
                s.commit()
            except IntegrityError:  # already recorded (redelivery or backfill)
                s.rollback()
