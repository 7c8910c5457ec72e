"""Replay recorded history through Veilleur's own planning code, on a simulated clock.

Events (the recorded timeline) reach the handlers' pure `plan()` functions as webhooks would;
SLA sweeps run at the sweep period and call the live sweep's own pure planning:
`bot.sla.plan.plan_repo` per repository, then `bot.sla.org_plan.plan_org_reminders` per
organisation (no-nag rules, caps, working hours, absences, daily mode, attention budget).
The handlers are given by the composition root (`bot.runtime.handler_modules`). Actions are
carried out on an in-memory copy of each item (labels, comments, state), and what Veilleur
writes goes back into the item's timeline, as the live record does.

Speed: an item is evaluated at a sweep only when something can change for it (an event, its
due or escalation instant, its next reminder; a reminder held by a no-nag rule: the end of the
quiet day, someone's next working hour or the next day; one over a cap or budget: the next
sweep); `exhaustive=True`
evaluates every open outside item at every sweep instead (the reference, used by the tests).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from bot.digest.fastcal import PrefixCalendar
from bot.effects.actions import (
    Action,
    AddLabels,
    EnsureLabel,
    RecordState,
    RemoveLabel,
    SendEmail,
    SetAssignees,
    SetIssueState,
    UpsertComment,
    marker,
    without_once,
)
from bot.forge.names import is_org_config_repo
from bot.messages.language import detect_item_language
from bot.messages.templating import Renderer
from bot.record.people import OUTSIDE_CLASSES, Classification
from bot.replay.history import Entry, History, ItemRecord
from bot.sla import attention_budget as budget
from bot.sla import nag
from bot.sla import rules as sla
from bot.sla.availability import AWAY_KIND, PeopleBook, commanded_absences
from bot.sla.calendar import BusinessCalendar
from bot.sla.daily import scopes_of_day
from bot.sla.org_plan import plan_org_reminders
from bot.sla.plan import ESCALATED, RepoFacts, RepoPlan, plan_repo, seen_opened_live
from bot.storage.models import TimelineKind as K

DEFAULT_LOGIN = "veilleur[bot]"
# The record keeps no repository permissions: a maintainer may run every command, a member
# the triage ones (an approximation, said in `not_replayed`).
PERMISSION = {"maintainer": "write", "member": "triage"}
_TURN_KINDS = {
    K.COMMENTED: "comment",
    K.REVIEWED: "review",
    K.PUSHED: "push",
    K.LABELED: "label",
    K.ASSIGNED: "assign",
}


@dataclass(frozen=True)
class Produced:
    """One thing Veilleur would have done."""

    at: datetime
    repo: str
    number: int | None
    what: str  # comment | edit | label | unlabel | mail | state
    kind: str  # marker kind (welcome, reminder, escalation...), label name, or new state
    to: tuple[str, ...] = ()  # @-mentioned handles, or mail recipients
    listed: tuple[str, ...] = ()  # named without a ping (over a mention cap)
    key: str | None = None


@dataclass
class ReplayResult:
    history: History
    start: datetime
    end: datetime
    produced: list[Produced] = field(default_factory=list)
    sweeps: int = 0  # sweep instants in the period
    evaluations: int = 0  # item evaluations actually made
    timelines: dict[tuple[str, int], list[Entry]] = field(default_factory=dict)
    not_replayed: list[str] = field(default_factory=list)


class _Live:
    """An item as Veilleur would see it during the replay (fits the sweep's item)."""

    def __init__(self, rec: ItemRecord, seen: Callable[[Entry], None] | None = None) -> None:
        self.rec = rec
        self.seen = seen  # told of each entry (the organisation's absences, comment counts)
        self.repo_full_name, self.number, self.kind = rec.repo_full_name, rec.number, rec.kind
        self.title, self.author_login = rec.title, rec.author_login
        self.author_class, self.created_at, self.draft = rec.author_class, rec.created_at, rec.draft
        self.state = "open"
        self.labels: list[str] = []
        self.assignees: list[str] = []
        self.entries: list[Entry] = []
        self.markers: set[str] = set()
        self.done: dict[str, datetime] = {}
        self.wake: datetime | None = None

    @property
    def outside(self) -> bool:
        return self.author_class in OUTSIDE_CLASSES

    def see(self, e: Entry) -> None:
        """Fold one timeline entry into the item's labels, assignees and state."""
        self.entries.append(e)
        if self.seen is not None:
            self.seen(e)
        label, who = str(e.detail.get("label") or ""), str(e.detail.get("assignee") or "")
        if e.kind == K.LABELED and label and label not in self.labels:
            self.labels.append(label)
        elif e.kind == K.UNLABELED and label in self.labels:
            self.labels.remove(label)
        elif e.kind == K.ASSIGNED and who and who not in self.assignees:
            self.assignees.append(who)
        elif e.kind == K.UNASSIGNED and who in self.assignees:
            self.assignees.remove(who)
        elif e.kind in (K.CLOSED, K.MERGED):
            self.state = "closed"
        elif e.kind == K.REOPENED:
            self.state = "open"
        elif e.kind == K.CONVERTED_TO_DRAFT:
            self.draft = True
        elif e.kind == K.READY_FOR_REVIEW:
            self.draft = False


class Ticks:
    """Sweep instants: every `period` from midnight UTC, or an explicit list (tests)."""

    def __init__(self, period: timedelta, at: Sequence[datetime] | None = None) -> None:
        self.period, self.at = period, sorted(at) if at is not None else None

    def first_at_or_after(self, t: datetime) -> datetime | None:
        if self.at is not None:
            i = bisect.bisect_left(self.at, t)
            return self.at[i] if i < len(self.at) else None
        day = t.replace(hour=0, minute=0, second=0, microsecond=0)
        steps = -((day - t) // self.period)  # ceiling division
        return day + steps * self.period

    def count(self, start: datetime, end: datetime) -> int:
        if self.at is not None:
            return sum(1 for t in self.at if start <= t <= end)
        return int((end - start) / self.period) + 1


class Replayer:
    def __init__(
        self,
        history: History,
        start: datetime,
        end: datetime,
        config_for: Callable[[str], Any],
        ticks: Ticks,
        handlers: Mapping[str, Any],
        renderer: Renderer | None = None,
        exhaustive: bool = False,
    ) -> None:
        # The handlers whose pure plans the replay drives, by NAME; given by the composition
        # root (`bot.runtime.handler_modules`): the core never imports the handlers.
        self.triage, self.turn = handlers["triage"], handlers["turn"]
        self.commands = handlers["commands"]
        self.h, self.start, self.end = history, start.astimezone(UTC), end.astimezone(UTC)
        self.config_for, self.ticks, self.exhaustive = config_for, ticks, exhaustive
        self.renderer = renderer or Renderer()
        self.login = history.veilleur_login or DEFAULT_LOGIN
        self.result = ReplayResult(history, self.start, self.end)
        self.items: dict[tuple[str, int], _Live] = {}
        self.once: set[str] = set()
        self.mention_keys: dict[str, list[str]] = {}  # day -> `mention:` keys (action_log)
        self.mention_seen: dict[str, set[str]] = {}
        self.mention_to: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # of a send
        self.posted: set[str] = set()  # daily lists already posted (later: edited)
        self.listed: set[str] = set()  # `daily-listed` rows (action_log)
        self.done: dict[str, dict[str, datetime]] = {}  # repo -> once keys (action_log)
        self.entries: dict[str, dict[int, list[Entry]]] = {}
        self.away: dict[str, list[Entry]] = {}  # owner -> `/away` entries, in time order
        self.comment_at: dict[str, list[datetime]] = {}  # repo -> comment instants, sorted
        self.bot_comment_at: dict[str, list[datetime]] = {}
        self.heap: list[tuple[datetime, str, int]] = []
        self.calendars: dict[str, BusinessCalendar] = {}
        self.triage_cfg: dict[tuple[str, bool, bool], Any] = {}
        self.languages: dict[tuple[Any, ...], str] = {}
        self.bodies: dict[Any, str] = {}  # comment id -> last body (edits run new commands)
        self.repo_items: dict[str, list[ItemRecord]] = {}

    # -- set-up ------------------------------------------------------------------------------
    def _calendar(self, repo: str) -> BusinessCalendar:
        if repo not in self.calendars:
            # the digest's drop-in calendar: same results, long spans in O(1)
            self.calendars[repo] = PrefixCalendar.from_config(self.config_for(repo).calendar)
        return self.calendars[repo]

    def _events(self) -> list[tuple[datetime, int, _Live, Entry | None]]:
        """In-window entries in time order; the earlier ones are folded in at once."""
        events: list[tuple[datetime, int, _Live, Entry | None]] = []
        seq = 0
        for rec in self.h.items:
            live = _Live(rec, self._seen_by(rec.repo_full_name))
            self.items[(rec.repo_full_name, rec.number)] = live
            opened_seen = False
            for e in self.h.timeline(rec):
                if _command_effect(e):  # Veilleur's record of a command: before --from it
                    continue  # was not installed, after it the comment is replayed
                if e.occurred_at < self.start:
                    if e.kind == K.OPENED and e.detail.get("live"):  # not seen by a bot
                        e = Entry(e.kind, e.occurred_at, e.actor_login, e.actor_class,
                                  {k: v for k, v in e.detail.items() if k != "live"},
                                  e.actor_type)  # fmt: skip
                    live.see(e)
                elif e.occurred_at <= self.end:
                    opened_seen = opened_seen or e.kind == K.OPENED
                    events.append((e.occurred_at, seq, live, e))
                    seq += 1
            if self.start <= rec.created_at <= self.end and not opened_seen:
                events.append((rec.created_at, seq, live, None))  # imported: opening implied
                seq += 1
            if rec.created_at < self.start and live.state == "open" and live.outside:
                self._schedule(live, self.start)
        events.sort(key=lambda ev: (ev[0], ev[1]))
        return events

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> ReplayResult:
        events = self._events()
        i, n = 0, len(events)
        tick = self.ticks.first_at_or_after(self.start) if self.exhaustive else None
        while True:
            nxt = tick if self.exhaustive else (self.heap[0][0] if self.heap else None)
            ev_at = events[i][0] if i < n else None
            if nxt is not None and nxt <= self.end and (ev_at is None or nxt < ev_at):
                self._sweep(nxt)
                if self.exhaustive:
                    tick = self.ticks.first_at_or_after(nxt + timedelta(microseconds=1))
            elif ev_at is not None:
                _, _, live, entry = events[i]
                i += 1
                self._event(live, entry, ev_at)
            else:
                break
        self.result.sweeps = self.ticks.count(self.start, self.end)
        self.result.timelines = {k: v.entries for k, v in self.items.items()}
        self.result.not_replayed = [
            "pr_checklist: the record keeps no changed files; the live verdict is reused where"
            " Veilleur was installed, elsewhere the checklist is taken as passed",
            "commands: permissions are not recorded; maintainers may run every command,"
            " members the triage ones",
            "CODEOWNERS: not read (no forge); reminders go to assignees, requested reviewers"
            " and the configured maintainers",
            "waiting-list and OSPO issues: kept up to date by the sweep, not listed here",
        ]
        if any(r.body is None for r in self.h.items if r.created_at >= self.start):
            self.result.not_replayed.append(
                "request_info: items imported without their body are taken as complete"
            )
        return self.result

    def _schedule(self, live: _Live, at: datetime | None) -> None:
        if self.exhaustive:
            return
        tick = None if at is None else self.ticks.first_at_or_after(at)
        if tick is not None and tick > self.end:
            tick = None
        if tick is not None and (live.wake is None or tick < live.wake):
            live.wake = tick
            heapq.heappush(self.heap, (tick, live.repo_full_name, live.number))

    # -- events --------------------------------------------------------------------------------
    def _event(self, live: _Live, e: Entry | None, at: datetime) -> None:
        repo = live.repo_full_name
        if e is None:
            e = Entry(K.OPENED, at, live.author_login, live.author_class, {})
            self._opened(live, e, at, reopened=False)
        else:
            live.see(e)
            if e.kind in (K.OPENED, K.REOPENED):
                self._opened(live, e, at, reopened=e.kind == K.REOPENED)
            elif e.kind in _TURN_KINDS:
                self._turn(live, e, at)
            if e.kind in (K.COMMENTED, K.COMMENT_EDITED):
                self._commands(live, e, at)
        if live.outside and not is_org_config_repo(repo):
            self._schedule(live, at)

    def _is_bot(self, e: Entry) -> bool:
        login = (e.actor_login or "").lower()
        return e.actor_class == "bot" or e.actor_type == "Bot" or login.endswith("[bot]")

    def _opened(self, live: _Live, e: Entry, at: datetime, reopened: bool) -> None:
        cfg = self.config_for(live.repo_full_name)
        rec = live.rec
        if not live.outside or (cfg.ignore_bots and self._is_bot(e) and not reopened):
            return
        author = rec.author_login.lower()
        first_time = not any(
            o.author_login.lower() == author and o.number != rec.number and o.created_at <= at
            for o in self._by_repo(live.repo_full_name)
        )
        body = rec.body or ""
        lang = self._language(live, cfg)
        inp = self.triage.TriageInput(
            repo=live.repo_full_name,
            number=rec.number,
            is_pull=rec.kind == "pull",
            title=rec.title,
            body=body,
            author=rec.author_login,
            author_class=Classification(rec.author_class or "external", rec.partner),
            first_time=first_time,
            lang=lang,
            config=self._triage_config(live.repo_full_name, rec),
            no_comments=not reopened,
        )
        self._apply(self.triage.plan(inp, self.renderer), at)

    def _language(self, live: _Live, cfg: Any) -> str:
        """The item's language, as the handlers detect it (once per item: its title and
        body do not change during the replay)."""
        key = (live.repo_full_name, live.number, tuple(cfg.languages), cfg.language)
        if key not in self.languages:
            body = live.rec.body or ""
            self.languages[key] = detect_item_language(live.title, body, key[2], cfg.language)
        return self.languages[key]

    def _by_repo(self, repo: str) -> list[ItemRecord]:
        if not self.repo_items:
            for r in self.h.items:
                self.repo_items.setdefault(r.repo_full_name, []).append(r)
        return self.repo_items.get(repo, [])

    def _triage_config(self, repo: str, rec: ItemRecord) -> Any:
        """The repository's config, minus the checks the record cannot feed (see
        `not_replayed`): a pull request's changed files are never recorded, an imported
        item's body neither. Where the live Veilleur asked for them, its verdict stands (the
        check runs on nothing, so it fails); elsewhere the check is taken as passed."""
        checklist_fails = "pr-checklist" in rec.asked
        info_fails = rec.body is not None or "request-info" in rec.asked
        key = (repo, checklist_fails, info_fails)
        if key not in self.triage_cfg:
            cfg = self.config_for(repo)
            update: dict[str, Any] = {}
            if not checklist_fails:
                update["pr_checklist"] = cfg.pr_checklist.model_copy(update={"enabled": False})
            if not info_fails:
                update["request_info"] = cfg.request_info.model_copy(update={"enabled": False})
            self.triage_cfg[key] = cfg.model_copy(update=update)
        return self.triage_cfg[key]

    def _turn(self, live: _Live, e: Entry, at: datetime) -> None:
        if not live.outside or live.state != "open" or self._is_bot(e):
            return
        text = str(e.detail.get("body") or "") if e.kind == K.COMMENTED else ""
        if text.lstrip().startswith("/"):
            return  # commands move the turn themselves
        inp = self.turn.TurnInput(
            repo=live.repo_full_name,
            number=live.number,
            event=_TURN_KINDS[e.kind],
            actor_class=e.actor_class,
            actor_is_author=(e.actor_login or "").lower() == live.author_login.lower(),
            labels=frozenset(live.labels),
            text=text,
            review_state=str(e.detail.get("state") or "").lower() or None,
        )
        self._apply(self.turn.plan(inp, self.config_for(live.repo_full_name).labels), at)

    def _commands(self, live: _Live, e: Entry, at: datetime) -> None:
        """The commands handler's pure step on a new or edited comment."""
        if self._is_bot(e):
            return
        cid = e.detail.get("comment_id")
        body = str(e.detail.get("body") or "")
        previous = self.bodies.get(cid) if e.kind == K.COMMENT_EDITED else None
        self.bodies[cid] = body
        if not self.commands.parse_commands(body, previous):
            return
        cfg = self.config_for(live.repo_full_name)
        login = e.actor_login or ""
        if not cfg.commands.enabled or login.lower() in {b.lower() for b in cfg.bots.logins}:
            return
        prefix = self.commands.refusal_prefix(live.repo_full_name, live.number, login)
        own = f"{prefix}{cid or 0}"
        since = at - self.commands.REFUSAL_WINDOW
        refused = any(k.startswith(prefix) and k != own and t > since for k, t in live.done.items())
        cctx = self.commands.CommandContext(
            repo=live.repo_full_name,
            number=live.number,
            is_pull=live.kind == "pull",
            author_login=live.author_login,
            commenter_login=login,
            commenter_permission=PERMISSION.get(e.actor_class or ""),
            config=cfg,
            now=at,
            labels=tuple(live.labels),
            assignees=tuple(live.assignees),
            commenter_class=e.actor_class,
            comment_id=cid,
            refused_recently=refused,
        )
        lang = self._language(live, cfg)
        planned = self.commands.plan_comment(body, previous, cctx)
        self._apply(self.commands.render_replies(planned, self.renderer, lang), at)

    # -- sweeps --------------------------------------------------------------------------------
    def _sweep(self, at: datetime) -> None:
        """One sweep, as `Sweeper.run`: each repository's due items through `plan_repo`, then
        each organisation's reminders through `plan_org_reminders` (caps, budget, daily mode)."""
        due: set[tuple[str, int]] = set()
        if self.exhaustive:
            due = {k for k, v in self.items.items() if v.outside and v.state == "open"}
        while self.heap and self.heap[0][0] == at:
            _, repo, number = heapq.heappop(self.heap)
            live = self.items[(repo, number)]
            if live.wake == at:
                live.wake = None
                due.add((repo, number))
        by_repo: dict[str, list[_Live]] = {}
        for key in sorted(due):  # the live sweep's order: repository, then item
            live = self.items[key]
            if live.state != "open" or not live.outside or live.created_at > at:
                continue
            if is_org_config_repo(key[0]):
                continue
            by_repo.setdefault(key[0], []).append(live)
        planned: dict[str, list[tuple[RepoPlan, Renderer]]] = {}
        evaluated: list[tuple[_Live, RepoPlan]] = []
        for repo, lives in by_repo.items():
            plan = self._plan_repo(repo, lives, at)
            if plan is None:
                continue
            planned.setdefault(repo.split("/")[0], []).append((plan, self.renderer))
            evaluated += [(live, plan) for live in lives]
        pending: set[str] = set()  # reminders due but not sent: planned again next sweep
        for owner, plans in planned.items():
            pending |= self._org_reminders(owner, plans, at)
        for live, plan in evaluated:
            ref = f"{live.repo_full_name}#{live.number}"
            self._wake_after(live, plan, at, ref in pending)

    def _plan_repo(self, repo: str, lives: list[_Live], at: datetime) -> RepoPlan | None:
        cfg = self.config_for(repo)
        if not cfg.sla.enabled:
            return None
        self.result.evaluations += len(lives)
        cal = self._calendar(repo)
        day = at.astimezone(cal.tz).date().isoformat()
        facts = RepoFacts(
            full_name=repo,
            owner=repo.split("/")[0],
            added_at=self.start,  # the grace rule: what was open before --from is backlog
            config=cfg,
            items=cast(Any, lives),
            entries=cast(Any, self._repo_entries(repo)),
            done=self.done.setdefault(repo, {}),
            mentions=self._mentions_on(day),
            at=at,
            bots=self._bots(repo),
            away=cast(Any, self.away.get(repo.split("/")[0], [])),
            calendar=cal,
            comments=self._comments(repo, at),
            waiting_list=False,  # not replayed (`not_replayed`)
        )
        plan = plan_repo(facts, self.renderer)
        self._apply(plan.actions, at)
        return plan

    def _org_reminders(
        self, owner: str, plans: list[tuple[RepoPlan, Renderer]], at: datetime
    ) -> set[str]:
        """Send what the organisation's plan says; the references of the reminders left due."""
        day = plans[0][0].day
        keys = self.mention_keys.get(day, [])
        org = plan_org_reminders(
            owner, plans, self._week_mentions(day), scopes_of_day(keys, day), self.login,
            self.listed,
        )  # fmt: skip
        steps = {c.step.key: c.step for p, _ in plans for c in p.reminders.candidates}
        for send in org.sends:
            step = steps.get(send.tag)
            self.mention_to = (send.mention, tuple(step.listed_only) if step else ())
            if self._apply(send.actions, at) and send.mention:
                self._remember(send.mention, send.day, send.tag)
        self.mention_to = None
        for post in org.posts:
            key = marker("daily", post.key)
            what = "edit" if key in self.posted else "comment"
            self.posted.add(key)
            self.result.produced.append(
                Produced(at, post.target, None, what, "daily", (post.login,), key=post.key)
            )
            self._remember((post.login,), post.day, post.key)
            self.listed.update(post.listed)
        done = self.done
        left: set[str] = set(org.carried)
        for p, _ in plans:  # planned but not carried out (a budget held it): due again
            left |= {
                c.ref for c in p.reminders.candidates
                if c.step.key not in done.get(c.repo, {})
            }  # fmt: skip
        return left

    def _wake_after(self, live: _Live, plan: RepoPlan, at: datetime, pending: bool) -> None:
        repo = live.repo_full_name
        cfg, cal = self.config_for(repo), self._calendar(repo)
        state = plan.states.get(live.number)  # Veilleur's own actions leave it as it was
        if state is None or state.gone or live.state != "open":
            return
        ref = f"{repo}#{live.number}"
        backlog = live.created_at < self.start and not seen_opened_live(cast(Any, live.entries))
        held = plan.held.get(ref)
        until = None if pending or not held else self._held_wake(live, held, at, cfg, cal, state)
        self._schedule(live, next_wake(live, state, at, cfg, cal, backlog, until))

    def _held_wake(
        self,
        live: _Live,
        held: str,
        at: datetime,
        cfg: Any,
        cal: BusinessCalendar,
        state: sla.WaitingState,
    ) -> datetime:
        """When a reminder held by a no-nag rule (bot/sla/nag.py) may go out without any new
        event: the quiet day's end, the open request's age, someone's working hours or the
        next day (an absence ends); never later than the rule allows."""
        later = at + timedelta(microseconds=1)
        if held == nag.UNANSWERED:  # only someone acting (an event) or the escalation
            ref = f"{live.repo_full_name}#{live.number}"
            pending = sla.reminder_history(ref, state, live.done).escalated_at is None
            if pending and state.escalate_at is not None:
                return max(later, state.escalate_at)
            return self.end + timedelta(days=1)
        if held == nag.ACTED_RECENTLY:
            team_at = nag.last_team_action(
                cast(Any, live.entries), live.author_login,
                frozenset(b.lower() for b in self._bots(live.repo_full_name)), at,
            )  # fmt: skip
            if team_at is not None:
                return max(later, cal.add_business_days(team_at, nag.QUIET_DAYS))
            return later
        people = self._people(live, cfg)
        book = PeopleBook(
            cfg.people, commanded_absences(self.away.get(live.repo_full_name.split("/")[0], []))
        )
        cals = [cal, *(book.calendar_for(p, cal, cfg.calendar) for p in people)]
        if held == nag.OUTSIDE_HOURS:
            return min(c.next_working_time(later) for c in cals)
        # acted since the reminder, everyone away: the routing changes when a day starts
        return min(_next_midnight(at, c.tz) for c in cals)

    def _people(self, live: _Live, cfg: Any) -> list[str]:
        reviewers = [
            str(e.detail.get("reviewer")) for e in live.entries
            if e.kind == K.REVIEW_REQUESTED and e.detail.get("reviewer")
        ]  # fmt: skip
        handles = [*live.assignees, *reviewers, *cfg.maintainers.users]
        return list(dict.fromkeys(h.lstrip("@") for h in handles if "/" not in h))

    # -- what the live sweep reads from the record and action_log ------------------------------
    def _seen_by(self, repo: str) -> Callable[[Entry], None]:
        """Keep the organisation's `/away` entries, and the repository's comment instants
        (all, Veilleur's and other bots') for the attention budget's share."""
        away = self.away.setdefault(repo.split("/")[0], [])
        total = self.comment_at.setdefault(repo, [])
        bot = self.bot_comment_at.setdefault(repo, [])
        bots = frozenset(b.lower() for b in self._bots(repo))

        def seen(e: Entry) -> None:
            if e.kind == AWAY_KIND:
                away.append(e)
            elif e.kind == K.COMMENTED:
                t = e.occurred_at.astimezone(UTC)
                bisect.insort(total, t)
                if sla._is_bot(e, bots):
                    bisect.insort(bot, t)

        return seen

    def _comments(self, repo: str, at: datetime) -> budget.CommentCounts:
        """As `attention_budget.comment_counts` over the share window, from sorted instants."""
        since = at - timedelta(days=budget.SHARE_WINDOW_DAYS)

        def within(times: list[datetime]) -> int:
            return bisect.bisect_right(times, at) - bisect.bisect_left(times, since)

        return budget.CommentCounts(
            within(self.bot_comment_at.get(repo, [])), within(self.comment_at.get(repo, []))
        )

    def _repo_entries(self, repo: str) -> dict[int, list[Entry]]:
        if repo not in self.entries:
            self.entries[repo] = {
                n: live.entries for (r, n), live in self.items.items() if r == repo
            }
        return self.entries[repo]

    def _bots(self, repo: str) -> list[str]:
        return [b for b in (self.login, *self.config_for(repo).bots.logins) if b]

    def _mentions_on(self, day: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for key in self.mention_keys.get(day, []):
            login = key.split(":")[2]
            counts[login] = counts.get(login, 0) + 1
        return counts

    def _week_mentions(self, day: str) -> dict[str, int]:
        """As `bot.sla.sweep.mentions_in_week`: the 7 days ending on `day`."""
        counts: dict[str, int] = {}
        last = date.fromisoformat(day)
        for back in range(7):
            for login, n in self._mentions_on((last - timedelta(days=back)).isoformat()).items():
                counts[login.lower()] = counts.get(login.lower(), 0) + n
        return counts

    def _remember(self, people: Sequence[str], day: str, tag: str) -> None:
        """As `Sweeper._remember`: one `mention:` key per person and tag."""
        keys = self.mention_keys.setdefault(day, [])
        seen = self.mention_seen.setdefault(day, set())
        for login in people:
            key = f"mention:{day}:{login}:{tag}"[:300]
            if key not in seen:
                seen.add(key)
                keys.append(key)

    # -- carrying actions out, in memory -------------------------------------------------------
    def _bot_entry(self, live: _Live, kind: str, at: datetime, detail: dict[str, Any]) -> None:
        live.see(Entry(kind, at, self.login, "bot", detail, "Bot"))

    def _apply(self, actions: Sequence[Action], at: datetime) -> int:
        """Carry `actions` out on the in-memory items; how many were (the others: done before)."""
        out = self.result.produced
        applied = 0
        for a in actions:
            once = getattr(a, "once", None)
            if once and once in self.once:
                left = without_once(a)  # a folded comment's other text, or nothing
                if left is None:
                    continue
                a, once = left, None
            applied += 1
            live = self.items.get((getattr(a, "repo", ""), getattr(a, "number", 0)))
            if isinstance(a, EnsureLabel):
                continue
            if isinstance(a, AddLabels) and live is not None:
                for name in a.labels:
                    if name not in live.labels:
                        self._bot_entry(live, K.LABELED, at, {"label": name})
                        out.append(Produced(at, a.repo, a.number, "label", name))
            elif isinstance(a, RemoveLabel) and live is not None:
                if a.label in live.labels:
                    self._bot_entry(live, K.UNLABELED, at, {"label": a.label})
                    out.append(Produced(at, a.repo, a.number, "unlabel", a.label))
            elif isinstance(a, UpsertComment) and live is not None:
                self._comment(live, a, at)
            elif isinstance(a, SendEmail):
                ref = once.rsplit(":", 1)[0] if once else ""
                repo, _, num = ref.removeprefix("sla:").partition("#")
                number = int(num.split(":", 1)[0]) if num.split(":", 1)[0].isdigit() else None
                out.append(Produced(at, repo, number, "mail", "escalation", tuple(a.to), key=once))
            elif isinstance(a, SetAssignees) and live is not None:
                for who in a.add:
                    if who not in live.assignees:
                        self._bot_entry(live, K.ASSIGNED, at, {"assignee": who})
                        out.append(Produced(at, a.repo, a.number, "assign", who))
                for who in a.remove:
                    if who in live.assignees:
                        self._bot_entry(live, K.UNASSIGNED, at, {"assignee": who})
                        out.append(Produced(at, a.repo, a.number, "unassign", who))
            elif isinstance(a, RecordState) and live is not None:
                data = {k: v for k, v in a.data.items()}
                by, by_class = str(data.get("by") or "") or None, data.get("by_class")
                live.see(Entry(a.kind, at, by, str(by_class) if by_class else None, data))
                if a.kind == ESCALATED:  # recorded, told by mail: listed as what it is
                    out.append(Produced(at, a.repo, a.number, "state", a.kind, key=once))
            elif isinstance(a, SetIssueState) and live is not None:
                if live.state != a.state:
                    kind = K.CLOSED if a.state == "closed" else K.REOPENED
                    self._bot_entry(live, kind, at, {})
                    out.append(Produced(at, a.repo, a.number, "state", a.state, key=once))
            if once:
                self.once.add(once)
                repo = getattr(a, "repo", "")
                self.done.setdefault(repo, {})[once] = at
                if live is not None:
                    live.done[once] = at
        return applied

    def _comment(self, live: _Live, a: UpsertComment, at: datetime) -> None:
        kind = a.marker.removeprefix("<!-- veilleur:").split(":", 1)[0]
        to, listed = self.mention_to or ((), ())
        if a.marker in live.markers:
            if a.update_existing:
                self.result.produced.append(
                    Produced(at, a.repo, a.number, "edit", kind, to, listed, a.once)
                )
            return
        live.markers.add(a.marker)
        self._bot_entry(live, K.COMMENTED, at, {"body": f"{a.marker}\n{a.body}"[:4000]})
        self.result.produced.append(
            Produced(at, a.repo, a.number, "comment", kind, to, listed, a.once)
        )


def _command_effect(e: Entry) -> bool:
    """An entry Veilleur recorded while carrying out a command (`/snooze`, `/waiting-on`...)."""
    return e.kind in (K.SNOOZED, K.WAITING_ON, K.AFFILIATION) and "command" in e.detail


def next_wake(
    live: Any,
    state: sla.WaitingState,
    at: datetime,
    cfg: Any,
    cal: BusinessCalendar,
    backlog: bool = False,
    held_until: datetime | None = None,
) -> datetime | None:
    """The earliest instant after `at` when the sweep could decide something new for the
    item without any new event: it becomes overdue, a reminder or the escalation falls due,
    a stale nudge or close falls due (in working hours). A reminder already due but held by
    a no-nag rule, a cap or a budget waits until `held_until` (`Replayer._held_wake`; None:
    the next sweep)."""
    ref = f"{live.repo_full_name}#{live.number}"
    later = at + timedelta(microseconds=1)
    cands: list[datetime] = []
    if state.waiting_on == sla.MAINTAINER:
        if not state.overdue:
            if state.due_at is not None:
                cands.append(state.due_at)
        else:
            history = sla.reminder_history(ref, state, live.done)
            if backlog:  # the grace rule: listed and labelled, never reminded
                return None
            if history.escalated_at is None and state.escalate_at is not None:
                cands.append(state.escalate_at)
            if len(history.sent_at) < int(cfg.sla.max_reminders):
                contacts = [*history.sent_at, *filter(None, [history.escalated_at])]
                every = float(cfg.sla.remind_every_days)
                cands.append(cal.add_business_days(max(contacts), every) if contacts else at)
        # due now and not sent: held (bot/sla/nag.py checks each person's working hours)
        return min((max(c, held_until or later) if c <= at else c for c in cands), default=None)
    if state.waiting_on == sla.AUTHOR and cfg.stale.enabled and state.since is not None:
        base = f"stale:{ref}:{state.since.astimezone(UTC):%Y%m%dT%H%M%SZ}"
        if f"{base}:nudge" not in live.done:
            cands.append(cal.add_business_days(state.since, cfg.stale.nudge_after_days))
        elif f"{base}:close" not in live.done:
            cands.append(cal.add_business_days(state.since, cfg.stale.close_after_days))
    return min((cal.next_working_time(max(c, later)) for c in cands), default=None)


def _next_midnight(at: datetime, tz: Any) -> datetime:
    """The start of the day after `at`'s, in `tz` (an absence ends, a routing changes)."""
    day = at.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def replay_history(
    history: History,
    start: datetime,
    end: datetime,
    config_for: Callable[[str], Any],
    sweep_every: timedelta = timedelta(minutes=15),
    sweep_at: Sequence[datetime] | None = None,
    exhaustive: bool = False,
    *,
    handlers: Mapping[str, Any],
) -> ReplayResult:
    """Run the replay; see the module docstring. `handlers`: `bot.runtime.handler_modules()`."""
    ticks = Ticks(sweep_every, sweep_at)
    replayer = Replayer(
        history, start, end, config_for, ticks, handlers=handlers, exhaustive=exhaustive
    )
    return replayer.run()
