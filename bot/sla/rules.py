"""Who owes the next move on an item, for how long, and which reminders that calls for (pure).

The SLA engine reads Veilleur's own timeline (`TimelineEntry`-like records), never GitHub, so
a sweep over thousands of items costs no API call and replays the same way in tests.

Definitions (product rules):
- **Team**: actors of class `maintainer`, `member` or `internal_partner`.
- **Response**: a comment or review by a team member (not a bot, not a comment made only of
  slash commands or marked `detail.command`), or a close or merge done by one. Label changes,
  assignments, review requests and the author's own activity are never responses.
- **Waiting for a maintainer**: the item is open, its author is `external` or `partner`, and
  either nobody from the team has responded yet (phase `first_response`), or after the last
  response the author commented, reviewed (replied to a review), pushed, marked the pull
  request ready or ran `/ready` (phase `follow_up`, which starts at that first author move).
- **Awaiting author**: a team response that requests changes or asks the author something
  (`detail.asks_author`), or `/waiting-on author`. The ball stays with the author through
  later plain team comments; an approval gives it back to nobody.
- **Clock**: counts business days (see `bot.sla.calendar`) only while the item waits for a
  maintainer, minus snoozed spans. A snooze (`/snooze`, by the team) lasts until its date,
  until a later snooze replaces it, or until the next team response.
- **Overdue**: waiting for a maintainer, not snoozed now, and the clock is *more than* the
  phase's SLA (`first_response_days` or `follow_up_days`).
- **No longer waiting**: an item transferred away, deleted or converted to a discussion is
  gone (never reminded again); a locked item waits for nobody until unlocked; a draft pull
  request waits for nobody until `ready_for_review` (unless `sla.drafts_wait`).
- **The `awaiting-author` label**, set by the team or a bot (Veilleur included, after asking
  for missing information), hands the ball to the author like `/waiting-on author`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Protocol

from bot.config.schema import Sla
from bot.sla.calendar import BusinessCalendar
from bot.sla.codeowners import mention_handles, normalize_handle
from bot.sla.codeowners import responsible_people as responsible_people  # re-exported
from bot.storage.models import TimelineKind as K

TEAM = frozenset({"maintainer", "member", "internal_partner"})
OUTSIDE_AUTHORS = frozenset({"external", "partner"})
FIRST_RESPONSE, FOLLOW_UP = "first_response", "follow_up"
MAINTAINER, AUTHOR = "maintainer", "author"


def sla_setting(cfg: Any, name: str) -> Any:
    """`cfg.name` (or `cfg["name"]`, or `cfg.sla.name`), else the configuration schema's
    default (`bot.config.schema.Sla`: the one source of SLA defaults)."""
    if cfg is not None and not isinstance(cfg, Mapping):
        fields = getattr(type(cfg), "model_fields", None)  # pydantic: no failing getattr
        if ("sla" in fields) if fields is not None else hasattr(cfg, "sla"):
            cfg = cfg.sla
    value = cfg.get(name) if isinstance(cfg, Mapping) else getattr(cfg, name, None)
    return Sla.model_fields[name].default if value is None else value


class ItemLike(Protocol):  # bot.storage.models.Item fits
    author_login: str
    author_class: str | None
    state: str
    created_at: datetime


class EntryLike(Protocol):  # bot.storage.models.TimelineEntry fits
    kind: str
    occurred_at: datetime
    actor_login: str | None
    actor_class: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class WaitingState:
    waiting_on: str | None  # "maintainer" | "author" | None
    phase: str | None  # "first_response" | "follow_up" while waiting on a maintainer
    since: datetime | None  # start of the current wait (of the ball change when on the author)
    business_days_waiting: float  # clock time of the current wait (maintainer waits only)
    first_response_at: datetime | None
    snoozed_until: datetime | None  # only while the snooze is still running
    overdue: bool
    sla_days: float | None = None  # the SLA that applies to the current phase
    due_at: datetime | None = None  # when the clock passes the SLA if nothing changes
    escalate_at: datetime | None = None  # when it passes escalate_after_days
    gone: bool = False  # transferred away, deleted or converted to a discussion


def _utc(t: datetime) -> datetime:
    """SQLite hands back naive datetimes; the record stores UTC, so naive means UTC."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _parse_instant(value: Any) -> datetime | None:
    try:
        return _utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))
    except ValueError:
        return None


class _Tracker:
    """Replays the timeline, keeping the ball, the current wait and its clock segments."""

    def __init__(self, created_at: datetime, eligible: bool) -> None:
        self.eligible = eligible
        self.ball: str | None = None
        self.ball_since: datetime | None = None
        self.phase: str | None = FIRST_RESPONSE if eligible else None
        self.since: datetime | None = created_at if eligible else None
        self.segments: list[tuple[datetime, datetime]] = []
        self.seg_start: datetime | None = None
        self.snoozes: list[tuple[datetime, datetime]] = []
        self.first_response_at: datetime | None = None
        self.closed = False
        self.gone = False
        self.locked = False
        self.draft = False
        self.held: str | None = None  # the ball before a lock or a draft, given back after
        if eligible:
            self.set_ball(created_at, MAINTAINER)

    def hold(self, t: datetime) -> None:
        """Locked, or a draft: nobody owes a move; the ball comes back on unlock / ready."""
        if self.ball is not None:
            self.held = self.ball
        self.set_ball(t, None)

    def release(self, t: datetime) -> None:
        if self.locked or self.draft or self.closed or self.gone or not self.eligible:
            return
        if self.held == AUTHOR:
            self.set_ball(t, AUTHOR)
        elif self.held == MAINTAINER or self.phase is not None:
            if self.phase == FIRST_RESPONSE and self.since is None:
                self.since = t  # a draft's first wait starts when it is ready
            self.set_ball(t, MAINTAINER)
        self.held = None

    def set_ball(self, t: datetime, ball: str | None) -> None:
        if self.ball == MAINTAINER and ball != MAINTAINER and self.seg_start is not None:
            self.segments.append((self.seg_start, t))
            self.seg_start = None
        if ball == MAINTAINER and self.ball != MAINTAINER:
            self.seg_start = t
        if ball != self.ball:
            self.ball_since = t
        self.ball = ball

    def response(self, t: datetime, ball_after: str | None) -> None:
        self.first_response_at = self.first_response_at or t
        if self.locked or self.draft:
            self.held = ball_after
        else:
            self.set_ball(t, ball_after)
        self.phase, self.since, self.segments = None, None, []
        self.snooze(t, None)

    def author_moved(self, t: datetime) -> None:
        """The ball comes back to the team: resume the current wait, or start a follow-up."""
        if not self.eligible or self.closed or self.gone or self.ball == MAINTAINER:
            return
        if self.locked or self.draft:
            self.held = MAINTAINER
            if self.phase is None:
                self.phase, self.since, self.segments = FOLLOW_UP, t, []
            return
        if self.phase is None:
            self.phase, self.since, self.segments = FOLLOW_UP, t, []
        self.set_ball(t, MAINTAINER)

    def snooze(self, t: datetime, until: datetime | None) -> None:
        if self.snoozes and self.snoozes[-1][1] > t:  # a new snooze (or an end) replaces it
            start, _ = self.snoozes.pop()
            if start < t:
                self.snoozes.append((start, t))
        if until is not None and until > t:
            self.snoozes.append((t, until))

    def running_spans(self, now: datetime) -> list[tuple[datetime, datetime]]:
        """Clock spans of the current wait up to `now`, snoozes cut out."""
        spans = list(self.segments)
        if self.ball == MAINTAINER and self.seg_start is not None and self.seg_start < now:
            spans.append((self.seg_start, now))
        for s, u in self.snoozes:
            cut: list[tuple[datetime, datetime]] = []
            for a, b in spans:
                if u <= a or s >= b:
                    cut.append((a, b))
                    continue
                if a < s:
                    cut.append((a, s))
                if u < b:
                    cut.append((u, b))
            spans = cut
        return spans


def _is_bot(e: EntryLike, bots: frozenset[str]) -> bool:
    login = (e.actor_login or "").lower()
    kind_of_bot = e.actor_class == "bot" or getattr(e, "actor_type", None) == "Bot"
    return kind_of_bot or login in bots or login.endswith("[bot]")


def _command_only(detail: Mapping[str, Any]) -> bool:
    """A comment that only carries slash commands (`/snooze 3d`) answers nobody."""
    if detail.get("command"):
        return True
    lines = [ln.strip() for ln in str(detail.get("body") or "").splitlines() if ln.strip()]
    return bool(lines) and all(ln.startswith("/") for ln in lines)


def _team_response_ball(e: EntryLike, current: str | None) -> str | None:
    """Who holds the ball after a team response."""
    detail = e.detail or {}
    if e.kind in (K.CLOSED, K.MERGED):
        return None
    if e.kind == K.REVIEWED:
        state = str(detail.get("state", "")).lower()
        if state == "changes_requested":
            return AUTHOR
        if state == "approved":
            return None
    if detail.get("asks_author"):
        return AUTHOR
    return AUTHOR if current == AUTHOR else None


GONE_KINDS = frozenset({K.TRANSFERRED, K.DELETED, K.CONVERTED_TO_DISCUSSION})


def opened_as_draft(item: ItemLike, entries: Sequence[EntryLike]) -> bool:
    """Whether a pull request was a draft when opened: said by its `opened` entry, else
    deduced from its first draft change, else its current state."""
    for e in entries:
        if e.kind == K.OPENED and "draft" in (e.detail or {}):
            return bool(e.detail["draft"])
    for e in entries:
        if e.kind in (K.READY_FOR_REVIEW, K.CONVERTED_TO_DRAFT):
            return e.kind == K.READY_FOR_REVIEW
    return bool(getattr(item, "draft", False))


def replay(
    item: ItemLike,
    entries: Iterable[EntryLike],
    bot_logins: Iterable[str],
    *,
    in_order: bool = False,
    balls: list[str | None] | None = None,
    author_label: str = "awaiting-author",
    drafts_wait: bool = False,
) -> _Tracker:
    """Fold the entries into a `_Tracker`. `in_order`: the entries are already sorted by
    time (the digest's tracks), so they are not sorted again. `balls` receives who holds
    the ball after each entry, so one replay answers "who owed the next move" at every
    instant. `author_label`: the configured `awaiting-author` label."""
    author = (item.author_login or "").lower()
    eligible = item.author_class in OUTSIDE_AUTHORS
    created = _utc(item.created_at)
    tr = _Tracker(created, eligible)
    bots = frozenset(b.lower() for b in bot_logins)
    ordered = entries if in_order else sorted(entries, key=lambda x: _utc(x.occurred_at))
    if not isinstance(ordered, Sequence):
        ordered = list(ordered)
    if eligible and not drafts_wait and getattr(item, "kind", None) == "pull":
        if opened_as_draft(item, ordered):
            tr.draft = True
            tr.since = None
            tr.hold(created)
    for e in ordered:
        t, detail = _utc(e.occurred_at), e.detail or {}
        is_author = bool(author) and (e.actor_login or "").lower() == author
        is_bot = not is_author and _is_bot(e, bots)
        is_team = not is_author and not is_bot and e.actor_class in TEAM
        trusted = is_team or is_bot or (e.actor_class is None and not is_author)
        if e.kind in (K.COMMENTED, K.REVIEWED):
            if is_author:
                tr.author_moved(t)
            elif is_team and not (e.kind == K.COMMENTED and _command_only(detail)):
                tr.response(t, _team_response_ball(e, tr.ball))
        elif e.kind in (K.CLOSED, K.MERGED):
            if is_team:
                tr.response(t, None)
            tr.set_ball(t, None)
            tr.closed = True
        elif e.kind == K.REOPENED:
            tr.closed = False
            if is_author or tr.phase is not None:
                tr.author_moved(t)
        elif e.kind in (K.PUSHED, K.READY_FOR_REVIEW):
            if is_author:
                tr.author_moved(t)
        elif e.kind == K.WAITING_ON:
            who = detail.get("who")
            if who == AUTHOR and trusted:
                tr.set_ball(t, AUTHOR)
            elif who == MAINTAINER and (is_author or trusted):
                tr.author_moved(t)
        elif e.kind == K.SNOOZED and trusted:
            tr.snooze(t, _parse_instant(detail.get("until")))
        elif e.kind == K.LABELED and trusted and detail.get("label") == author_label:
            if tr.ball == MAINTAINER:
                tr.set_ball(t, AUTHOR)
            elif tr.ball is None and (tr.locked or tr.draft):
                tr.held = AUTHOR
        elif e.kind in GONE_KINDS:
            tr.gone = True
            tr.set_ball(t, None)
        elif e.kind == K.LOCKED:
            tr.locked = True
            tr.hold(t)
        elif e.kind == K.UNLOCKED and tr.locked:
            tr.locked = False
            tr.release(t)
        elif e.kind == K.CONVERTED_TO_DRAFT and not drafts_wait and not tr.draft:
            tr.draft = True
            tr.hold(t)
        if e.kind == K.READY_FOR_REVIEW and tr.draft:
            tr.draft = False
            tr.release(t)
        if balls is not None:
            balls.append(tr.ball)
    return tr


def _instant_reaching(
    target: Fraction,
    spans: Sequence[tuple[datetime, datetime]],
    resume_at: datetime | None,
    calendar: BusinessCalendar,
) -> datetime | None:
    """When the clock reaches `target`: inside a past span, or projected from `resume_at`."""
    acc = Fraction(0)
    for a, b in spans:
        part = calendar.business_time_between(a, b)
        if acc + part >= target:
            return calendar.add_business_days(a, target - acc)
        acc += part
    return None if resume_at is None else calendar.add_business_days(resume_at, target - acc)


def waiting_state(
    item: ItemLike,
    entries: Iterable[EntryLike],
    now: datetime,
    calendar: BusinessCalendar,
    bot_logins: Iterable[str] = (),
    sla: Any = None,
    author_label: str = "awaiting-author",
) -> WaitingState:
    """The item's waiting state at `now`, from its timeline alone."""
    now = _utc(now)
    tr = replay(
        item,
        [e for e in entries if _utc(e.occurred_at) <= now],
        bot_logins,
        author_label=author_label,
        drafts_wait=bool(sla_setting(sla, "drafts_wait")),
    )
    snoozed_until = tr.snoozes[-1][1] if tr.snoozes and tr.snoozes[-1][1] > now else None
    if item.state != "open" or not tr.eligible or tr.ball is None:
        return WaitingState(
            None, None, None, 0.0, tr.first_response_at, snoozed_until, False, gone=tr.gone
        )
    if tr.ball == AUTHOR:  # the clock is stopped; `since` is when the ball went to the author
        return WaitingState(AUTHOR, None, tr.ball_since, 0.0, tr.first_response_at, None, False)
    spans = tr.running_spans(now)
    clock = sum((calendar.business_time_between(a, b) for a, b in spans), Fraction(0))
    name = "first_response_days" if tr.phase == FIRST_RESPONSE else "follow_up_days"
    sla_days = float(sla_setting(sla, name))
    target = Fraction(sla_days)
    resume_at = max(now, snoozed_until) if snoozed_until else now
    escalate = Fraction(float(sla_setting(sla, "escalate_after_days")))
    return WaitingState(
        waiting_on=MAINTAINER,
        phase=tr.phase,
        since=tr.since,
        business_days_waiting=float(clock),
        first_response_at=tr.first_response_at,
        snoozed_until=snoozed_until,
        overdue=snoozed_until is None and clock > target,
        sla_days=sla_days,
        due_at=_instant_reaching(target, spans, resume_at, calendar),
        escalate_at=_instant_reaching(escalate, spans, resume_at, calendar),
    )


# --- reminders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderHistory:
    """What was already sent for the current wait (read back from action_log keys)."""

    sent_at: tuple[datetime, ...] = ()  # reminders, oldest first
    escalated_at: datetime | None = None


@dataclass(frozen=True)
class ReminderStep:
    """One intended reminder or escalation; carry it out at most once, keyed by `key`."""

    key: str  # e.g. "sla:owner/repo#12:first_response:reminder:1"
    item: str  # "owner/repo#12"
    stage: str  # "reminder" | "escalation"
    number: int  # reminder number (1..max_reminders); 0 for the escalation
    phase: str
    mention: tuple[str, ...]  # handles (without "@") to @-mention
    listed_only: tuple[str, ...]  # over their daily mention cap: name them, do not ping
    business_days_waiting: float
    since: datetime | None


def wait_key(item_ref: str, state: WaitingState) -> str:
    """Stable identity of the current wait: one first-response wait per item, and one per
    follow-up (stamped with its start, so each follow-up gets its own reminders)."""
    phase = state.phase or "none"
    if phase == FOLLOW_UP and state.since is not None:
        phase += "@" + _utc(state.since).strftime("%Y%m%dT%H%M%SZ")
    return f"sla:{item_ref}:{phase}"


def reminder_history(
    item_ref: str, state: WaitingState, done: Mapping[str, datetime]
) -> ReminderHistory:
    """Rebuild the history of the current wait from done keys (action_log: key -> done_at)."""
    prefix = wait_key(item_ref, state)
    sent: list[tuple[int, datetime]] = []
    for key, at in done.items():
        if key.startswith(prefix + ":reminder:"):
            tail = key.rsplit(":", 1)[1]
            if tail.isdigit():
                sent.append((int(tail), _utc(at)))
    escalated = done.get(prefix + ":escalation")
    escalated_at = None if escalated is None else _utc(escalated)
    return ReminderHistory(tuple(at for _, at in sorted(sent)), escalated_at)


def plan_reminders(
    state: WaitingState,
    item_ref: str,
    sla_cfg: Any,
    history: ReminderHistory,
    now: datetime,
    calendar: BusinessCalendar,
    responsible: Sequence[str],
    mentions_today: Mapping[str, int],
    escalate_to: Sequence[str] = (),
    *,
    check_hours: bool = True,
) -> list[ReminderStep]:
    """At most one step per sweep (overdue waits, working hours only): the escalation once
    the clock passes `escalate_after_days` (to `escalate_to`, else `responsible`), otherwise
    reminder k+1 if k < `max_reminders` and `remind_every_days` business days have passed
    since the last reminder or escalation. People already mentioned
    `max_mentions_per_person_per_day` times today (`mentions_today`) are listed, not pinged.
    `check_hours=False`: the caller checks each recipient's own hours (bot/sla/nag.py).
    """
    due = state.waiting_on == MAINTAINER and state.overdue and state.phase is not None
    if not due or (check_hours and not calendar.is_working_time(now)):
        return []
    prefix = wait_key(item_ref, state)
    waited = state.business_days_waiting
    if history.escalated_at is None and waited > float(sla_setting(sla_cfg, "escalate_after_days")):
        stage, number, key = "escalation", 0, f"{prefix}:escalation"
        people = mention_handles(escalate_to) or mention_handles(responsible)
    else:
        count = len(history.sent_at)
        if count >= int(sla_setting(sla_cfg, "max_reminders")):
            return []
        contacts = [*history.sent_at, *([history.escalated_at] if history.escalated_at else [])]
        if contacts:
            every = float(sla_setting(sla_cfg, "remind_every_days"))
            if calendar.business_days_between(max(contacts), now) < every:
                return []
        stage, number, key = "reminder", count + 1, f"{prefix}:reminder:{count + 1}"
        people = mention_handles(responsible)
    cap = int(sla_setting(sla_cfg, "max_mentions_per_person_per_day"))
    counts = {normalize_handle(k).lower(): v for k, v in mentions_today.items()}
    mention = tuple(p for p in people if counts.get(p.lower(), 0) < cap)
    listed = tuple(p for p in people if counts.get(p.lower(), 0) >= cap)
    phase = state.phase or ""
    return [ReminderStep(key, item_ref, stage, number, phase, mention, listed, waited, state.since)]


# --- shared with the OSPO digest (bot/digest/metrics.py) --------------------------------------


def is_response(e: EntryLike, author_login: str, bot_logins: frozenset[str]) -> bool:
    """Whether `e` is a **response** (see the module docstring) to an item by `author_login`.

    `bot_logins` must already be lower-cased."""
    login = (e.actor_login or "").lower()
    if e.kind not in (K.COMMENTED, K.REVIEWED, K.CLOSED, K.MERGED) or e.actor_class not in TEAM:
        return False
    if (author_login and login == author_login.lower()) or _is_bot(e, bot_logins):
        return False
    return not (e.kind == K.COMMENTED and _command_only(e.detail or {}))


def ball_holder(
    item: ItemLike, entries: Iterable[EntryLike], bot_logins: Iterable[str] = ()
) -> str | None:
    """Who owes the next move once `entries` (cut at the instant by the caller) are replayed:
    "maintainer", "author" or None, with `waiting_state`'s rules but without its clock
    arithmetic (cheap enough to ask at many instants)."""
    tr = replay(item, entries, bot_logins)
    if item.state != "open" or not tr.eligible:
        return None
    return tr.ball


def waiting_clock(
    item: ItemLike,
    entries: Iterable[EntryLike],
    now: datetime,
    calendar: BusinessCalendar,
    bot_logins: Iterable[str] = (),
    sla: Any = None,
) -> tuple[str | None, float, bool]:
    """`waiting_state`'s (waiting_on, business_days_waiting, overdue), without the due and
    escalation instants: the digest asks it for thousands of items at once."""
    now = _utc(now)
    tr = replay(item, [e for e in entries if _utc(e.occurred_at) <= now], bot_logins)
    return clock_of(item, tr, now, calendar, sla)


def clock_of(
    item: ItemLike, tr: _Tracker, now: datetime, calendar: BusinessCalendar, sla: Any = None
) -> tuple[str | None, float, bool]:
    """`waiting_clock` from a replay already done (of the entries up to `now`)."""
    now = _utc(now)
    if item.state != "open" or not tr.eligible or tr.ball is None:
        return None, 0.0, False
    if tr.ball == AUTHOR:
        return AUTHOR, 0.0, False
    snoozed = bool(tr.snoozes) and tr.snoozes[-1][1] > now
    clock = sum(
        (calendar.business_time_between(a, b) for a, b in tr.running_spans(now)), Fraction(0)
    )
    name = "first_response_days" if tr.phase == FIRST_RESPONSE else "follow_up_days"
    overdue = not snoozed and clock > Fraction(float(sla_setting(sla, name)))
    return MAINTAINER, float(clock), overdue


def answer_by(opened_at: datetime, cfg: Any) -> datetime:
    """When the first answer to an item opened at `opened_at` is due (the welcome says it):
    `first_response_days` business days of the repository's calendar later, on its wall
    clock."""
    calendar = BusinessCalendar.from_config(cfg.calendar)
    due = calendar.add_business_days(opened_at, Fraction(cfg.sla.first_response_days))
    return due.astimezone(calendar.tz)
