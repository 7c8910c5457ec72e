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
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.clock import FrozenClock
from bot.effects import outbox
from bot.effects.actions import UpsertComment, UpsertIssue, marker
from bot.effects.executor import Executor
from bot.forge.links import WebLinks
from bot.forge.names import is_org_config_repo
from bot.messages.templating import Renderer, T
from bot.record.people import OUTSIDE_CLASSES
from bot.sla import attention_budget as budget
from bot.sla.availability import AWAY_KIND
from bot.sla.calendar import BusinessCalendar
from bot.sla.codeowners import CODEOWNERS_PATHS, parse_codeowners
from bot.sla.daily import scopes_of_day
from bot.sla.org_plan import DailyPost, Send, plan_org_reminders
from bot.sla.plan import RepoFacts, RepoPlan, Waiting, needs_owners, plan_repo
from bot.storage.models import ActionLog, Item, Repository, TimelineEntry

if TYPE_CHECKING:
    from bot.services import Services


log = logging.getLogger(__name__)


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


class Sweeper:
    def __init__(
        self,
        *,
        engine: Engine,
        services: Services,
        api_for: Callable[[int | None], Any],
        bot_login: str | None,
        mailer: Any = None,
        dry_run: bool = False,
        links: WebLinks | None = None,
    ) -> None:
        self.engine = engine
        self.links = links  # escalations link the item on its forge
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
        planned: dict[str, list[tuple[RepoPlan, Renderer, Any]]] = defaultdict(list)
        for repo in self.repositories(org):
            if is_org_config_repo(repo.full_name):
                continue
            api = self.api_for(repo.installation_id)
            forges = self.services.get("forges")
            if api is None and forges is not None:  # a project on another forge (bot/gitlab/)
                api = forges.for_repo(repo.full_name)
            if api is None:
                continue
            try:
                plan = await self._repo(api, repo, at, result)
            except Exception:
                log.exception("sweep of %s failed; the next sweep retries", repo.full_name)
                continue
            if plan is not None:
                planned[repo.owner].append((plan, self.renderer, api))
                if plan.escalated:
                    cfg = plan.reminders.cfg
                    escalated.setdefault(repo.owner, (cfg, []))[1].extend(plan.escalated)
        for owner, runs in planned.items():
            try:
                await self._reminders(owner, runs, at, result, escalated)
            except Exception:
                log.exception("reminders of %s failed; the next sweep retries", owner)
        for owner, (cfg, items) in escalated.items():
            await self._org_issue(owner, cfg, items, at, result)
        return result

    def _executor(self, api: Any, clock_at: datetime, dry_run: bool) -> Executor:
        return Executor(
            engine=self.engine,
            clock=FrozenClock(clock_at),
            api=api,
            bot_login=self.bot_login,
            mailer=self.mailer,
            dry_run=self.dry_run or dry_run,
            delivery=f"sweep:{clock_at.isoformat()}",
        )

    async def _repo(
        self, api: Any, repo: Repository, at: datetime, result: SweepResult
    ) -> RepoPlan | None:
        """Gather one repository's facts, carry out its labels, stale nudges and waiting list;
        its reminders due are returned for `_reminders` to cap and send."""
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
        with Session(self.engine) as s:
            items = _open_outside_items(s, repo.full_name)
            entries = _entries(s, repo.full_name)
            done = _done_keys(s, f"sla:{repo.full_name}#")
            done.update(_done_keys(s, f"stale:{repo.full_name}#"))
            mentions = mentions_on(s, at.astimezone(cal.tz).date().isoformat())
            away = _away_entries(s, repo.owner)
        facts = RepoFacts(
            full_name=repo.full_name,
            owner=repo.owner,
            added_at=repo.added_at,
            config=cfg,
            items=items,
            entries=entries,
            done=done,
            mentions=mentions,
            at=at,
            bots=[b for b in (self.bot_login, *cfg.bots.logins) if b],
            away=away,
            links=self.links,
        )
        pulls = needs_owners(facts)
        codeowners = await self._codeowners(api, repo.full_name) if pulls else None
        if codeowners is not None:
            for number in pulls:
                files = [f["filename"] for f in await api.list_pull_files(repo.full_name, number)]
                facts.owners[number] = list(codeowners.owners_for(files))
        plan = plan_repo(facts, self.renderer)
        for ref, why in plan.held.items():
            log.info("%s: reminder held (%s)", ref, why)
        executor = self._executor(api, at, cfg.dry_run)
        result.actions += await executor.apply(plan.actions)
        result.waiting += plan.waiting
        return plan

    async def _reminders(
        self,
        owner: str,
        runs: list[tuple[RepoPlan, Renderer, Any]],
        at: datetime,
        result: SweepResult,
        escalated: dict[str, Any],
    ) -> None:
        """Send one organisation's reminders as bot/sla/org_plan.py words them."""
        day = runs[0][0].day
        with Session(self.engine) as s:
            week = mentions_in_week(s, date.fromisoformat(day))
            keys = s.scalars(
                select(col(ActionLog.key)).where(col(ActionLog.key).startswith(f"mention:{day}:"))
            )
            scopes = scopes_of_day(keys, day)
            listed = set(_done_keys(s, f"daily-listed:sla:{owner}/"))
        plan = plan_org_reminders(
            owner, [(p, r) for p, r, _ in runs], week, scopes, self.bot_login, listed
        )
        apis = {p.reminders.repo: api for p, _, api in runs}
        for ref in plan.carried:
            log.info("%s: over the sweep's cap, carried to the next sweep", ref)
        for send in plan.sends:
            await self._send(apis[send.repo], send, at, result)
        if plan.escalated:
            cfg = runs[0][0].reminders.cfg
            escalated.setdefault(owner, (cfg, []))[1].extend(plan.escalated)
        for post in plan.posts:
            await self._daily_post(post, apis, at, result)
        if not self.dry_run:
            self._record_decisions(plan.decisions, at)

    async def _send(self, api: Any, send: Send, at: datetime, result: SweepResult) -> None:
        done = await self._executor(api, at, send.dry_run).apply(send.actions)
        result.actions += done
        if done and send.mention and not (self.dry_run or send.dry_run):
            self._remember(send.mention, send.day, send.tag, at)

    async def _daily_post(
        self, post: DailyPost, apis: dict[str, Any], at: datetime, result: SweepResult
    ) -> None:
        """One comment a day per person, in the waiting-list issue, edited through the day."""
        api = apis.get(post.target)
        if api is None:
            with Session(self.engine) as s:
                row = s.scalars(select(Repository).where(col(Repository.full_name) == post.target))
                found = row.first()
            api = self.api_for(found.installation_id if found else None)
            if api is None:
                return
        executor = self._executor(api, at, post.dry_run)
        if post.issue is not None:
            result.actions += await executor.apply([post.issue])
        number = self._issue_number(post.target, post.issue_marker)
        if number is None and (self.dry_run or post.dry_run):
            number = 0  # a dry run shows the list it would post (the issue is not opened)
        if number is None:
            return  # the issue could not be opened: the next sweep tries again
        comment = UpsertComment(post.target, number, marker("daily", post.key), post.text)
        done = await executor.apply([comment])
        result.actions += done
        if done and not (self.dry_run or post.dry_run):
            self._remember((post.login,), post.day, post.key, at)
            self._listed(post.listed, at)

    def _listed(self, keys: tuple[str, ...], at: datetime) -> None:
        """`daily-listed` rows: these waits were listed to the person (no new list for them)."""
        with Session(self.engine) as s:
            for key in keys:
                if s.get(ActionLog, key) is None:
                    s.add(ActionLog(key=key, done_at=at))
            s.commit()

    def _issue_number(self, repo: str, issue_marker: str) -> int | None:
        """The number of the issue an `UpsertIssue` wrote (bot/effects/executor.py keeps it)."""
        with Session(self.engine) as s:
            row = s.get(ActionLog, f"issue:{repo}:{issue_marker}")
        number = (row.detail or "").partition(" ")[0] if row is not None else ""
        return int(number) if number.isdigit() else None

    def _remember(self, people: Any, day: str, tag: str, at: datetime) -> None:
        """Count mentions (daily cap, weekly budget): one `mention:` key per person and tag,
        dated by the sweep's clock (a replay or a test sweeps at a simulated instant)."""
        with Session(self.engine) as s:
            for login in people:
                key = f"mention:{day}:{login}:{tag}"[:300]
                if s.get(ActionLog, key) is None:
                    s.add(ActionLog(key=key, done_at=at))
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

    async def _codeowners(self, api: Any, repo: str) -> Any:
        own_syntax = getattr(api, "codeowners", None)  # a forge with its own (GitLab's)
        if own_syntax is not None:
            return await own_syntax(repo)
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
        forges = self.services.get("forges")
        if api is None and forges is not None:  # the OSPO's project may be on GitLab
            api = forges.for_repo(target)
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
