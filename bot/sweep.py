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
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot import outbox, sla
from bot.actions import Action, UpsertComment, UpsertIssue, marker
from bot.calendar import BusinessCalendar
from bot.codeowners import CODEOWNERS_PATHS, parse_codeowners
from bot.effects import Executor
from bot.people import OUTSIDE_CLASSES
from bot.storage.models import ActionLog, Item, Repository, TimelineEntry
from bot.sweep_plan import (
    RepoFacts,
    Waiting,
    plan_item,
    requested_reviewers,
    responsible_for,
    seen_opened_live,
    wants_codeowners,
)
from bot.templating import Renderer, T

__all__ = ["SweepResult", "Sweeper", "Waiting", "requested_reviewers", "seen_opened_live"]

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
        for repo in self.repositories(org):
            if repo.full_name.split("/")[1] == ".github":
                continue
            api = self.api_for(repo.installation_id)
            if api is None:
                continue
            try:
                await self._repo(api, repo, at, result, escalated)
            except Exception:
                log.exception("sweep of %s failed; the next sweep retries", repo.full_name)
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
        escalated: dict[str, Any],
    ) -> None:
        branch = (
            repo.default_branch
            or self.services["branches"].get(repo.full_name)
            or (await api.get_repo(repo.full_name)).get("default_branch", "main")
        )
        cfg = (await self.services["config"].for_repo(api, repo.full_name, branch)).config
        self.renderer = await self.services["overrides"].renderer_for(api, repo.full_name)
        if not cfg.sla.enabled:
            return
        cal = BusinessCalendar.from_config(cfg.calendar)
        bots = [b for b in (self.bot_login, *cfg.bots.logins) if b]
        with Session(self.engine) as s:
            items = _open_outside_items(s, repo.full_name)
            entries = _entries(s, repo.full_name)
            done = _done_keys(s, f"sla:{repo.full_name}#")
            done.update(_done_keys(s, f"stale:{repo.full_name}#"))
            day = at.astimezone(cal.tz).date().isoformat()
            mentions = mentions_on(s, day)
        actions: list[Action] = []
        waiting: list[Waiting] = []
        codeowners: Any = None
        lang = cfg.language
        facts = RepoFacts(repo.full_name, cfg, cal, tuple(bots), self.renderer, repo.added_at)
        for item in items:
            ents = entries.get(item.number, [])
            state = sla.waiting_state(
                item, ents, at, cal, bots, sla=cfg.sla, author_label=cfg.labels.awaiting_author
            )
            owners: list[str] = []
            if state.waiting_on == sla.MAINTAINER and wants_codeowners(item, state):
                if codeowners is None:
                    codeowners = await self._codeowners(api, repo.full_name)
                if codeowners is not None:
                    files = [
                        f["filename"]
                        for f in await api.list_pull_files(repo.full_name, item.number)
                    ]
                    owners = codeowners.owners_for(files)
            responsible = responsible_for(item, ents, cfg, owners)
            plan = plan_item(facts, item, ents, state, responsible, done, at, mentions)
            actions += plan.actions
            if plan.waiting is not None:
                waiting.append(plan.waiting)
                if plan.waiting.escalated:
                    escalated.setdefault(repo.owner, (cfg, []))[1].append(plan.waiting)
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
        if not (self.dry_run or cfg.dry_run):
            self._remember_mentions(actions, day)

    def _remember_mentions(self, actions: list[Action], day: str) -> None:
        with Session(self.engine) as s:
            for a in actions:
                if isinstance(a, UpsertComment) and a.once and ":reminder:" in a.once:
                    for token in a.body.split():
                        if token.startswith("@") and len(token) > 1:
                            login = token[1:].rstrip(",.:;")
                            key = f"mention:{day}:{login}:{a.once}"
                            if s.get(ActionLog, key) is None:
                                s.add(ActionLog(key=key, done_at=datetime.now(UTC)))
            s.commit()

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
