"""The pure half of an organisation's reminders: its repositories' plans in, what to send out.

Each repository's plan (bot/sla/plan.py) holds the reminders due on its items; here the
organisation's caps, attention budget and daily mode decide which go out and how
(bot/sla/reminder_plan.py's `plan_org`), and each is turned into actions. `Sweeper`
(bot/sla/sweep.py) only carries them out and counts the mentions made.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.effects.actions import Action, RecordState, UpsertComment, UpsertIssue, marker
from bot.messages.templating import Renderer, T
from bot.sla import attention_budget as budget
from bot.sla.daily import DailyNotice, note_key
from bot.sla.plan import RepoPlan, Waiting, step_actions
from bot.sla.reminder_plan import Candidate, listed_key, plan_org

WAITING_TITLE = "Contributions waiting for an answer"


@dataclass
class Send:
    """Actions carried out with `repo`'s API; once they are, `mention` counts against each
    person's daily cap and weekly budget under `tag`."""

    repo: str
    actions: list[Action]
    dry_run: bool
    mention: tuple[str, ...] = ()
    day: str = ""
    tag: str = ""


@dataclass
class DailyPost:
    """One person's list of the day: a comment in the waiting-list issue `issue_marker` of
    `target`, kept at `marker("daily", key)` and edited through the day. `issue`: the
    organisation's list, written first when the person's items span several repositories."""

    repo: str  # the repository whose plan it came from (API, configuration)
    target: str
    issue_marker: str
    issue: UpsertIssue | None
    text: str
    key: str
    login: str
    day: str
    dry_run: bool
    listed: tuple[str, ...] = ()  # `daily-listed` rows to keep once posted


@dataclass
class OrgReminders:
    sends: list[Send] = field(default_factory=list)
    posts: list[DailyPost] = field(default_factory=list)
    escalated: list[Waiting] = field(default_factory=list)  # escalated by this sweep
    decisions: list[budget.BudgetDecision] = field(default_factory=list)
    carried: list[str] = field(default_factory=list)  # over a cap: the next sweep's


def plan_org_reminders(
    owner: str,
    plans: Sequence[tuple[RepoPlan, Renderer]],
    week_mentions: Mapping[str, int],
    scopes_today: Mapping[str, str],
    bot_login: str | None,
    listed: Collection[str] = frozenset(),
) -> OrgReminders:
    """Cap, budget and word the reminders of one organisation's repositories."""
    out = OrgReminders()
    if not plans:
        return out
    by_repo = {p.reminders.repo: (p, r) for p, r in plans}
    first_cfg = plans[0][0].reminders.cfg
    ospo_repo = first_cfg.ospo.repository
    plan = plan_org(
        owner,
        [p.reminders for p, _ in plans],
        week_mentions,
        org_issue=bool(ospo_repo),
        scopes_today=scopes_today,
        listed=listed,
    )
    out.decisions = plan.decisions
    out.carried = [c.ref for c in plan.carried]
    daily = {c.ref for c in plan.daily_steps}
    for c in [*plan.item_steps, *plan.daily_steps]:
        repo_plan, renderer = by_repo[c.repo]
        cfg, item = repo_plan.reminders.cfg, repo_plan.items[c.number]
        if c.ref in daily:
            actions = daily_step_actions(renderer, c, item.author_login, cfg, bot_login)
            mention: tuple[str, ...] = ()  # counted once, by the person's list of the day
        else:
            actions = step_actions(
                renderer,
                c.step,
                item,
                cfg,
                cfg.language,
                c.history,
                c.waiting.responsible,
                url=c.waiting.url,
            )
            # an escalation is a mail: it mentions nobody on the forge
            mention = () if c.step.stage == "escalation" else tuple(c.step.mention)
        if c.step.stage == "escalation":
            c.waiting.escalated = True
            out.escalated.append(c.waiting)
        out.sends.append(
            Send(c.repo, actions, cfg.dry_run, mention, repo_plan.reminders.day, c.step.key)
        )
    for notice in plan.notices:
        repo_plan, renderer = by_repo[notice.items[0].repo]
        post = daily_post(owner, notice, repo_plan, renderer, ospo_repo)
        post.listed = tuple(
            listed_key(c.step.key, notice.login)
            for c in plan.daily_steps
            if notice.login in {p.lower() for p in c.step.mention}
        )
        out.posts.append(post)
    return out


def daily_step_actions(
    renderer: Renderer, c: Candidate, author: str, cfg: Any, bot_login: str | None
) -> list[Action]:
    """Daily mode: the reminder is counted (its key kept, so spacing and the maximum hold),
    and the contributor's item gets one note the first time its maintainers are asked."""
    data = {
        "by": bot_login or "veilleur",
        "by_class": "bot",
        "to": list(c.step.mention),
        "daily": True,
    }
    text = renderer.render(
        T.DAILY_NOTE, cfg.language, author=author, people=list(c.step.mention)
    ).tagged
    return [
        RecordState(kind="reminded", repo=c.repo, number=c.number, data=data, once=c.step.key),
        UpsertComment(c.repo, c.number, marker("daily-note", c.ref), text, once=note_key(c.ref)),
    ]


def _lines(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [vars(w) | {"business_days": int(w.business_days)} for w in items]


def daily_post(
    owner: str,
    notice: DailyNotice,
    repo_plan: RepoPlan,
    renderer: Renderer,
    ospo_repo: str | None,
) -> DailyPost:
    """Where one person's list of the day goes (their repository's waiting-list issue, or the
    organisation's), and its text."""
    cfg = repo_plan.reminders.cfg
    lang = cfg.language
    org_wide = notice.scope == owner
    target = ospo_repo if org_wide and ospo_repo else notice.scope
    issue: UpsertIssue | None = None
    if org_wide:
        items = sorted(
            {(w.repo, w.number): w for w in notice.items}.values(),
            key=lambda w: -w.business_days,
        )
        body = renderer.render(
            T.WAITING_LIST, lang, scope=owner, generated_at=notice.day, items=_lines(items)
        )
        issue = UpsertIssue(
            repo=target,
            marker=marker("waiting-list", notice.scope),
            title=body.title or WAITING_TITLE,
            body=body.tagged,
        )
    text = renderer.render(
        T.DAILY_REMINDER, lang, person=notice.login, day=notice.day, items=_lines(notice.items)
    ).tagged
    return DailyPost(
        repo=repo_plan.reminders.repo,
        target=target,
        issue_marker=marker("waiting-list", notice.scope),
        issue=issue,
        text=text,
        key=notice.key,
        login=notice.login,
        day=notice.day,
        dry_run=bool(cfg.dry_run),
    )
