"""Weekly publication: each org's digest as an issue in `ospo.repository` and a mail to
`digest.emails`, exactly once per (org, ISO week).

An hourly tick looks at every org whose digest is enabled. Once the org's `digest.schedule`
(day and hour in its calendar's time zone) has passed in the current week, the week just
completed is due. Exactly once, across restarts and concurrent processes:

1. **Claim.** Insert the `DigestPublication(org, week)` row (primary key) in its own
   transaction, `issue_number` NULL meaning "being published". Of two processes ticking at
   once, one insert wins; the other sees the row and stops.
2. **Publish, idempotently.** The issue carries a marker per org and week (`UpsertIssue`:
   found again and edited, never opened twice); the mail has a `once` key in `action_log`,
   written before sending (a crash may lose it, never repeat it).
3. **Finish.** Set `issue_number` (0 when no issue could be published: no
   `ospo.repository`, not installed, dry-run) and `emailed`.

A claim left unfinished (crash, GitHub or SMTP error) is taken over by a later tick once it
is older than `LEASE` (compare-and-set on `published_at`); step 2 then repeats safely.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.clock import FrozenClock
from bot.config.schema import VeilleurConfig
from bot.digest import render
from bot.digest.compute import compute_digest
from bot.digest.model import Digest
from bot.digest.period import last_complete_week, schedule_instant
from bot.effects.actions import SendEmail, UpsertIssue, marker
from bot.effects.executor import Executor
from bot.forge.links import WebLinks
from bot.forge.names import org_config_repo
from bot.messages.templating import Renderer, T
from bot.sla.calendar import DAY_NAMES
from bot.storage.models import ActionLog, DigestPublication, Repository

if TYPE_CHECKING:
    from bot.services import Services


log = logging.getLogger(__name__)

LEASE = timedelta(minutes=30)
P = DigestPublication.__table__  # type: ignore[attr-defined]


def digest_marker(org: str, week: str) -> str:
    return marker("digest", f"{org}/{week}")


def mail_key(org: str, week: str) -> str:
    return f"digest:{org}/{week}:email"


def publication_config(org: str, configs: Mapping[str, VeilleurConfig]) -> VeilleurConfig | None:
    """The config that governs an org's digest: the org's own repository's (`.github`, or a
    GitLab group's `gitlab-profile`), else the
    first repository (by name) that enables the digest; None when none does."""
    own = org_config_repo(org)
    ordered = sorted(configs.items(), key=lambda kv: (kv[0].lower() != own.lower(), kv[0].lower()))
    for _, cfg in ordered:
        if cfg.digest.enabled:
            return cfg
    return None


def due_week(cfg: VeilleurConfig, now: datetime) -> str | None:
    """The just-completed week, if its publication time has passed at `now`."""
    tz = ZoneInfo(cfg.calendar.timezone)
    week = last_complete_week(now, tz)
    schedule = cfg.digest.schedule
    when = schedule_instant(week, DAY_NAMES[schedule.day], schedule.hour, tz)
    return week if now >= when else None


def claim(engine: Engine, org: str, week: str, now: datetime, lease: timedelta = LEASE) -> bool:
    """Step 1: True when this process now owns the publication of (org, week)."""
    try:
        with Session(engine) as s:
            s.add(DigestPublication(org=org, week=week, published_at=now, emailed=False))
            s.commit()
        return True
    except IntegrityError:
        pass
    with Session(engine) as s:
        row = s.get(DigestPublication, (org, week))
    if row is None or row.issue_number is not None or row.published_at > now - lease:
        return False  # finished, or another process is on it
    with engine.begin() as conn:  # take over a stale claim: compare-and-set
        taken = conn.execute(
            update(P)
            .where(P.c.org == org, P.c.week == week, P.c.issue_number.is_(None))
            .where(P.c.published_at == row.published_at)
            .values(published_at=now)
        )
    return taken.rowcount == 1


def finish(engine: Engine, org: str, week: str, now: datetime, issue: int, emailed: bool) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(P)
            .where(P.c.org == org, P.c.week == week)
            .values(issue_number=issue, emailed=emailed, published_at=now)
        )


def issue_number(engine: Engine, repo: str, mark: str) -> int:
    """The number of the issue `bot.effects.executor` wrote for `mark` (its action-log record starts
    with it: "12" or "12 <digest of the body>"); 0 if unknown."""
    with Session(engine) as s:
        row = s.get(ActionLog, f"issue:{repo}:{mark}")
    head = (row.detail or "").split(" ", 1)[0] if row is not None else ""
    return int(head) if head.isdigit() else 0


@dataclass
class PublicationResult:
    published: list[str] = field(default_factory=list)  # "org/week"
    actions: list[str] = field(default_factory=list)


class DigestPublisher:
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
        self.links = links or WebLinks()  # the digest links items on their forge
        self.services = services
        self.api_for = api_for
        self.bot_login = bot_login
        self.mailer = mailer
        self.dry_run = dry_run
        self.renderer: Renderer = services.get("renderer") or Renderer()

    def repositories(self) -> dict[str, list[Repository]]:
        with Session(self.engine) as s:
            q = select(Repository).where(Repository.removed_at.is_(None))  # type: ignore[union-attr]
            rows = list(s.scalars(q.order_by(Repository.full_name)))
        by_org: dict[str, list[Repository]] = {}
        for repo in rows:
            by_org.setdefault(repo.owner, []).append(repo)
        return by_org

    async def run(self, now: datetime) -> PublicationResult:
        result = PublicationResult()
        for org, repos in self.repositories().items():
            try:
                await self._org(org, repos, now, result)
            except Exception:
                log.exception("digest publication for %s failed; the next tick retries", org)
        return result

    async def _configs(self, repos: list[Repository]) -> dict[str, VeilleurConfig]:
        loader = self.services["config"]
        out: dict[str, VeilleurConfig] = {}
        for repo in repos:
            api = self.api_for(repo.installation_id)
            if api is None:
                continue
            branch = repo.default_branch or self.services.get("branches", {}).get(repo.full_name)
            if not branch:
                branch = (await api.get_repo(repo.full_name)).get("default_branch", "main")
            out[repo.full_name] = (await loader.for_repo(api, repo.full_name, branch)).config
        return out

    async def _org(
        self, org: str, repos: list[Repository], now: datetime, result: PublicationResult
    ) -> None:
        configs = await self._configs(repos)
        cfg = publication_config(org, configs)
        week = due_week(cfg, now) if cfg is not None else None
        if cfg is None or week is None:
            return
        if not (cfg.ospo.repository or cfg.digest.emails):
            log.warning("digest of %s enabled, but no ospo.repository nor digest.emails", org)
            return
        if not claim(self.engine, org, week, now):
            return
        bots = [self.bot_login] if self.bot_login else []
        digest = await asyncio.to_thread(
            compute_digest,
            self.engine,
            org,
            week,
            now=now,
            configs=configs,
            bot_logins=bots,
            url_base=self.links,
        )
        if cfg.digest.pseudonymise:
            from bot.privacy.outputs import pseudonymise
            from bot.privacy.pseudonyms import Pseudonyms

            digest = pseudonymise(digest, Pseudonyms.of(self.engine))
        dry = self.dry_run or cfg.dry_run
        issue, emailed, failed = 0, False, False
        if cfg.digest.emails and self.mailer is None and not dry:
            log.error("digest of %s not mailed: SMTP is not configured (VEILLEUR_SMTP_HOST)", org)
        elif cfg.digest.emails:
            try:
                result.actions += await self._executor(None, now, dry).apply(
                    [self._mail(digest, cfg)]
                )
                emailed = not dry
            except Exception:
                failed = True
                log.exception("digest mail for %s %s failed", org, week)
        if cfg.ospo.repository:
            try:
                issue = await self._issue(digest, cfg, now, dry, result)
            except Exception:
                failed = True
                log.exception("digest issue for %s %s failed", org, week)
        if failed:
            return  # the claim stays open: retried after the lease, effects are idempotent
        finish(self.engine, org, week, now, issue, emailed)
        result.published.append(f"{org}/{week}")
        log.info("digest %s/%s published (issue %s, mailed %s)", org, week, issue or "-", emailed)

    def _executor(self, api: Any, now: datetime, dry_run: bool) -> Executor:
        return Executor(
            engine=self.engine,
            clock=FrozenClock(now),
            api=api,
            bot_login=self.bot_login,
            mailer=self.mailer,
            dry_run=dry_run,
            delivery=f"digest:{now.isoformat()}",
        )

    def _mail(self, digest: Digest, cfg: VeilleurConfig) -> SendEmail:
        lang = cfg.digest.language
        text = self.renderer.render(T.DIGEST_EMAIL, lang, **render.email_data(digest))
        page = render.html(digest, lang, self.renderer, limit=render.ISSUE_LIMIT)
        return SendEmail(
            to=tuple(cfg.digest.emails),
            subject=page.title or text.title or f"Veilleur digest {digest.org} {digest.week}",
            text=text.plain,
            html=page.text,
            once=mail_key(digest.org, digest.week),
        )

    async def _issue(
        self, digest: Digest, cfg: VeilleurConfig, now: datetime, dry: bool, result: Any
    ) -> int:
        target = str(cfg.ospo.repository)
        with Session(self.engine) as s:
            q = select(Repository).where(Repository.full_name == target)  # type: ignore[arg-type]
            repo = s.scalars(q).first()
        api = self.api_for(repo.installation_id if repo else None)
        if api is None:
            log.warning(
                "ospo.repository %s is not installed; digest %s by mail only", target, digest.week
            )  # noqa: E501
            return 0
        body = render.markdown(digest, cfg.digest.language, self.renderer, limit=render.ISSUE_LIMIT)
        mark = digest_marker(digest.org, digest.week)
        action = UpsertIssue(target, mark, body.title or f"Digest {digest.week}", body.tagged)
        result.actions += await self._executor(api, now, dry).apply([action])
        if dry:
            return 0
        return issue_number(self.engine, target, mark)
