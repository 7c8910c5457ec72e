"""The SLA sweep: remind, label overdue, escalate, and keep the waiting lists current.

It reads Veilleur's record (items and timeline), never GitHub, to decide; GitHub is only
called to act, and for config and CODEOWNERS. Each reminder and escalation is keyed by
(item, wait, stage) in `action_log`, so a repeated, crashed or concurrent sweep never
reminds twice. `at` is the evaluation instant (`veilleur remind --at`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot import attention_budget as budget
from bot import outbox, sla
from bot.actions import (
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
from bot.availability import AWAY_KIND, PeopleBook, commanded_absences, route
from bot.calendar import BusinessCalendar
from bot.codeowners import CODEOWNERS_PATHS, parse_codeowners, responsible_people
from bot.daily import DailyNotice, note_key, scopes_of_day
from bot.effects import Executor
from bot.people import OUTSIDE_CLASSES
from bot.reminder_plan import Candidate, RepoState, plan_item, plan_org
from bot.storage.models import ActionLog, Item, Repository, TimelineEntry, TimelineKind
from bot.templating import Renderer, T
from handlers.triage import LABEL_STYLE

log = logging.getLogger(__name__)


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


@dataclass
class _RepoRun:
    """One repository's planned reminders, and what it takes to send them."""

    state: RepoState
    api: Any
    renderer: Renderer
    items: dict[int, Item]


@dataclass
class SweepResult:
    actions: list[str] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)


def _open_outside_items(s: Session, repo: str) -> list[Item]:
    q = select(Item).where(
        col(Item.repo_full_name) == repo,
        col(Item.state) == "open",
        col(Item.author_class).in_(OUTSIDE_CLASSES),
    )
    return list(s.scalars(q))


def _entries(s: Session, repo: str) -> dict[int, list[TimelineEntry]]:
    q = (
        select(TimelineEntry)
        .where(col(TimelineEntry.repo_full_name) == repo)
        .order_by(col(TimelineEntry.occurred_at))
    )
    out: dict[int, list[TimelineEntry]] = defaultdict(list)
    for e in s.scalars(q):
        out[e.number].append(e)
    return out


def _done_keys(s: Session, prefix: str) -> dict[str, datetime]:
    q = select(col(ActionLog.key), col(ActionLog.done_at)).where(
        col(ActionLog.key).startswith(prefix), col(ActionLog.dry_run).is_(False)
    )
    return {k: at for k, at in s.execute(q)}


def _away_entries(s: Session, owner: str) -> list[TimelineEntry]:
    """`/away` commands run anywhere in the organisation, oldest first."""
    q = (
        select(TimelineEntry)
        .where(
            col(TimelineEntry.kind) == AWAY_KIND,
            col(TimelineEntry.repo_full_name).startswith(f"{owner}/"),
        )
        .order_by(col(TimelineEntry.occurred_at))
    )
    return list(s.scalars(q))


def mentions_in_week(s: Session, day: date) -> dict[str, int]:
    """Veilleur's mentions of each person over the 7 days ending on `day`."""
    counts: dict[str, int] = defaultdict(int)
    for back in range(7):
        for login, n in mentions_on(s, (day - timedelta(days=back)).isoformat()).items():
            counts[login.lower()] += n
    return counts


def mentions_on(s: Session, day: str) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    q = select(col(ActionLog.key)).where(col(ActionLog.key).startswith(f"mention:{day}:"))
    for key in s.scalars(q):
        counts[key.split(":")[2]] += 1
    return counts


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


class Sweeper:
    def __init__(
        self,
        *,
        engine: Engine,
        services: dict[str, Any],
        api_for: Callable[[int | None], Any],
        bot_login: str | None,
        mailer: Any = None,
        dry_run: bool = False,
    ) -> None:
        self.engine = engine
        self.services = services
        self.api_for = api_for
        self.bot_login = bot_login
        self.mailer = mailer
        self.dry_run = dry_run
        self.renderer: Renderer = services["renderer"]

    def repositories(self, org: str | None) -> list[Repository]:
        with Session(self.engine) as s:
            q = select(Repository).where(col(Repository.removed_at).is_(None))
            if org:
                q = q.where(col(Repository.owner) == org)
            return list(s.scalars(q.order_by(col(Repository.full_name))))

    async def run(self, at: datetime, org: str | None = None) -> SweepResult:
        result = SweepResult()
        if self.mailer is not None and not self.dry_run:  # mail refused earlier, sent now
            result.actions += await outbox.send_pending(self.engine, self.mailer, at)
        escalated: dict[str, tuple[Any, list[Waiting]]] = {}
        planned: dict[str, list[_RepoRun]] = defaultdict(list)
        for repo in self.repositories(org):
            if repo.full_name.split("/")[1] == ".github":
                continue
            api = self.api_for(repo.installation_id)
            if api is None:
                continue
            try:
                run = await self._repo(api, repo, at, result)
            except Exception:
                log.exception("sweep of %s failed; the next sweep retries", repo.full_name)
                continue
            if run is not None:
                planned[repo.owner].append(run)
        for owner, runs in planned.items():
            try:
                await self._reminders(owner, runs, at, result, escalated)
            except Exception:
                log.exception("reminders of %s failed; the next sweep retries", owner)
        for owner, (cfg, items) in escalated.items():
            await self._org_issue(owner, cfg, items, at, result)
        return result

    def _executor(self, api: Any, clock_at: datetime, dry_run: bool) -> Executor:
        class _At:
            def now(self) -> datetime:
                return clock_at

        return Executor(
            engine=self.engine,
            clock=_At(),
            api=api,
            bot_login=self.bot_login,
            mailer=self.mailer,
            dry_run=self.dry_run or dry_run,
            delivery=f"sweep:{clock_at.isoformat()}",
        )

    async def _repo(
        self,
        api: Any,
        repo: Repository,
        at: datetime,
        result: SweepResult,
    ) -> _RepoRun | None:
        """Labels, stale nudges and the waiting list now; the reminders due are returned
        (already screened item by item) for `_reminders` to cap and send."""
        branch = (
            repo.default_branch
            or self.services["branches"].get(repo.full_name)
            or (await api.get_repo(repo.full_name)).get("default_branch", "main")
        )
        cfg = (await self.services["config"].for_repo(api, repo.full_name, branch)).config
        self.renderer = await self.services["overrides"].renderer_for(api, repo.full_name)
        if not cfg.sla.enabled:
            return None
        cal = BusinessCalendar.from_config(cfg.calendar)
        bots = [b for b in (self.bot_login, *cfg.bots.logins) if b]
        with Session(self.engine) as s:
            items = _open_outside_items(s, repo.full_name)
            entries = _entries(s, repo.full_name)
            done = _done_keys(s, f"sla:{repo.full_name}#")
            done.update(_done_keys(s, f"stale:{repo.full_name}#"))
            day = at.astimezone(cal.tz).date().isoformat()
            mentions = mentions_on(s, day)
            book = PeopleBook(cfg.people, commanded_absences(_away_entries(s, repo.owner)))
        since = at - timedelta(days=budget.SHARE_WINDOW_DAYS)
        comments = budget.comment_counts(
            (e for ents in entries.values() for e in ents), bots, since, at
        )
        candidates: list[Candidate] = []
        actions: list[Action] = []
        waiting: list[Waiting] = []
        codeowners: Any = None
        lang = cfg.language
        for item in items:
            ref = f"{repo.full_name}#{item.number}"
            ents = entries.get(item.number, [])
            state = sla.waiting_state(
                item, ents, at, cal, bots, sla=cfg.sla, author_label=cfg.labels.awaiting_author
            )
            if state.gone:  # transferred away, deleted or converted: nothing left to label
                continue
            labels = set(item.labels)
            overdue_label = cfg.labels.overdue
            if state.waiting_on != sla.MAINTAINER:
                if overdue_label in labels:
                    actions.append(RemoveLabel(repo.full_name, item.number, overdue_label))
                if state.waiting_on == sla.AUTHOR and cfg.stale.enabled:
                    actions += self._stale_actions(item, state, cfg, cal, at, done, lang)
                continue
            owners: list[str] = []
            if state.overdue and not item.assignees and item.kind == "pull":
                if codeowners is None:
                    codeowners = await self._codeowners(api, repo.full_name)
                if codeowners is not None:
                    files = [
                        f["filename"]
                        for f in await api.list_pull_files(repo.full_name, item.number)
                    ]
                    owners = list(codeowners.owners_for(files))
            groups = [
                item.assignees,
                requested_reviewers(ents),
                owners,
                cfg.maintainers.users,
                cfg.maintainers.teams,
            ]
            # The first group with someone not away (bot/availability.py); the waiting list
            # still names who is responsible when everyone is away.
            routed = route(groups, at, book, cal, cfg.calendar)
            responsible = routed or list(responsible_people(*groups))
            history = sla.reminder_history(ref, state, done)
            entry = Waiting(
                repo.full_name,
                item.number,
                item.title,
                item.author_login,
                item.author_class or "external",
                round(state.business_days_waiting, 1),
                responsible,
                state.overdue,
                history.escalated_at is not None,
            )
            waiting.append(entry)
            if state.overdue and overdue_label not in labels:
                actions.append(EnsureLabel(repo.full_name, overdue_label, *LABEL_STYLE["overdue"]))
                actions.append(AddLabels(repo.full_name, item.number, (overdue_label,)))
            elif not state.overdue and overdue_label in labels:
                actions.append(RemoveLabel(repo.full_name, item.number, overdue_label))
            escalate_to = [cfg.ospo.team] if cfg.ospo.team else []
            # Grace rule: the backlog found at installation (imported history) is listed,
            # never reminded, so installing Veilleur does not ping everyone at once. An item
            # Veilleur saw opened live is not backlog, however late its repository was learned.
            backlog = (
                repo.added_at is not None
                and item.created_at < repo.added_at
                and not seen_opened_live(ents)
            )
            if backlog:
                continue
            planned = plan_item(
                repo=repo.full_name,
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
                bots=bots,
                mentions_today=mentions,
                now=at,
                everyone_away=not routed and bool(responsible),
            )
            if planned.candidate is not None:
                candidates.append(planned.candidate)
                for person in planned.candidate.step.mention:  # the daily cap, within the sweep
                    mentions[person] = mentions.get(person, 0) + 1
            elif planned.held:
                log.info("%s: reminder held (%s)", ref, planned.held)
        waiting.sort(key=lambda w: -w.business_days)
        body = self.renderer.render(
            T.WAITING_LIST,
            lang,
            scope=repo.full_name,
            generated_at=day,
            items=[vars(w) | {"business_days": int(w.business_days)} for w in waiting],
        )
        actions.append(
            UpsertIssue(
                repo=repo.full_name,
                marker=marker("waiting-list", repo.full_name),
                title=body.title or "Contributions waiting for an answer",
                body=body.tagged,
                create_if_missing=bool(waiting),
            )
        )
        executor = self._executor(api, at, cfg.dry_run)
        result.actions += await executor.apply(actions)
        result.waiting += waiting
        items_by_number = {i.number: i for i in items}
        return _RepoRun(
            RepoState(repo.full_name, cfg, day, waiting, candidates, comments),
            api,
            self.renderer,
            items_by_number,
        )

    async def _reminders(
        self,
        owner: str,
        runs: list[_RepoRun],
        at: datetime,
        result: SweepResult,
        escalated: dict[str, Any],
    ) -> None:
        """Cap, budget and send the reminders of one organisation (bot/reminder_plan.py)."""
        ospo_repo = runs[0].state.cfg.ospo.repository
        day = runs[0].state.day
        with Session(self.engine) as s:
            week = mentions_in_week(s, date.fromisoformat(day))
            keys = s.scalars(select(col(ActionLog.key)).where(
                col(ActionLog.key).startswith(f"mention:{day}:")))  # fmt: skip
            scopes = scopes_of_day(keys, day)
        plan = plan_org(
            owner, [r.state for r in runs], week, org_issue=bool(ospo_repo), scopes_today=scopes
        )
        by_repo = {r.state.repo: r for r in runs}
        for c in plan.carried:
            log.info("%s: over the sweep's cap, carried to the next sweep", c.ref)
        daily = {c.ref for c in plan.daily_steps}
        for c in [*plan.item_steps, *plan.daily_steps]:
            run = by_repo[c.repo]
            cfg, item = run.state.cfg, run.items[c.number]
            self.renderer = run.renderer
            if c.ref in daily:
                actions = self._daily_step_actions(c, item, cfg)
            else:
                actions = self._step_actions(c.step, item, cfg, cfg.language, c.history,
                                             c.waiting.responsible)  # fmt: skip
            if c.step.stage == "escalation":
                c.waiting.escalated = True
                escalated.setdefault(owner, (cfg, []))[1].append(c.waiting)
            done = await self._executor(run.api, at, cfg.dry_run).apply(actions)
            result.actions += done
            if done and not (self.dry_run or cfg.dry_run) and c.ref not in daily:
                self._remember(c.step.mention, run.state.day, c.step.key)
        for notice in plan.notices:
            await self._daily_notice(owner, notice, by_repo, ospo_repo, at, result)
        if not self.dry_run:
            self._record_decisions(plan.decisions, at)

    def _daily_step_actions(self, c: Candidate, item: Item, cfg: Any) -> list[Action]:
        """Daily mode: the reminder is counted (its key kept, so spacing and the maximum hold),
        and the contributor's item gets one note the first time its maintainers are asked."""
        out: list[Action] = [
            RecordState(
                kind="reminded",
                repo=c.repo,
                number=c.number,
                data={"by": self.bot_login or "veilleur", "by_class": "bot",
                      "to": list(c.step.mention), "daily": True},
                once=c.step.key,
            )
        ]  # fmt: skip
        text = self.renderer.render(
            T.DAILY_NOTE, cfg.language, author=item.author_login, people=list(c.step.mention)
        ).tagged
        key = note_key(c.ref)
        out.append(UpsertComment(c.repo, c.number, marker("daily-note", c.ref), text, once=key))
        return out

    async def _daily_notice(
        self,
        owner: str,
        notice: DailyNotice,
        by_repo: dict[str, _RepoRun],
        ospo_repo: str | None,
        at: datetime,
        result: SweepResult,
    ) -> None:
        """One comment a day per person, in the waiting-list issue, edited through the day."""
        org_wide = notice.scope == owner
        run = by_repo[notice.items[0].repo]
        cfg = run.state.cfg
        target = ospo_repo if org_wide and ospo_repo else notice.scope
        issue_marker = marker("waiting-list", notice.scope)
        api = run.api
        if target not in by_repo:
            with Session(self.engine) as s:
                row = s.scalars(select(Repository).where(col(Repository.full_name) == target))
                found = row.first()
            api = self.api_for(found.installation_id if found else None)
            if api is None:
                return
        lang = cfg.language
        self.renderer = run.renderer
        executor = self._executor(api, at, cfg.dry_run)
        if org_wide:
            items = sorted({(w.repo, w.number): w for w in notice.items}.values(),
                           key=lambda w: -w.business_days)  # fmt: skip
            body = self.renderer.render(
                T.WAITING_LIST, lang, scope=owner, generated_at=notice.day,
                items=[vars(w) | {"business_days": int(w.business_days)} for w in items],
            )  # fmt: skip
            result.actions += await executor.apply([
                UpsertIssue(repo=target, marker=issue_marker,
                            title=body.title or "Contributions waiting for an answer",
                            body=body.tagged)
            ])  # fmt: skip
        number = self._issue_number(target, issue_marker)
        if number is None and (self.dry_run or cfg.dry_run):
            number = 0  # a dry run shows the list it would post (the issue is not opened)
        if number is None:
            return  # the issue could not be opened: the next sweep tries again
        text = self.renderer.render(
            T.DAILY_REMINDER,
            lang,
            person=notice.login,
            day=notice.day,
            items=[vars(w) | {"business_days": int(w.business_days)} for w in notice.items],
        ).tagged
        done = await executor.apply(
            [UpsertComment(target, number, marker("daily", notice.key), text)]
        )
        result.actions += done
        if done and not (self.dry_run or cfg.dry_run):
            self._remember((notice.login,), notice.day, notice.key)

    def _issue_number(self, repo: str, issue_marker: str) -> int | None:
        """The number of the issue an `UpsertIssue` wrote (bot/effects.py keeps it)."""
        with Session(self.engine) as s:
            row = s.get(ActionLog, f"issue:{repo}:{issue_marker}")
        number = (row.detail or "").partition(" ")[0] if row is not None else ""
        return int(number) if number.isdigit() else None

    def _remember(self, people: Any, day: str, tag: str) -> None:
        """Count mentions (daily cap, weekly budget): one `mention:` key per person and tag."""
        with Session(self.engine) as s:
            for login in people:
                key = f"mention:{day}:{login}:{tag}"[:300]
                if s.get(ActionLog, key) is None:
                    s.add(ActionLog(key=key, done_at=datetime.now(UTC)))
            s.commit()

    def _record_decisions(self, decisions: list[budget.BudgetDecision], at: datetime) -> None:
        """Keep each attention-budget decision for the digest (`attention:` keys)."""
        with Session(self.engine) as s:
            for d in decisions:
                key = budget.decision_key(d)
                row = s.get(ActionLog, key) or ActionLog(key=key, done_at=at)
                row.detail = budget.encode(d)
                s.add(row)
            s.commit()

    def _step_actions(
        self,
        step: sla.ReminderStep,
        item: Item,
        cfg: Any,
        lang: str,
        history: sla.ReminderHistory,
        responsible: list[str],
    ) -> list[Action]:
        ref = f"{item.repo_full_name}#{item.number}"
        people = [f"@{p}" for p in step.mention]
        if step.stage == "reminder":
            due = (
                cfg.sla.follow_up_days
                if step.phase == sla.FOLLOW_UP
                else cfg.sla.first_response_days
            )
            text = self.renderer.render(
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
        note = self.renderer.render(T.ESCALATION_ISSUE, lang, **data)
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
            mail = self.renderer.render(T.ESCALATION_EMAIL, lang, **data)
            out.append(
                SendEmail(
                    to=tuple(cfg.ospo.emails),
                    subject=mail.title or f"Escalation: {ref}",
                    text=mail.plain,
                    once=f"{step.key}:email",
                )
            )
        return out

    def _stale_actions(
        self,
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
            text = self.renderer.render(T.STALE_CLOSE, lang, author=item.author_login).tagged
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
            text = self.renderer.render(
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

    async def _codeowners(self, api: Any, repo: str) -> Any:
        for path in CODEOWNERS_PATHS:
            text = await api.get_file(repo, path)
            if text is not None:
                return parse_codeowners(text)
        return None

    async def _org_issue(
        self, owner: str, cfg: Any, items: list[Waiting], at: datetime, result: SweepResult
    ) -> None:
        target = cfg.ospo.repository
        if not target:
            return
        with Session(self.engine) as s:
            repo = s.scalars(select(Repository).where(col(Repository.full_name) == target)).first()
        api = self.api_for(repo.installation_id if repo else None)
        if api is None:
            log.warning("ospo.repository %s is not installed; escalations only by mail", target)
            return
        items.sort(key=lambda w: -w.business_days)
        body = self.renderer.render(
            T.WAITING_LIST,
            cfg.language,
            scope=owner,
            generated_at=at.date().isoformat(),
            items=[vars(w) | {"business_days": int(w.business_days)} for w in items],
            ospo_team=cfg.ospo.team or None,
        )
        action = UpsertIssue(
            repo=target,
            marker=marker("ospo-waiting", owner),
            title=body.title or "Contributions waiting for an answer",
            body=body.tagged,
        )
        result.actions += await self._executor(api, at, cfg.dry_run).apply([action])
