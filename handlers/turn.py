"""Whose turn is it? `awaiting-maintainer` / `awaiting-author` follow the conversation.

Rules (documented in the README):
- a team comment that asks something, or a review requesting changes -> awaiting-author;
- a team comment or review that asks nothing -> the maintainer has answered: awaiting-maintainer
  is removed;
- the author's comment or push -> awaiting-maintainer;
- any team comment, review, label or assignment removes needs-triage.
Bots (including Veilleur) and other people never move the turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from bot.dispatch.context import Context, Event
from bot.effects.actions import Action, AddLabels, EnsureLabel, RemoveLabel
from bot.effects.labels import LABEL_STYLE
from bot.record.people import OUTSIDE_CLASSES, TEAM_CLASSES, is_bot_account
from bot.record.text import asks_question
from bot.storage.models import Item

NAME = "turn"
EVENTS = {
    ("issue_comment", "created"),
    ("pull_request_review", "submitted"),
    ("pull_request", "synchronize"),
    ("issues", "labeled"),
    ("issues", "assigned"),
    ("pull_request", "labeled"),
    ("pull_request", "assigned"),
}


@dataclass(frozen=True)
class TurnInput:
    repo: str
    number: int
    event: str  # comment | review | push | label | assign
    actor_class: str | None
    actor_is_author: bool
    labels: frozenset[str]
    text: str = ""
    review_state: str | None = None


def plan(inp: TurnInput, names: Any) -> list[Action]:
    """Pure step: label moves implied by one event on an outside item."""
    team = inp.actor_class in TEAM_CLASSES and not inp.actor_is_author
    add: list[tuple[str, str]] = []
    remove: list[str] = []
    if team:
        remove.append(names.needs_triage)
        if inp.event == "comment" or inp.event == "review":
            asks = inp.review_state == "changes_requested" or (
                inp.event == "comment" and asks_question(inp.text)
            )
            remove.append(names.awaiting_maintainer)
            if asks:
                add.append((names.awaiting_author, "awaiting_author"))
    elif inp.actor_is_author and inp.event in ("comment", "push"):
        remove.append(names.awaiting_author)
        add.append((names.awaiting_maintainer, "awaiting_maintainer"))
    actions: list[Action] = []
    for label, style in add:
        if label not in inp.labels:
            actions.append(EnsureLabel(inp.repo, label, *LABEL_STYLE[style]))
            actions.append(AddLabels(inp.repo, inp.number, (label,)))
    added = {label for label, _ in add}
    for label in dict.fromkeys(remove):
        if label in inp.labels and label not in added:
            actions.append(RemoveLabel(inp.repo, inp.number, label))
    return actions


def _kind(event: Event) -> str:
    if event.name == "issue_comment":
        return "comment"
    if event.name == "pull_request_review":
        return "review"
    if event.action == "synchronize":
        return "push"
    return "label" if event.action == "labeled" else "assign"


async def handle(event: Event, ctx: Context) -> None:
    raw, repo, api = event.item, event.repo, ctx.github
    if raw is None or repo is None or api is None:
        return
    with Session(ctx.engine) as s:
        item = s.exec(
            select(Item).where(Item.repo_full_name == repo, Item.number == raw["number"])
        ).first()
    if item is None or item.author_class not in OUTSIDE_CLASSES:
        return
    if raw.get("state") == "closed":
        await _reopen_if_stale(event, ctx, item)
        return
    actor = event.actor
    if is_bot_account(actor):
        return
    resolved = await ctx.config()
    if resolved is None:
        return
    who = await ctx.services["classifier"].classify(api, repo, actor, event)
    inp = TurnInput(
        repo=repo,
        number=raw["number"],
        event=_kind(event),
        actor_class=who.author_class,
        actor_is_author=(actor.get("login") or "").lower() == item.author_login.lower(),
        labels=frozenset(event.item_labels),
        text=event.comment_body,
        review_state=str(event.review.get("state") or "").lower() or None,
    )
    if inp.text.lstrip().startswith("/"):
        return  # commands move the turn themselves
    await ctx.apply(plan(inp, resolved.config.labels))


def stale_reopen(
    item_author: str,
    commenter: str,
    closed_by: str | None,
    bot_login: str | None,
    reason: str | None,
) -> bool:
    """Pure step: Veilleur closed it as stale and its author came back -> reopen."""
    return (
        commenter.lower() == item_author.lower()
        and bool(bot_login)
        and closed_by == bot_login
        and reason == "not_planned"
    )


async def _reopen_if_stale(event: Event, ctx: Context, item: Item) -> None:
    from bot.effects.actions import SetIssueState

    if event.name != "issue_comment" or ctx.github is None:
        return
    commenter = (event.comment.get("user") or {}).get("login") or ""
    raw = event.item or {}
    closed_by = item.closed_by or (raw.get("closed_by") or {}).get("login")
    if not stale_reopen(
        item.author_login, commenter, closed_by, ctx.bot_login, raw.get("state_reason")
    ):
        return
    repo = event.repo or ""
    resolved = await ctx.config()
    if resolved is None:
        return
    names = resolved.config.labels
    actions = [
        SetIssueState(repo, item.number, "open"),
        EnsureLabel(repo, names.awaiting_maintainer, *LABEL_STYLE["awaiting_maintainer"]),
        AddLabels(repo, item.number, (names.awaiting_maintainer,)),
        RemoveLabel(repo, item.number, names.awaiting_author),
    ]
    await ctx.apply(actions)
