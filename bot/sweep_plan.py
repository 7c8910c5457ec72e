"""The SLA sweep's decisions for one item, without I/O: shared by the live sweep and the replay.

`bot.sweep.Sweeper` gathers the facts (record, config, CODEOWNERS) and carries the actions
out; `bot.replay` calls the same functions on recorded history with a simulated clock. Any
rule added here therefore applies to both, and the replay can never drift from the bot.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot import sla
from bot.actions import (
    Action,
    AddLabels,
    EnsureLabel,
    RemoveLabel,
    SendEmail,
    SetIssueState,
    UpsertComment,
    marker,
)
from bot.calendar import BusinessCalendar
from bot.codeowners import responsible_people
from bot.storage.models import TimelineKind
from bot.templating import Renderer, T
from handlers.triage import LABEL_STYLE


@dataclass
class Waiting:
    """One item waiting for a maintainer, as listed in the waiting lists and the digest."""

    repo: str
    number: int
    title: str
    author: str
    author_class: str
    business_days: float
    responsible: list[str]
    overdue: bool
    escalated: bool = False


@dataclass(frozen=True)
class RepoFacts:
    """What one sweep pass knows of a repository, besides its items."""

    repo: str
    config: Any  # VeilleurConfig
    calendar: BusinessCalendar
    bots: tuple[str, ...]
    renderer: Renderer
    added_at: datetime | None = None  # installation: older items are backlog (grace rule)


@dataclass
class ItemPlan:
    """The sweep's intentions for one item at one instant."""

    actions: list[Action] = field(default_factory=list)
    waiting: Waiting | None = None  # listed in the waiting list (waits for a maintainer)
    steps: list[sla.ReminderStep] = field(default_factory=list)


def requested_reviewers(entries: Sequence[Any]) -> list[str]:
    return list(
        dict.fromkeys(
            str(e.detail.get("reviewer"))
            for e in entries
            if e.kind == TimelineKind.REVIEW_REQUESTED and e.detail.get("reviewer")
        )
    )


def seen_opened_live(entries: Sequence[Any]) -> bool:
    """Whether Veilleur recorded the item's opening from a webhook (not a history import)."""
    return any(e.kind == TimelineKind.OPENED and (e.detail or {}).get("live") for e in entries)


def responsible_for(
    item: Any, entries: Sequence[Any], cfg: Any, owners: Sequence[str] = ()
) -> list[str]:
    """Who is asked to answer: assignees, requested reviewers, CODEOWNERS, then maintainers."""
    return list(
        responsible_people(
            item.assignees,
            requested_reviewers(entries),
            owners,
            cfg.maintainers.users,
            cfg.maintainers.teams,
        )
    )


def wants_codeowners(item: Any, state: sla.WaitingState) -> bool:
    """An overdue, unassigned pull request: its CODEOWNERS (an I/O look-up) are asked."""
    return state.overdue and not item.assignees and item.kind == "pull"


def plan_item(
    facts: RepoFacts,
    item: Any,
    entries: Sequence[Any],
    state: sla.WaitingState,
    responsible: Sequence[str],
    done: Mapping[str, datetime],
    at: datetime,
    mentions: MutableMapping[str, int],
) -> ItemPlan:
    """Labels, reminders, escalations and stale nudges for one item whose `state` is known.

    `done`: the one-off keys already carried out (action_log). `mentions`: today's mention
    counts per person, updated with the reminders planned here (the next item sees them)."""
    cfg, repo = facts.config, facts.repo
    plan = ItemPlan()
    if state.gone:  # transferred away, deleted or converted: nothing left to label
        return plan
    labels = set(item.labels)
    overdue_label = cfg.labels.overdue
    lang = cfg.language
    if state.waiting_on != sla.MAINTAINER:
        if overdue_label in labels:
            plan.actions.append(RemoveLabel(repo, item.number, overdue_label))
        if state.waiting_on == sla.AUTHOR and cfg.stale.enabled:
            plan.actions += stale_actions(facts, item, state, at, done, lang)
        return plan
    ref = f"{repo}#{item.number}"
    history = sla.reminder_history(ref, state, done)
    entry = Waiting(
        repo,
        item.number,
        item.title,
        item.author_login,
        item.author_class or "external",
        round(state.business_days_waiting, 1),
        list(responsible),
        state.overdue,
        history.escalated_at is not None,
    )
    plan.waiting = entry
    if state.overdue and overdue_label not in labels:
        plan.actions.append(EnsureLabel(repo, overdue_label, *LABEL_STYLE["overdue"]))
        plan.actions.append(AddLabels(repo, item.number, (overdue_label,)))
    elif not state.overdue and overdue_label in labels:
        plan.actions.append(RemoveLabel(repo, item.number, overdue_label))
    escalate_to = [cfg.ospo.team] if cfg.ospo.team else []
    # Grace rule: the backlog found at installation (imported history) is listed,
    # never reminded, so installing Veilleur does not ping everyone at once. An item
    # Veilleur saw opened live is not backlog, however late its repository was learned.
    backlog = (
        facts.added_at is not None
        and item.created_at < facts.added_at
        and not seen_opened_live(entries)
    )
    if not backlog:
        plan.steps = sla.plan_reminders(
            state, ref, cfg.sla, history, at, facts.calendar, responsible, mentions, escalate_to
        )
    for step in plan.steps:
        plan.actions += step_actions(facts, step, item, history, responsible)
        for person in step.mention:
            mentions[person] = mentions.get(person, 0) + 1
        if step.stage == "escalation":
            entry.escalated = True
    return plan


def step_actions(
    facts: RepoFacts,
    step: sla.ReminderStep,
    item: Any,
    history: sla.ReminderHistory,
    responsible: Sequence[str],
    lang: str | None = None,
) -> list[Action]:
    """The comment (and, for an escalation, the mail) that carries out one reminder step,
    in `lang` (default: the repository's language)."""
    cfg, renderer, lang = facts.config, facts.renderer, lang or facts.config.language
    ref = f"{item.repo_full_name}#{item.number}"
    people = [f"@{p}" for p in step.mention]
    if step.stage == "reminder":
        due = cfg.sla.follow_up_days if step.phase == sla.FOLLOW_UP else cfg.sla.first_response_days
        text = renderer.render(
            T.REMINDER,
            lang,
            people=people,
            listed=list(step.listed_only),  # over their daily mention cap: named, no `@`
            author=item.author_login,
            business_days=int(step.business_days_waiting),
            due_days=due,
            reminder_number=step.number,
            max_reminders=cfg.sla.max_reminders,
            kind=step.phase,
        ).tagged
        return [
            UpsertComment(
                item.repo_full_name,
                item.number,
                marker("reminder", step.key),
                text,
                once=step.key,
            )
        ]
    data = dict(
        item={
            "repo": item.repo_full_name,
            "number": item.number,
            "title": item.title,
            "url": None,
            "author": item.author_login,
            "author_class": item.author_class,
        },
        business_days=int(step.business_days_waiting),
        reminders_sent=len(history.sent_at),
        # Who should answer the item; the OSPO is who this escalation tells.
        responsible=[p.lstrip("@") for p in responsible],
        ospo_team=cfg.ospo.team or None,
        ospo_emails=list(cfg.ospo.emails),
    )
    note = renderer.render(T.ESCALATION_ISSUE, lang, **data)
    out: list[Action] = [
        UpsertComment(
            item.repo_full_name,
            item.number,
            marker("escalation", step.key),
            note.tagged,
            once=step.key,
        )
    ]
    if cfg.ospo.emails:
        mail = renderer.render(T.ESCALATION_EMAIL, lang, **data)
        out.append(
            SendEmail(
                to=tuple(cfg.ospo.emails),
                subject=mail.title or f"Escalation: {ref}",
                text=mail.plain,
                once=f"{step.key}:email",
            )
        )
    return out


def stale_actions(
    facts: RepoFacts,
    item: Any,
    state: sla.WaitingState,
    at: datetime,
    done: Mapping[str, datetime],
    lang: str,
) -> list[Action]:
    """Optional: one friendly nudge, then close only if the author stays silent.

    Only items waiting on their author qualify (a maintainer asked something), so an
    outside contribution nobody answered is never closed.
    """
    cal, renderer = facts.calendar, facts.renderer
    if state.since is None or not cal.is_working_time(at):
        return []
    ref = f"{item.repo_full_name}#{item.number}"
    base = f"stale:{ref}:{state.since.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    idle = cal.business_days_between(state.since, at)
    stale = facts.config.stale
    if idle > stale.close_after_days and f"{base}:nudge" in done:
        text = renderer.render(T.STALE_CLOSE, lang, author=item.author_login).tagged
        return [
            UpsertComment(
                item.repo_full_name,
                item.number,
                marker("stale-close", base),
                text,
                once=f"{base}:close-comment",
            ),
            SetIssueState(
                item.repo_full_name, item.number, "closed", "not_planned", once=f"{base}:close"
            ),
        ]
    if idle > stale.nudge_after_days and f"{base}:nudge" not in done:
        left = stale.close_after_days - stale.nudge_after_days
        text = renderer.render(
            T.STALE_NUDGE, lang, author=item.author_login, close_after_days=left
        ).tagged
        return [
            UpsertComment(
                item.repo_full_name,
                item.number,
                marker("stale-nudge", base),
                text,
                once=f"{base}:nudge",
            )
        ]
    return []
