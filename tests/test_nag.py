"""Reminders that do not nag (bot/sla/nag.py), people's hours and absences (bot/sla/availability.py),
daily mode (bot/sla/daily.py), the attention budget (bot/sla/attention_budget.py) and the sweep's
plan (bot/sla/reminder_plan.py): pure rules, one test each."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config.schema import VeilleurConfig
from bot.sla import attention_budget as budget
from bot.sla import nag
from bot.sla.availability import PeopleBook, commanded_absences, in_working_hours, route
from bot.sla.calendar import BusinessCalendar
from bot.sla.daily import plan_daily, scopes_of_day
from bot.sla.reminder_plan import Candidate, RepoState, plan_item, plan_org
from bot.sla.rules import ReminderHistory, ReminderStep, waiting_state

PARIS = ZoneInfo("Europe/Paris")
CFG = VeilleurConfig()  # first response 3 days, remind every 2, escalate after 10
CAL = BusinessCalendar.from_config(CFG.calendar)
BOTS = ("veilleur[bot]",)
REF = "acme/app#12"


def at(day: int, hour: int = 10) -> datetime:
    """June 2026 in Paris: Mon 1 ... Fri 5, Mon 8 ... (no holidays)."""
    return datetime(2026, 6, day, hour, tzinfo=PARIS)


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


def step(mention: tuple[str, ...] = ("mo", "lea"), stage: str = "reminder", **kw: Any) -> Any:
    data: dict[str, Any] = dict(
        key=f"sla:{REF}:first_response:{stage}",
        item=REF,
        stage=stage,
        number=1,
        phase="first_response",
        mention=mention,
        listed_only=(),
        business_days_waiting=4.0,
        since=at(1),
    )
    data.update(kw)
    return ReminderStep(**data)


def screen(entries: list[E], now: datetime, history: ReminderHistory = ReminderHistory(),
           s: Any = None, in_hours: Any = lambda p: True) -> nag.Screened:  # fmt: skip
    return nag.screen(
        s or step(), entries=entries, author="alice", bots=BOTS, history=history, now=now,
        calendar=CAL, remind_every_days=2, in_hours=in_hours,
    )  # fmt: skip


# -- 1. no reminder within a business day of a team member's action ------------------------------


def test_no_reminder_within_a_business_day_after_a_team_member_acted_in_any_way() -> None:
    for kind in ("labeled", "assigned", "review_requested", "commented"):
        acted = [E(kind, at(4, 16), "mo", "maintainer", {"body": "/label +bug"})]
        assert screen(acted, at(5, 10)).held == nag.ACTED_RECENTLY, kind
        assert screen(acted, at(5, 17)).step is not None, kind  # one business day later
    # the author's own moves and bots' do not count
    others = [E("commented", at(4, 16), "alice", "external"),
              E("labeled", at(4, 16), "veilleur[bot]", "bot")]  # fmt: skip
    assert screen(others, at(5, 10)).step is not None


def test_never_to_someone_who_acted_since_the_last_reminder() -> None:
    history = ReminderHistory(sent_at=(at(4, 11),))
    acted = [E("labeled", at(4, 15), "lea", "member")]
    out = screen(acted, at(8, 11), history)
    assert out.step is not None and out.step.mention == ("mo",)
    both = [*acted, E("assigned", at(4, 15), "mo", "maintainer")]
    assert screen(both, at(8, 11), history).held == nag.ACTED_SINCE_REMINDER


# -- 2. one open bot request per item ----------------------------------------------------------


def test_one_open_request_per_item_until_answered_or_older_than_remind_every() -> None:
    history = ReminderHistory(sent_at=(at(4, 11),))
    escalation = step(stage="escalation", mention=("acme/ospo",))
    assert screen([], at(5, 11), history, escalation).held == nag.OPEN_REQUEST
    assert screen([], at(8, 12), history, escalation).step is not None  # 2 business days old
    answered = [E("commented", at(4, 15), "alice", "external", {"body": "Any news?"})]
    assert screen(answered, at(5, 17), history, escalation).step is not None


# -- 3. caps per sweep: longest waits first, the rest carried, never dropped ---------------------


def test_caps_per_repository_and_organisation_carry_the_rest_in_wait_order() -> None:
    waits = {("a", 1): 9.0, ("a", 2): 8.0, ("a", 3): 7.0, ("b", 1): 6.5, ("b", 2): 6.0}
    items = [(r, n, w) for (r, n), w in waits.items()]
    kw: dict[str, Any] = dict(
        repo_of=lambda c: c[0], wait_of=lambda c: c[2], ref_of=lambda c: f"{c[0]}#{c[1]}",
        per_repo={"a": 2, "b": 2}, per_org=3,
    )  # fmt: skip
    sent, carried = nag.cap(items, **kw)
    assert [(r, n) for r, n, _ in sent] == [("a", 1), ("a", 2), ("b", 1)]
    assert [(r, n) for r, n, _ in carried] == [("a", 3), ("b", 2)]
    later = [(r, n, w + 0.5) for r, n, w in carried]  # next sweep: still due, a bit older
    sent2, carried2 = nag.cap(later, **kw)
    assert [(r, n) for r, n, _ in sent2] == [("a", 3), ("b", 2)] and carried2 == []


# -- 4. working hours and absences --------------------------------------------------------------


def test_reminders_only_inside_the_recipients_own_working_hours() -> None:
    cfg = VeilleurConfig.model_validate({"people": {"lea": {"timezone": "America/New_York"}}})
    book = PeopleBook(cfg.people)

    def hours(now: datetime) -> Any:
        return lambda p: in_working_hours(p, now, book, CAL, cfg.calendar)

    morning = at(8, 10)  # 04:00 in New York
    out = screen([], morning, in_hours=hours(morning))
    assert out.step is not None and out.step.mention == ("mo",) and out.step.listed_only == ("lea",)
    only_lea = step(mention=("lea",))
    assert screen([], morning, s=only_lea, in_hours=hours(morning)).held == nag.OUTSIDE_HOURS
    afternoon = at(8, 16)  # 10:00 in New York
    assert screen([], afternoon, s=only_lea, in_hours=hours(afternoon)).step is not None
    evening = at(8, 20)  # Paris has left, New York works: lea can be reminded
    out = screen([], evening, in_hours=hours(evening))
    assert out.step is not None and out.step.mention == ("lea",)


def test_an_absent_person_is_skipped_for_the_next_responsible_people() -> None:
    cfg = VeilleurConfig.model_validate(
        {"people": {"mo": {"away": [{"from": "2026-06-08", "to": "2026-06-12"}]}}}
    )
    groups = [["mo"], [], [], ["hugo", "lea"], ["acme/core"]]
    book = PeopleBook(cfg.people)
    assert route(groups, at(5), book, CAL, cfg.calendar) == ["mo"]
    assert route(groups, at(8), book, CAL, cfg.calendar) == ["hugo", "lea"]
    away = [E("away", at(7), "hugo", "maintainer", {"until": "2026-06-30"})]
    book = PeopleBook(cfg.people, commanded_absences(away))
    assert route(groups, at(8), book, CAL, cfg.calendar) == ["lea"]
    back = [*away, E("away", at(8, 9), "hugo", "maintainer", {"until": None})]  # /away off
    book = PeopleBook(cfg.people, commanded_absences(back))
    assert route(groups, at(8), book, CAL, cfg.calendar) == ["hugo", "lea"]


def test_plan_item_holds_a_reminder_when_everyone_is_away() -> None:
    s = waiting_state(It(), [], at(8, 11), CAL, BOTS, sla=CFG.sla)
    common: dict[str, Any] = dict(
        repo="acme/app", number=12, author="alice", state=s, entries=[], waiting=None,
        escalate_to=[], history=ReminderHistory(), cfg=CFG, calendar=CAL, book=PeopleBook(),
        bots=BOTS, mentions_today={}, now=at(8, 11),
    )  # fmt: skip
    planned = plan_item(responsible=["mo"], **common)
    assert planned.candidate is not None and planned.candidate.step.mention == ("mo",)
    assert plan_item(responsible=[], everyone_away=True, **common).held == nag.NOBODY
    # nobody configured at all: the reminder still goes to the item's watchers, as before
    unnamed = plan_item(responsible=[], **common).candidate
    assert unnamed is not None and unnamed.step.mention == ()


def test_people_over_their_daily_cap_are_still_named_in_working_hours() -> None:
    listed = step(mention=(), listed_only=("mo",))
    out = screen([], at(8, 11), s=listed)
    assert out.step is not None and out.step.listed_only == ("mo",)
    assert screen([], at(8, 20), s=listed).held == nag.OUTSIDE_HOURS


# -- 5. daily mode ------------------------------------------------------------------------------


@dataclass
class W:
    repo: str
    number: int
    business_days: float
    responsible: list[str]
    title: str = "t"
    overdue: bool = True


def test_daily_mode_lists_every_item_waiting_on_each_person_once() -> None:
    waiting = [
        W("acme/a", 1, 4, ["mo"]),
        W("acme/a", 2, 6, ["mo", "lea"]),
        W("acme/b", 3, 5, ["lea"]),
    ]
    notices = plan_daily(["mo", "@Lea", "mo"], waiting, "acme", "2026-06-08")
    assert [(n.login, n.scope) for n in notices] == [("mo", "acme/a"), ("lea", "acme")]
    assert [w.number for w in notices[0].items] == [2, 1]  # longest wait first
    assert notices[0].key == "daily:acme/a:mo:2026-06-08"
    split = plan_daily(["lea"], waiting, "acme", "2026-06-08", org_issue=False)
    assert [(n.scope, [w.number for w in n.items]) for n in split] == [
        ("acme/a", [2]), ("acme/b", [3])
    ]  # fmt: skip
    # lea's list of the day is already in acme/b's issue: it stays there, listing everything
    keys = ["mention:2026-06-08:lea:daily:acme/b:lea:2026-06-08", "mention:2026-06-08:mo:x:1"]
    today = scopes_of_day(keys, "2026-06-08")
    assert today == {"lea": "acme/b"}
    (again,) = plan_daily(["lea"], waiting, "acme", "2026-06-08", scopes_today=today)
    assert again.scope == "acme/b" and [w.number for w in again.items] == [2, 3]


def _state(
    repo: str, cands: list[Candidate], cfg: Any = CFG, bot: int = 0, total: int = 100
) -> Any:
    waiting = [c.waiting for c in cands]
    return RepoState(repo, cfg, "2026-06-08", waiting, cands, budget.CommentCounts(bot, total))


def _cand(repo: str, n: int, wait: float, who: tuple[str, ...]) -> Candidate:
    return Candidate(repo, n, "alice", step(mention=who, item=f"{repo}#{n}",
                     business_days_waiting=wait, key=f"sla:{repo}#{n}:r:1"),
                     W(repo, n, wait, list(who)))  # fmt: skip


def test_plan_org_in_daily_mode_groups_reminders_into_one_notice_per_person() -> None:
    daily = VeilleurConfig.model_validate({"sla": {"reminders": "daily"}})
    cands = [_cand("acme/a", 1, 5, ("mo",)), _cand("acme/a", 2, 4, ("mo",))]
    plan = plan_org("acme", [_state("acme/a", cands, daily)], {}, org_issue=True)
    assert plan.item_steps == [] and len(plan.daily_steps) == 2
    assert [(n.login, len(n.items)) for n in plan.notices] == [("mo", 2)]
    item = plan_org("acme", [_state("acme/a", cands)], {}, org_issue=True)
    assert len(item.item_steps) == 2 and item.notices == []


# -- 6. attention budget ------------------------------------------------------------------------


def test_bot_comment_share_switches_the_repository_to_daily_and_says_why() -> None:
    # reminded before (their contributors' notes are done): one list for mo writes less
    cands = [
        replace(_cand("acme/a", i, 5 - i * 0.1, ("mo",)), history=ReminderHistory((at(1),)))
        for i in range(3)
    ]
    plan = plan_org("acme", [_state("acme/a", cands, bot=24, total=100)], {}, org_issue=True)
    assert plan.modes["acme/a"] == "daily" and plan.item_steps == []
    (d,) = plan.decisions
    assert (d.rule, d.outcome, d.limit) == (budget.SHARE, budget.SWITCHED_TO_DAILY, 0.25)
    assert budget.parse_decision(budget.encode(d)) == d
    quiet = plan_org("acme", [_state("acme/a", cands, bot=5, total=100)], {}, org_issue=True)
    assert quiet.modes["acme/a"] == "item" and len(quiet.item_steps) == 3
    new = plan_org("acme", [_state("acme/a", cands, bot=2, total=3)], {}, org_issue=True)
    assert new.modes["acme/a"] == "item"  # too few comments for a share to mean anything


def test_weekly_mention_budget_names_without_mention_then_holds() -> None:
    cands = [_cand("acme/a", 1, 5, ("mo", "lea")), _cand("acme/a", 2, 4, ("lea",))]
    plan = plan_org("acme", [_state("acme/a", cands)], {"lea": 4}, org_issue=True)
    (first,) = plan.item_steps  # the 5th mention of lea is the first item's; the second is held
    assert first.step.mention == ("mo", "lea")
    assert [(d.person, d.outcome) for d in plan.decisions] == [("lea", budget.HELD)]
    plan = plan_org("acme", [_state("acme/a", cands)], {"lea": 5}, org_issue=True)
    assert plan.item_steps[0].step.mention == ("mo",)
    assert plan.item_steps[0].step.listed_only == ("lea",)
    assert [d.outcome for d in plan.decisions] == [budget.NOT_MENTIONED, budget.HELD]
    ospo = [_cand("acme/a", 1, 12, ("acme/ospo",))]
    plan = plan_org("acme", [_state("acme/a", ospo)], {"acme/ospo": 9}, org_issue=True)
    assert plan.item_steps[0].step.mention == ("acme/ospo",)  # a team has no personal budget


def test_comment_counts_over_the_window() -> None:
    entries = [
        E("commented", at(1), "mo", "maintainer"),
        E("commented", at(2), "veilleur[bot]", "bot"),
        E("labeled", at(2), "mo", "maintainer"),
        E("commented", at(2) - timedelta(days=40), "veilleur[bot]", "bot"),
    ]
    counts = budget.comment_counts(entries, BOTS, at(1) - timedelta(days=28), at(3))
    assert (counts.bot, counts.total) == (1, 2) and counts.share_after(1) == 2 / 3


def test_people_configuration_is_strict_with_line_numbers() -> None:
    from bot.config.loader import load_default, parse_config_text, validate_layers

    def errors(text: str) -> list[tuple[int | None, str]]:
        data, parse_errors = parse_config_text(text, ".github/veilleur.yml")
        assert parse_errors == []
        config, errs = validate_layers(load_default(), None, (data, ".github/veilleur.yml"))
        return [(e.line, e.path) for e in errs]

    ok = 'people:\n  "@Mo":\n    timezone: Europe/Brussels\n'
    assert errors(ok) == []
    assert errors("people:\n  mo:\n    timezone: Mars/Olympus\n") == [(3, "people.mo.timezone")]
    assert errors("people:\n  mo:\n    holiday: []\n") == [(3, "people.mo.holiday")]
    away = "people:\n  mo:\n    away:\n      - {from: 2026-06-10, to: 2026-06-01}\n"
    assert [line for line, _ in errors(away)] == [4]
    assert errors("attention:\n  max_bot_comment_share: 2\n") == [
        (2, "attention.max_bot_comment_share")
    ]
    assert errors("sla:\n  reminders: weekly\n") == [(2, "sla.reminders")]
