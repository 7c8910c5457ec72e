"""The pure half of the SLA sweep: one repository's facts in, its actions and waiting list out.

`Sweeper` (bot/sla/sweep.py) gathers the facts (configuration, the record, CODEOWNERS of the
overdue pull requests nobody is assigned to) and carries the plan out; everything it decides
is decided here, without I/O, so it is tested from facts alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.effects.actions import (
    Action,
    AddLabels,
    EnsureLabel,
    RecordState,
    RemoveLabel,
    SendEmail,
    SetIssueState,
    UpsertComment,
    UpsertIssue,
    marker,
)
from bot.effects.labels import LABEL_STYLE
from bot.forge.links import WebLinks
from bot.messages.templating import Renderer, T
from bot.sla import attention_budget as budget
from bot.sla import rules as sla
from bot.sla.availability import PeopleBook, commanded_absences, route
from bot.sla.calendar import BusinessCalendar
from bot.sla.codeowners import responsible_people
from bot.sla.reminder_plan import Candidate, RepoState, plan_item
from bot.storage.models import Item, TimelineEntry, TimelineKind

ESCALATED = "escalated"  # the timeline entry of an escalation (told by mail, not posted)


def qualified_teams(owner: str, teams: list[str]) -> list[str]:
    """`maintainers.teams` as GitHub mentions them, `org/slug`: a bare slug of the repository's
    organisation (`mainteneurs`) is no handle (GitHub would look for a user of that name)."""
    return [t if "/" in t else f"{owner}/{t}" for t in teams]


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
    url: str | None = None  # the item's page on its forge, when the caller gave links


@dataclass
class RepoFacts:
    """What the sweep knows of one repository at `at`; `owners`: the CODEOWNERS owners of the
    files of each pull request that `needs_owners` named."""

    full_name: str
    owner: str
    added_at: datetime | None
    config: Any
    items: list[Item]
    entries: dict[int, list[TimelineEntry]]
    done: dict[str, datetime]
    mentions: dict[str, int]
    at: datetime
    bots: list[str]
    owners: dict[int, list[str]] = field(default_factory=dict)
    # `/away` commands run anywhere in the organisation, oldest first (bot/sla/availability.py)
    away: list[TimelineEntry] = field(default_factory=list)
    # What a caller that sweeps many times over (the replay, bot/replay/) keeps between
    # sweeps instead of rebuilding: the repository's calendar, its comment counts over the
    # share window; and whether the waiting-list issue is written (the replay keeps none).
    calendar: BusinessCalendar | None = None
    comments: budget.CommentCounts | None = None
    waiting_list: bool = True
    links: WebLinks | None = None  # items' pages on their forge (escalations link them)


@dataclass
class RepoPlan:
    """`actions`: labels, stale nudges, the waiting list, carried out at once; the reminders
    due (`reminders.candidates`) wait for the organisation's caps and budgets
    (bot/sla/org_plan.py)."""

    actions: list[Action]
    waiting: list[Waiting]
    escalated: list[Waiting]  # escalated before this sweep (this sweep's: the org plan's)
    day: str
    reminders: RepoState
    items: dict[int, Item] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)  # item -> why its reminder waits
    states: dict[int, sla.WaitingState] = field(default_factory=dict)  # by item number


def _calendar(facts: RepoFacts) -> BusinessCalendar:
    return facts.calendar or BusinessCalendar.from_config(facts.config.calendar)


def _state(facts: RepoFacts, item: Item, cal: BusinessCalendar) -> sla.WaitingState:
    cfg = facts.config
    return sla.waiting_state(
        item,
        facts.entries.get(item.number, []),
        facts.at,
        cal,
        facts.bots,
        sla=cfg.sla,
        author_label=cfg.labels.awaiting_author,
    )


def needs_owners(facts: RepoFacts) -> list[int]:
    """The overdue pull requests nobody is assigned to: their CODEOWNERS owners are asked."""
    cal = _calendar(facts)
    out = []
    for item in facts.items:
        if item.kind != "pull" or item.assignees:
            continue
        state = _state(facts, item, cal)
        if not state.gone and state.waiting_on == sla.MAINTAINER and state.overdue:
            out.append(item.number)
    return out


def plan_repo(facts: RepoFacts, renderer: Renderer) -> RepoPlan:
    """Labels, reminders, escalations, stale nudges and the waiting list of one repository."""
    cfg, at, full_name = facts.config, facts.at, facts.full_name
    cal = _calendar(facts)
    day = at.astimezone(cal.tz).date().isoformat()
    mentions = dict(facts.mentions)
    book = PeopleBook(cfg.people, commanded_absences(facts.away))
    candidates: list[Candidate] = []
    held: dict[str, str] = {}
    actions: list[Action] = []
    waiting: list[Waiting] = []
    escalated: list[Waiting] = []
    lang = cfg.language
    states: dict[int, sla.WaitingState] = {}
    for item in facts.items:
        ref = f"{full_name}#{item.number}"
        ents = facts.entries.get(item.number, [])
        state = states[item.number] = _state(facts, item, cal)
        if state.gone:  # transferred away, deleted or converted: nothing left to label
            continue
        labels = set(item.labels)
        overdue_label = cfg.labels.overdue
        if state.waiting_on != sla.MAINTAINER:
            if overdue_label in labels:
                actions.append(RemoveLabel(full_name, item.number, overdue_label))
            if state.waiting_on == sla.AUTHOR and cfg.stale.enabled:
                actions += stale_actions(renderer, item, state, cfg, cal, at, facts.done, lang)
            continue
        groups = [
            item.assignees,
            requested_reviewers(ents),
            facts.owners.get(item.number, []),
            cfg.maintainers.users,
            qualified_teams(facts.owner, list(cfg.maintainers.teams)),
        ]
        # The first group with someone not away (bot/sla/availability.py); the waiting list
        # still names who is responsible when everyone is away.
        routed = route(groups, at, book, cal, cfg.calendar)
        responsible = routed or list(responsible_people(*groups))
        history = sla.reminder_history(ref, state, facts.done)
        entry = Waiting(
            full_name,
            item.number,
            item.title,
            item.author_login,
            item.author_class or "external",
            round(state.business_days_waiting, 1),
            responsible,
            state.overdue,
            history.escalated_at is not None,
            facts.links.item(full_name, item.kind, item.number) if facts.links else None,
        )
        waiting.append(entry)
        if state.overdue and overdue_label not in labels:
            actions.append(EnsureLabel(full_name, overdue_label, *LABEL_STYLE["overdue"]))
            actions.append(AddLabels(full_name, item.number, (overdue_label,)))
        elif not state.overdue and overdue_label in labels:
            actions.append(RemoveLabel(full_name, item.number, overdue_label))
        escalate_to = [cfg.ospo.team] if cfg.ospo.team else []
        # Grace rule: the backlog found at installation (imported history) is listed,
        # never reminded, so installing Veilleur does not ping everyone at once. An item
        # Veilleur saw opened live is not backlog, however late its repository was learned.
        backlog = (
            facts.added_at is not None
            and item.created_at < facts.added_at
            and not seen_opened_live(ents)
        )
        if entry.escalated:
            escalated.append(entry)
        if backlog:
            continue
        planned = plan_item(
            repo=full_name,
            number=item.number,
            author=item.author_login,
            state=state,
            entries=ents,
            waiting=entry,
            responsible=routed,
            escalate_to=escalate_to,
            history=history,
            cfg=cfg,
            calendar=cal,
            book=book,
            bots=facts.bots,
            mentions_today=mentions,
            now=at,
            everyone_away=not routed and bool(responsible),
        )
        if planned.candidate is not None:
            candidates.append(planned.candidate)
            for person in planned.candidate.step.mention:  # the daily cap, within the sweep
                mentions[person] = mentions.get(person, 0) + 1
        elif planned.held:
            held[ref] = planned.held
    waiting.sort(key=lambda w: -w.business_days)
    if facts.waiting_list:
        actions.append(waiting_list(renderer, full_name, lang, day, waiting))
    since = at - timedelta(days=budget.SHARE_WINDOW_DAYS)
    comments = facts.comments or budget.comment_counts(
        (e for ents in facts.entries.values() for e in ents), facts.bots, since, at
    )
    reminders = RepoState(full_name, cfg, day, waiting, candidates, comments)
    items = {i.number: i for i in facts.items}
    return RepoPlan(actions, waiting, escalated, day, reminders, items, held, states)


def waiting_list(
    renderer: Renderer, full_name: str, lang: str, day: str, waiting: list[Waiting]
) -> UpsertIssue:
    """The repository's waiting-list issue, opened only when something waits."""
    body = renderer.render(
        T.WAITING_LIST,
        lang,
        scope=full_name,
        generated_at=day,
        items=[vars(w) | {"business_days": int(w.business_days)} for w in waiting],
    )
    return UpsertIssue(
        repo=full_name,
        marker=marker("waiting-list", full_name),
        title=body.title or "Contributions waiting for an answer",
        body=body.tagged,
        create_if_missing=bool(waiting),
    )


def step_actions(
    renderer: Renderer,
    step: sla.ReminderStep,
    item: Item,
    cfg: Any,
    lang: str,
    history: sla.ReminderHistory,
    responsible: list[str],
    url: str | None = None,
) -> list[Action]:
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
            "url": url,
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
    # The OSPO is told by mail (and in its waiting-list issue, `ospo.repository`), never in a
    # comment on the contributor's item: the escalation is recorded, not posted there.
    told = {"by_class": "bot", "to": list(cfg.ospo.emails), "escalated": True}
    out: list[Action] = [
        RecordState(kind=ESCALATED, repo=item.repo_full_name, number=item.number, data=told,
                    once=step.key)
    ]  # fmt: skip
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
    renderer: Renderer,
    item: Item,
    state: sla.WaitingState,
    cfg: Any,
    cal: BusinessCalendar,
    at: datetime,
    done: dict[str, datetime],
    lang: str,
) -> list[Action]:
    """Optional: one friendly nudge, then close only if the author stays silent.

    Only items waiting on their author qualify (a maintainer asked something), so an
    outside contribution nobody answered is never closed.
    """
    if state.since is None or not cal.is_working_time(at):
        return []
    ref = f"{item.repo_full_name}#{item.number}"
    base = f"stale:{ref}:{state.since.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    idle = cal.business_days_between(state.since, at)
    stale = cfg.stale
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


def requested_reviewers(entries: list[TimelineEntry]) -> list[str]:
    return list(
        dict.fromkeys(
            str(e.detail.get("reviewer"))
            for e in entries
            if e.kind == TimelineKind.REVIEW_REQUESTED and e.detail.get("reviewer")
        )
    )


def seen_opened_live(entries: list[TimelineEntry]) -> bool:
    """Whether Veilleur recorded the item's opening from a webhook (not a history import)."""
    return any(e.kind == TimelineKind.OPENED and (e.detail or {}).get("live") for e in entries)
