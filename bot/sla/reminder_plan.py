"""Which reminders a sweep sends, and how (pure: state + configuration + instant -> plan).

The sweep (bot/sla/sweep.py) reads the record, calls `plan_item` for each overdue item and
`plan_org` for each organisation, then carries out the plan; the replay drives the same two
functions over recorded history. Rules: bot/sla/nag.py (no nagging, per-sweep caps),
bot/sla/availability.py (time zones, absences), bot/sla/attention_budget.py (budgets),
bot/sla/daily.py (daily mode).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.sla import attention_budget as budget
from bot.sla import nag
from bot.sla import rules as sla
from bot.sla.availability import PeopleBook, in_working_hours
from bot.sla.calendar import BusinessCalendar
from bot.sla.daily import DailyNotice, plan_daily


@dataclass(frozen=True)
class Candidate:
    """A reminder or escalation that passed the item's rules, before the sweep's caps."""

    repo: str
    number: int
    author: str
    step: sla.ReminderStep
    waiting: Any  # bot.sla.plan.Waiting: the item's line in the waiting lists
    history: sla.ReminderHistory = sla.ReminderHistory()

    @property
    def ref(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass(frozen=True)
class ItemPlan:
    candidate: Candidate | None
    held: str | None = None  # why a due reminder is not sent (bot/sla/nag.py's reasons)


def plan_item(
    *,
    repo: str,
    number: int,
    author: str,
    state: sla.WaitingState,
    entries: Sequence[sla.EntryLike],
    waiting: Any,
    responsible: Sequence[str],
    escalate_to: Sequence[str],
    history: sla.ReminderHistory,
    cfg: Any,
    calendar: BusinessCalendar,
    book: PeopleBook,
    bots: Sequence[str],
    mentions_today: Mapping[str, int],
    now: datetime,
    everyone_away: bool = False,
) -> ItemPlan:
    """Plan the SLA step for the `responsible` people (already routed past absences by
    `availability.route`), then hold or narrow it by the no-nag rules and working hours.
    `everyone_away`: there are responsible people, all away: reminders wait for them."""
    ref = f"{repo}#{number}"
    steps = sla.plan_reminders(
        state, ref, cfg.sla, history, now, calendar, responsible, mentions_today, escalate_to,
        check_hours=False,
    )  # fmt: skip
    if not steps:
        return ItemPlan(None)
    if everyone_away and steps[0].stage == "reminder":
        return ItemPlan(None, nag.NOBODY)
    screened = nag.screen(
        steps[0],
        entries=entries,
        author=author,
        bots=bots,
        history=history,
        now=now,
        calendar=calendar,
        remind_every_days=float(cfg.sla.remind_every_days),
        in_hours=lambda p: in_working_hours(p, now, book, calendar, cfg.calendar),
        max_unanswered=int(sla.sla_setting(cfg, "max_unanswered_reminders")),
    )
    if screened.step is None:
        return ItemPlan(None, screened.held)
    return ItemPlan(Candidate(repo, number, author, screened.step, waiting, history))


@dataclass(frozen=True)
class RepoState:
    """What `plan_org` needs of one repository."""

    repo: str
    cfg: Any
    day: str
    waiting: Sequence[Any]
    candidates: Sequence[Candidate]
    comments: budget.CommentCounts


@dataclass
class OrgPlan:
    item_steps: list[Candidate] = field(default_factory=list)  # a comment on the item each
    daily_steps: list[Candidate] = field(default_factory=list)  # recorded; listed in notices
    notices: list[DailyNotice] = field(default_factory=list)
    decisions: list[budget.BudgetDecision] = field(default_factory=list)
    carried: list[Candidate] = field(default_factory=list)  # over a cap: next sweep
    modes: dict[str, str] = field(default_factory=dict)  # repository -> item | daily


def listed_key(step_key: str, login: str) -> str:
    """`daily-listed` row: the wait of `step_key` was listed to `login` in a daily list."""
    wait = step_key.rsplit(":reminder:", 1)[0]
    return f"daily-listed:{wait}:{login.lstrip('@').lower()}"[:300]


def daily_cost(reminders: Sequence[Candidate]) -> int:
    """Comments daily mode would write for `reminders`: one list per person, and the note on
    each item reminded for the first time."""
    people = {p.lower() for c in reminders for p in c.step.mention}
    return len(people) + sum(1 for c in reminders if not c.history.sent_at)


def plan_org(
    owner: str,
    states: Sequence[RepoState],
    week_mentions: Mapping[str, int],
    *,
    org_issue: bool,
    scopes_today: Mapping[str, str] | None = None,
    listed: Collection[str] = frozenset(),
) -> OrgPlan:
    """Cap the organisation's candidates (longest waits first), choose each repository's mode
    (configured, or daily when the bot-comment budget would be passed), keep people within
    their weekly mention budget, and group daily reminders into one notice per person (kept
    where it already is today: `scopes_today`)."""
    plan = OrgPlan()
    if not states:
        return plan
    by_repo = {s.repo: s for s in states}
    sent, plan.carried = nag.cap(
        [c for s in states for c in s.candidates],
        repo_of=lambda c: c.repo,
        wait_of=lambda c: c.step.business_days_waiting,
        ref_of=lambda c: c.ref,
        per_repo={s.repo: int(s.cfg.sla.max_reminders_per_sweep_per_repo) for s in states},
        per_org=min(int(s.cfg.sla.max_reminders_per_sweep_per_org) for s in states),
    )
    for s in states:
        mine = [c for c in sent if c.repo == s.repo and c.step.stage == "reminder"]
        mode, decision = budget.repo_mode(
            str(s.cfg.sla.reminders), s.comments, len(mine), s.cfg.attention, s.repo, s.day,
            daily_comments=daily_cost(mine),
        )  # fmt: skip
        plan.modes[s.repo] = mode
        if decision is not None:
            plan.decisions.append(decision)
    week = {k.lower(): v for k, v in week_mentions.items()}
    daily_people: dict[str, None] = {}
    for c in sent:
        s = by_repo[c.repo]
        daily = plan.modes[c.repo] == "daily" and c.step.stage == "reminder"
        if daily:
            plan.daily_steps.append(c)
            daily_people.update(dict.fromkeys(p.lower() for p in c.step.mention))
            continue
        if c.step.stage == "escalation":  # told by mail (bot/sla/plan.py): nobody mentioned
            plan.item_steps.append(c)
            continue
        step, decisions = budget.within_mentions(c.step, week, s.cfg.attention, c.repo, s.day)
        plan.decisions += decisions
        if step is None:
            continue
        for p in step.mention:
            week[p.lower()] = week.get(p.lower(), 0) + 1
        plan.item_steps.append(replace(c, step=step))
    if plan.daily_steps:
        # a list only for someone with something new due: an item (and wait) not yet listed
        # to them; a step of an item listed before is recorded (spacing, maximum), not listed
        fresh = {
            p.lower()
            for c in plan.daily_steps
            for p in c.step.mention
            if listed_key(c.step.key, p) not in listed
        }
        quiet = set(daily_people) - fresh
        daily_people = {p: None for p in daily_people if p in fresh}
        waiting = [w for s in states if plan.modes[s.repo] == "daily" for w in s.waiting]
        day = states[0].day
        limit = min(int(s.cfg.attention.max_mentions_per_person_per_week) for s in states)
        notices = plan_daily(
            daily_people, waiting, owner, day, org_issue=org_issue, scopes_today=scopes_today
        )
        for notice in notices:
            used = week.get(notice.login, 0)
            if used + 1 > limit:
                plan.decisions.append(
                    budget.BudgetDecision(
                        notice.scope,
                        day,
                        budget.MENTIONS,
                        budget.HELD,
                        used + 1,
                        limit,
                        "",
                        notice.login,
                    )  # fmt: skip
                )
                continue
            week[notice.login] = used + 1
            plan.notices.append(notice)
        # a reminder nobody was told of is not counted, unless they had it listed before
        told = {n.login for n in plan.notices} | quiet
        plan.daily_steps = [
            c for c in plan.daily_steps if any(p.lower() in told for p in c.step.mention)
        ]
    return plan
