"""Carry out intended actions, idempotently, or only record them in dry-run mode.

- Comments and issues are found again by their hidden marker and edited, never posted twice.
- Actions with a `once` key run at most once, keyed in `action_log`. A mail goes through the
  outbox (bot/effects/outbox.py): its key is written only once the SMTP server accepted it,
  and a mail that could not be sent is sent by a later sweep. Other effects are idempotent by
  marker, so their key is written after them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.clock import Clock
from bot.effects import outbox
from bot.effects.actions import (
    Action,
    AddLabels,
    ChangeLabels,
    CreateCheckRun,
    EnsureLabel,
    RecordState,
    RemoveLabel,
    SendEmail,
    SetAssignees,
    SetIssueState,
    UpsertComment,
    UpsertIssue,
    fold_labels,
    without_once,
)
from bot.forge import Comment, Forge
from bot.record.repo_cache import RepoCache
from bot.storage.models import ActionLog, TimelineEntry

log = logging.getLogger(__name__)


def _unknown_outcome(api: Forge, exc: Exception, what: str) -> None:
    """A create that timed out, broke or got a 5xx may still have been carried out: it is not
    sent again now (bot/github/client.py) but left to the delivery's retry, which comes after the
    backoff and looks for the marker first, so nothing is ever posted twice."""
    if api.is_ambiguous(exc):
        log.warning("creating a %s may or may not have happened (%s): left to the retry", what, exc)


def _digest(title: str, body: str, close: bool) -> str:
    return hashlib.sha256(f"{close}\0{title}\0{body}".encode()).hexdigest()[:32]


class Executor:
    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        api: Forge | None,
        bot_login: str | None,
        mailer: Any = None,
        dry_run: bool = False,
        delivery: str | None = None,
        repo_cache: RepoCache | None = None,
        node_ids: Mapping[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.api = api
        self.bot_login = bot_login
        self.mailer = mailer
        self.dry_run = dry_run
        self.delivery = delivery
        self.repo_cache = repo_cache
        self.node_ids = dict(node_ids or {})  # what the event told (bot/forge/node_ids.py)
        self.performed: list[str] = []  # descriptions, for the CLI and tests

    async def apply(self, actions: Sequence[Action], *, dry_run: bool = False) -> list[str]:
        done: list[str] = []
        if not (self.dry_run or dry_run):
            actions = fold_labels(actions)
        for action in actions:
            desc = action.describe()
            once = getattr(action, "once", None)
            if once and self._seen(once):
                left = without_once(action)  # a folded comment's other text, or nothing
                if left is None:
                    continue
                action, desc, once = left, left.describe(), None
            if self.dry_run or dry_run:
                self._record_dry_run(desc)
                log.info("dry-run: would %s", desc)
                done.append(f"(dry-run) {desc}")
                continue
            if isinstance(action, SendEmail) and once:
                if self.mailer is None:
                    raise RuntimeError("SMTP is not configured (VEILLEUR_SMTP_HOST)")
                now = self.clock.now()
                if not outbox.queue(self.engine, action, once, now):
                    continue  # already in the outbox: the sweep sends it
                if not await outbox.send(self.engine, self.mailer, action, once, now):
                    continue
            else:
                # Marked comments are idempotent: perform, then remember the key.
                await self._perform(action)
                if once:
                    self._claim(once, desc)
            log.info("did %s", desc)
            done.append(desc)
        self.performed.extend(done)
        return done

    # -- action log ----------------------------------------------------------------------
    def _seen(self, key: str) -> bool:
        with Session(self.engine) as s:
            return s.get(ActionLog, key) is not None

    def _claim(self, key: str, desc: str) -> bool:
        try:
            with Session(self.engine) as s:
                s.add(ActionLog(key=key, done_at=self.clock.now(), detail=desc[:2000]))
                s.commit()
            return True
        except IntegrityError:
            return False

    def _record_dry_run(self, desc: str) -> None:
        key = f"dry-run:{self.delivery or 'cli'}:{len(self.performed)}:{hash(desc) & 0xFFFFFFFF:x}"
        try:
            with Session(self.engine) as s:
                s.add(
                    ActionLog(key=key, done_at=self.clock.now(), dry_run=True, detail=desc[:2000])
                )
                s.commit()
        except IntegrityError:
            pass

    # -- effects ---------------------------------------------------------------------------
    async def _perform(self, action: Action) -> None:
        if isinstance(action, RecordState):
            self._record_state(action)
            return
        if isinstance(action, SendEmail):
            if self.mailer is None:
                raise RuntimeError("SMTP is not configured (VEILLEUR_SMTP_HOST)")
            await self.mailer.send(action)
            return
        api = self.api
        if api is None:
            raise RuntimeError(f"no forge client to perform {action.describe()}")
        if isinstance(action, EnsureLabel):
            await self._ensure_label(api, action)
        elif isinstance(action, AddLabels):
            try:
                await api.add_labels(action.repo, action.number, list(action.labels))
            except Exception as exc:
                if api.status_of(exc) in (404, 422):  # a label we believed in is gone: look again
                    self._forget_labels(action.repo)
                raise
        elif isinstance(action, RemoveLabel):
            await api.remove_label(action.repo, action.number, action.label)
        elif isinstance(action, ChangeLabels):
            await self._change_labels(api, action)
        elif isinstance(action, SetIssueState):
            fields: dict[str, Any] = {"state": action.state}
            if action.state_reason:
                fields["state_reason"] = action.state_reason
            await api.update_issue(action.repo, action.number, **fields)
        elif isinstance(action, SetAssignees):
            if action.add:
                await api.add_assignees(action.repo, action.number, list(action.add))
            if action.remove:
                await api.remove_assignees(action.repo, action.number, list(action.remove))
        elif isinstance(action, UpsertComment):
            await self._upsert_comment(api, action)
        elif isinstance(action, UpsertIssue):
            await self._upsert_issue(api, action)
        elif isinstance(action, CreateCheckRun):
            await api.create_check_run(
                action.repo,
                name=action.name,
                head_sha=action.head_sha,
                status="completed",
                conclusion=action.conclusion,
                output={"title": action.title, "summary": action.summary},
            )
        else:  # pragma: no cover - a new Action type without an effect is a programming error
            raise TypeError(f"no effect for {type(action).__name__}")

    async def _ensure_label(self, api: Forge, action: EnsureLabel) -> None:
        """Created when missing; a label seen once is not looked up again
        (bot/record/repo_cache.py), and its node id is kept for `ChangeLabels`."""
        cache = self.repo_cache
        if cache is not None and cache.label_known(action.repo, action.name):
            return
        found = await api.get_label(action.repo, action.name)
        if found is None:
            found = await api.create_label(
                action.repo, action.name, action.color, action.description
            )
        if cache is not None:
            cache.label_exists(action.repo, action.name, (found or {}).get("node_id"))

    async def _change_labels(self, api: Forge, action: ChangeLabels) -> None:
        """In one request where the forge can; otherwise (or if that request fails: adding
        and removing again is harmless) one call to add and one per label removed."""
        ids = self.node_ids
        if self.repo_cache is not None:
            ids = self.repo_cache.label_ids(action.repo) | ids
        add, remove = list(action.add), list(action.remove)
        try:
            if await api.change_labels(action.repo, action.number, add, remove, ids):
                return
        except Exception as exc:
            if api.is_ambiguous(exc) or api.status_of(exc) is not None:
                raise  # the forge answered (or may have acted): the delivery's retry decides
            log.warning(
                "labels of %s#%s in one request failed: %s", action.repo, action.number, exc
            )
        if add:
            await self._perform(AddLabels(action.repo, action.number, action.add))
        for label in remove:
            await api.remove_label(action.repo, action.number, label)

    def _forget_labels(self, repo: str) -> None:
        if self.repo_cache is not None:
            self.repo_cache.forget_labels(repo)

    def _is_ours(self, user: dict[str, Any] | None) -> bool:
        if not user:
            return False
        own = getattr(self.api, "own_login", None)  # None: GitHub, or a client that cannot tell
        if own:  # a forge that names the account it acts as (GitLab)
            return user.get("login") == own
        if self.bot_login:
            return user.get("login") == self.bot_login
        return user.get("type") == "Bot"

    async def _upsert_comment(self, api: Forge, action: UpsertComment) -> None:
        body = f"{action.marker}\n{action.body}"
        if action.item_had_no_comments:
            # Nobody had commented when the event was sent, and we never tried to post this
            # marker here (the attempt is recorded first): there is no comment to look for.
            attempt = f"comment-attempt:{action.repo}#{action.number}:{action.marker}"[:300]
            if not self._seen(attempt) and self._claim(attempt, "posting"):
                await self._create_comment(api, action, body)
                return
        for raw in await api.list_comments(action.repo, action.number):
            comment = Comment.of(raw)  # the neutral shape every forge client answers in
            if action.marker in comment.body and self._is_ours(raw.get("user")):
                if action.update_existing and comment.body != body:
                    await api.update_comment(action.repo, comment.id, body)
                return
        await self._create_comment(api, action, body)

    async def _create_comment(self, api: Forge, action: UpsertComment, body: str) -> None:
        try:
            await api.create_comment(action.repo, action.number, body)
        except Exception as exc:
            _unknown_outcome(api, exc, f"comment on {action.repo}#{action.number}")
            raise

    async def _upsert_issue(self, api: Forge, action: UpsertIssue) -> None:
        body = f"{action.marker}\n{action.body}"
        key = f"issue:{action.repo}:{action.marker}"
        number, last_digest = self._issue_record(key)
        digest = _digest(action.title, body, action.close)
        if number is not None and last_digest == digest:
            return  # we wrote exactly this last time: no call needed
        issue: dict[str, Any] | None = None
        if number is not None:
            issue = await api.get_issue(action.repo, number)
        elif action.close or not action.create_if_missing:
            return  # never opened by us: nothing to update or close
        else:
            issue = await self._find_marked_issue(api, action.repo, action.marker)
        if issue is None:
            if action.close or not action.create_if_missing:
                return
            issue = await self._create_issue(api, action, body)
            self._remember_issue(key, issue["number"], digest)
            return
        self._remember_issue(key, issue["number"], digest)
        if action.close:
            if issue.get("state") == "open":
                kept = {"body": body} if action.body else {}  # no new text: keep what it says
                await api.update_issue(action.repo, issue["number"], state="closed", **kept)
            return
        changes: dict[str, Any] = {}
        if issue.get("body") != body:
            changes["body"] = body
        if issue.get("title") != action.title:
            changes["title"] = action.title
        if issue.get("state") != "open":
            changes["state"] = "open"
        if changes:
            await api.update_issue(action.repo, issue["number"], **changes)

    async def _create_issue(self, api: Forge, action: UpsertIssue, body: str) -> dict[str, Any]:
        try:
            return await api.create_issue(action.repo, action.title, body, list(action.labels))
        except Exception as exc:
            _unknown_outcome(api, exc, f"issue in {action.repo}")
            raise

    async def _find_marked_issue(self, api: Forge, repo: str, marker: str) -> dict[str, Any] | None:
        page = 1
        while True:
            batch = await api.list_issues(repo, state="all", page=page)
            for issue in batch:
                if marker in (issue.get("body") or "") and self._is_ours(issue.get("user")):
                    return issue
            if len(batch) < 100:
                return None
            page += 1

    def _issue_record(self, key: str) -> tuple[int | None, str | None]:
        """The issue's number and a digest of what we last wrote to it."""
        with Session(self.engine) as s:
            row = s.get(ActionLog, key)
            if row is None or not row.detail:
                return None, None
            number, _, digest = row.detail.partition(" ")
            return int(number), digest or None

    def _remember_issue(self, key: str, number: int, digest: str) -> None:
        detail = f"{number} {digest}"
        with Session(self.engine) as s:
            row = s.get(ActionLog, key)
            if row is None:
                s.add(ActionLog(key=key, done_at=self.clock.now(), detail=detail))
            else:
                row.detail = detail
                s.add(row)
            try:
                s.commit()
            except IntegrityError:
                s.rollback()

    def _record_state(self, action: RecordState) -> None:
        with Session(self.engine) as s:
            now = self.clock.now()
            s.add(
                TimelineEntry(
                    repo_full_name=action.repo,
                    number=action.number,
                    occurred_at=now,
                    kind=action.kind,
                    actor_login=str(action.data.get("by") or "") or None,
                    actor_class=str(action.data.get("by_class") or "") or None,
                    source_key=f"state:{action.kind}:{self.delivery or now.isoformat()}",
                    detail=json.loads(json.dumps(action.data, default=str)),
                )
            )
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
