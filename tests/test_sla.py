"""SLA engine: waiting state from hand-made timelines, and the reminder plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config.schema import Sla
from bot.sla.calendar import BusinessCalendar
from bot.sla.rules import (
    ReminderHistory,
    WaitingState,
    plan_reminders,
    reminder_history,
    responsible_people,
    wait_key,
    waiting_state,
)
from bot.storage.models import Item, TimelineEntry

PARIS = ZoneInfo("Europe/Paris")
CAL = BusinessCalendar()
BOTS = ("veilleur[bot]", "ci-helper")
REF = "owner/repo#12"


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    """June 2026 in Paris: Mon 1, Tue 2, ... Fri 5, Mon 8 ... (no holidays)."""
    return datetime(2026, 6, day, hour, minute, tzinfo=PARIS)


@dataclass
class It:
    author_login: str = "alice"
    author_class: str | None = "external"
    state: str = "open"
    created_at: datetime = field(default_factory=lambda: at(1))
    kind: str = "issue"


@dataclass
class E:
    kind: str
    occurred_at: datetime
    actor_login: str | None
    actor_class: str | None
    detail: dict[str, Any] = field(default_factory=dict)


def author(kind: str, when: datetime, **detail: Any) -> E:
    return E(kind, when, "alice", "external", detail)


def team(kind: str, when: datetime, who: str = "mo", cls: str = "maintainer", **detail: Any) -> E:
    return E(kind, when, who, cls, detail)


def state(entries: list[E], now: datetime, item: It | None = None, **kw: Any) -> WaitingState:
    return waiting_state(item or It(), entries, now, CAL, BOTS, **kw)


# --- waiting state ----------------------------------------------------------------------------


def test_unanswered_item_waits_and_becomes_overdue_after_three_days() -> None:
    s = state([author("opened", at(1))], at(4))
    assert (s.waiting_on, s.phase, s.since) == ("maintainer", "first_response", at(1))
    assert s.business_days_waiting == 3.0 and s.sla_days == 3.0
    assert not s.overdue and s.due_at == at(4)
    assert state([], at(4, 10, 1)).overdue
    assert state([], at(11)).escalate_at == at(15)


def test_bastille_day_deadline() -> None:
    item = It(created_at=datetime(2026, 7, 10, 16, tzinfo=PARIS))
    s = waiting_state(
        item, [], datetime(2026, 7, 13, 12, tzinfo=PARIS), CAL, sla={"first_response_days": 2}
    )
    assert s.due_at == datetime(2026, 7, 15, 16, tzinfo=PARIS)
    before = datetime(2026, 7, 15, 15, 59, tzinfo=PARIS)
    after = datetime(2026, 7, 15, 16, 1, tzinfo=PARIS)
    assert not waiting_state(item, [], before, CAL, sla={"first_response_days": 2}).overdue
    assert waiting_state(item, [], after, CAL, sla={"first_response_days": 2}).overdue


@pytest.mark.parametrize(
    ("entry", "counts"),
    [
        (team("commented", at(2)), True),
        (team("reviewed", at(2), state="commented"), True),
        (team("commented", at(2), who="mia", cls="member"), True),
        (team("commented", at(2), who="sup", cls="internal_partner"), True),
        (team("closed", at(2)), True),
        (team("labeled", at(2), label="bug"), False),
        (team("assigned", at(2), assignee="mo"), False),
        (team("review_requested", at(2)), False),
        (E("commented", at(2), "renovate[bot]", "bot"), False),
        (E("commented", at(2), "veilleur[bot]", None), False),
        (E("commented", at(2), "ci-helper", "maintainer"), False),  # configured bot login
        (author("commented", at(2)), False),
        (E("commented", at(2), "bob", "external"), False),  # another outsider's +1
        (team("commented", at(2), body="/snooze 3d"), False),  # a command is no answer
        (team("commented", at(2), body="/label bug\nThanks! Looking into it."), True),
    ],
)
def test_what_counts_as_a_response(entry: E, counts: bool) -> None:
    s = state([entry], at(5))
    if counts:
        assert s.first_response_at == at(2) and s.waiting_on is None
    else:
        assert s.first_response_at is None
        assert (s.waiting_on, s.phase, s.since) == ("maintainer", "first_response", at(1))
        assert s.business_days_waiting == 4.0 and s.overdue


def test_author_reply_starts_a_follow_up() -> None:
    entries = [
        team("commented", at(2)),
        author("commented", at(3)),
        author("commented", at(4)),  # a second message does not restart the clock
        E("labeled", at(4), "mo", "maintainer", {}),
    ]
    s = state(entries, at(8))
    assert (s.waiting_on, s.phase, s.since) == ("maintainer", "follow_up", at(3))
    assert s.first_response_at == at(2) and s.business_days_waiting == 3.0 and s.sla_days == 5.0
    assert not state(entries, at(10)).overdue and state(entries, at(10, 10, 1)).overdue
    assert state([*entries, team("commented", at(9))], at(10, 11)).waiting_on is None


@pytest.mark.parametrize("move", ["commented", "pushed", "ready_for_review", "reviewed"])
def test_changes_requested_stops_the_clock_until_the_author_moves(move: str) -> None:
    review = team("reviewed", at(2), state="changes_requested")
    s = state([review], at(8))
    assert (s.waiting_on, s.since, s.business_days_waiting) == ("author", at(2), 0.0)
    assert not s.overdue
    s = state([review, team("commented", at(3)), author(move, at(4))], at(5))
    assert (s.waiting_on, s.phase, s.since, s.business_days_waiting) == (
        "maintainer",
        "follow_up",
        at(4),
        1.0,
    )


def test_question_and_approval_move_the_ball() -> None:
    assert state([team("commented", at(2), asks_author=True)], at(8)).waiting_on == "author"
    asked = team("commented", at(2), asks_author=True)
    assert state([asked, team("commented", at(3))], at(8)).waiting_on == "author"
    approved = team("reviewed", at(3), state="approved")
    assert state([asked, approved], at(8)).waiting_on is None


def test_ready_command_and_waiting_on_commands() -> None:
    ready = E("waiting_on", at(3), "alice", "external", {"who": "maintainer"})
    s = state([team("commented", at(2)), ready], at(4))
    assert (s.phase, s.since) == ("follow_up", at(3))
    # `/waiting-on author` without a comment pauses the first-response wait; it resumes later.
    pause = E("waiting_on", at(2), "veilleur[bot]", "bot", {"who": "author"})
    s = state([pause], at(4))
    assert (s.waiting_on, s.first_response_at) == ("author", None)
    s = state([pause, author("commented", at(4))], at(5))
    assert (s.phase, s.since, s.business_days_waiting) == ("first_response", at(1), 2.0)
    # An outsider cannot park the item on its author.
    assert state([author("waiting_on", at(2), who="author")], at(4)).waiting_on == "maintainer"


def test_snooze_pauses_the_clock() -> None:
    snooze = team("snoozed", at(2), until=at(4).astimezone(UTC).isoformat())
    during = state([snooze], at(3))
    assert during.snoozed_until == at(4).astimezone(UTC) and not during.overdue
    assert during.business_days_waiting == 1.0 and during.due_at == at(6 + 2)  # Mon 8 10:00
    after = state([snooze], at(5))
    assert after.snoozed_until is None and after.business_days_waiting == 2.0
    # An overdue item stops being overdue while snoozed, and resumes afterwards.
    late = team("snoozed", at(8), until="2026-06-10T08:00:00Z")
    assert state([late], at(8, 11)).snoozed_until is not None
    assert not state([late], at(9)).overdue and state([late], at(10, 11)).overdue
    # A later snooze replaces the earlier one; `/snooze 0d` ends it.
    cancel = team("snoozed", at(3), until=at(3).isoformat())
    assert state([snooze, cancel], at(5)).business_days_waiting == 3.0
    # The author cannot snooze their own item.
    assert state([author("snoozed", at(2), until=at(9).isoformat())], at(5)).overdue


def test_a_team_response_ends_the_snooze() -> None:
    entries = [
        team("snoozed", at(2), until=at(12).isoformat()),
        team("commented", at(3)),
        author("commented", at(4)),
    ]
    s = state(entries, at(5))
    assert s.snoozed_until is None and (s.phase, s.business_days_waiting) == ("follow_up", 1.0)


def test_not_waiting_when_closed_or_from_the_team() -> None:
    assert state([], at(8), It(state="closed")).waiting_on is None
    assert state([team("merged", at(2))], at(8)).first_response_at == at(2)
    for cls in ("maintainer", "member", "internal_partner", "bot", None):
        assert state([], at(8), It(author_class=cls)).waiting_on is None
    assert state([], at(8), It(author_class="partner")).overdue
    # Closed by the author, reopened by the author: the first-response wait resumes.
    entries = [author("closed", at(2)), author("commented", at(3)), author("reopened", at(4))]
    s = state(entries, at(5))
    assert (s.phase, s.business_days_waiting) == ("first_response", 2.0)


def test_future_entries_and_naive_sqlite_datetimes() -> None:
    assert state([team("commented", at(9))], at(5)).first_response_at is None
    naive = E("commented", datetime(2026, 6, 2, 8), "mo", "maintainer")  # UTC, as SQLite returns
    item = It(created_at=datetime(2026, 6, 1, 8))
    s = waiting_state(item, [naive], datetime(2026, 6, 5, 8), CAL, BOTS)
    assert s.first_response_at == at(2)


def test_storage_models_fit() -> None:
    item = Item(
        repo_full_name="owner/repo",
        owner="owner",
        number=12,
        kind="pull",
        author_login="Alice",
        author_class="external",
        created_at=at(1),
    )
    entries = [
        TimelineEntry(
            repo_full_name="owner/repo",
            number=12,
            occurred_at=at(2),
            kind="reviewed",
            actor_login="mo",
            actor_class="maintainer",
            source_key="review:1",
            detail={"state": "changes_requested"},
        ),
        TimelineEntry(
            repo_full_name="owner/repo",
            number=12,
            occurred_at=at(3),
            kind="pushed",
            actor_login="alice",
            actor_class="external",
            source_key="push:1",
        ),
    ]
    s = waiting_state(item, entries, at(4), CAL, BOTS, Sla())
    assert (s.waiting_on, s.phase, s.since) == ("maintainer", "follow_up", at(3))


# --- reminders --------------------------------------------------------------------------------

SLA = SimpleNamespace(
    first_response_days=3,
    follow_up_days=5,
    remind_every_days=2,
    escalate_after_days=10,
    max_reminders=3,
    max_mentions_per_person_per_day=5,
)


def plan(now: datetime, history: ReminderHistory = ReminderHistory(), **kw: Any) -> list[Any]:
    s = state(kw.pop("entries", []), now)
    args: dict[str, Any] = {"responsible": ["@mo", "lea"], "mentions_today": {}, **kw}
    return plan_reminders(s, REF, SLA, history, now, CAL, **args)


def test_first_reminder_when_overdue_inside_working_hours() -> None:
    assert plan(at(4)) == []  # exactly 3 days: not yet overdue
    [step] = plan(at(4, 11))
    assert step.key == "sla:owner/repo#12:first_response:reminder:1"
    assert (step.stage, step.number, step.phase) == ("reminder", 1, "first_response")
    assert step.mention == ("mo", "lea") and step.listed_only == ()
    assert plan(at(4, 19)) == []  # after working hours
    assert plan(at(6, 11)) == []  # Saturday


def test_reminders_are_spaced_and_capped() -> None:
    one = ReminderHistory(sent_at=(at(4, 11),))
    assert plan(at(5, 11), one) == []  # one business day later
    [step] = plan(at(8, 11), one)  # Thu -> Mon: two business days
    assert step.key.endswith(":reminder:2")
    three = ReminderHistory(sent_at=(at(4, 11), at(8, 11), at(10, 11)))
    assert plan(at(12, 11), three) == []  # max_reminders reached (and not yet escalation time)


def test_escalation_once_then_reminders_resume_spaced() -> None:
    three = ReminderHistory(sent_at=(at(4, 11), at(8, 11), at(10, 11)))
    [step] = plan(at(15, 11), three, escalate_to=["@org/ospo"])  # 10 days + 1 hour
    assert step.key == "sla:owner/repo#12:first_response:escalation"
    assert (step.stage, step.number, step.mention) == ("escalation", 0, ("org/ospo",))
    assert plan(at(16, 11), ReminderHistory(three.sent_at, at(15, 11))) == []
    fewer = ReminderHistory((at(4, 11),), escalated_at=at(15, 11))
    assert plan(at(16, 11), fewer) == []  # spaced from the escalation
    assert plan(at(17, 11), fewer)[0].key.endswith(":reminder:2")
    assert plan(at(15, 11))[0].mention == ("mo", "lea")  # no OSPO team: the responsible


def test_daily_mention_cap_lists_instead_of_pinging() -> None:
    [step] = plan(at(4, 11), mentions_today={"@Mo": 5, "lea": 4})
    assert step.mention == ("lea",) and step.listed_only == ("mo",)


def test_no_reminder_when_not_waiting_or_snoozed() -> None:
    assert plan(at(8, 11), entries=[team("commented", at(2))]) == []
    snooze = team("snoozed", at(8), until=at(12).isoformat())
    assert plan(at(9, 11), entries=[snooze]) == []


def test_sweeps_never_remind_twice() -> None:
    """Sweep every 20 minutes for four weeks, replaying crashes and concurrent sweeps."""
    done: dict[str, datetime] = {}  # the action_log
    posted: list[tuple[str, datetime]] = []
    now = at(1)
    while now < at(29):
        s = state([], now)
        steps = []
        for _ in range(2):  # two concurrent sweeps plan the same thing
            history = reminder_history(REF, s, done)
            steps += plan_reminders(s, REF, SLA, history, now, CAL, ["mo"], {}, ["org/ospo"])
        assert len({x.key for x in steps}) <= 1
        for x in steps:
            if x.key not in done:  # insert-or-ignore on the primary key
                done[x.key] = now
                posted.append((x.key, now))
        now += timedelta(minutes=20)
    keys = [k for k, _ in posted]
    assert len(keys) == len(set(keys)) == 4
    assert sorted(k.rsplit(":", 1)[1] for k in keys) == ["1", "2", "3", "escalation"]
    times = [t for _, t in posted]
    for a, b in zip(times, times[1:], strict=False):
        assert CAL.business_days_between(a, b) >= 2 or b == at(15, 10, 20)


def test_follow_up_waits_have_their_own_keys() -> None:
    first = [team("commented", at(2)), author("commented", at(3))]
    second = [*first, team("commented", at(11)), author("commented", at(12))]
    k1, k2 = wait_key(REF, state(first, at(11))), wait_key(REF, state(second, at(22)))
    assert k1 == "sla:owner/repo#12:follow_up@20260603T080000Z" and k1 != k2
    done = {k1 + ":reminder:1": at(11), k1 + ":reminder:2": at(12)}
    assert reminder_history(REF, state(first, at(15)), done).sent_at == (
        at(11).astimezone(UTC),
        at(12).astimezone(UTC),
    )
    assert reminder_history(REF, state(second, at(22)), done) == ReminderHistory()


def test_sla_settings_by_mapping_or_defaults() -> None:
    s = state([], at(4, 11))
    assert plan_reminders(s, REF, None, ReminderHistory(), at(4, 11), CAL, ["mo"], {})
    assert not plan_reminders(
        s, REF, {"max_reminders": 0}, ReminderHistory(), at(4, 11), CAL, ["mo"], {}
    )
    assert (
        state(
            [], at(4, 11), sla=SimpleNamespace(sla=SimpleNamespace(first_response_days=5))
        ).sla_days
        == 5
    )


def test_responsible_people_first_non_empty_group() -> None:
    assert responsible_people(["@Ann"], ["rev"], ["@own"], ["mo"], ["org/team"]) == ("Ann",)
    assert responsible_people([], ["rev", "@Rev"], ["@own"]) == ("rev",)
    assert responsible_people([], [], ["docs@example.com", "@org/docs"], ["mo"]) == ("org/docs",)
    assert responsible_people([], [], ["docs@example.com"], ["@mo", "dependabot[bot]"]) == ("mo",)
    assert responsible_people([], [], [], [], ["org/maintainers"]) == ("org/maintainers",)
    assert responsible_people() == ()
