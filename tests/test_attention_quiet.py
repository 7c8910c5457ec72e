"""Saying less (issue #17, "Respect attention"): the author is not @-mentioned on their own
item, a person is welcomed once per owner in the same comment as the request for details,
unanswered reminders are capped, escalations go by mail, daily lists are posted only when
something new is due, the budget switches to daily lists only when that writes fewer
comments, and teams are written `@org/slug`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from bot.config.loader import load_default
from bot.config.schema import VeilleurConfig
from bot.effects.actions import UpsertComment, marker, without_once
from bot.messages.templating import Renderer, T
from bot.record.people import Classification
from bot.replay.engine import Produced, ReplayResult, replay_history
from bot.replay.history import Entry, History, ItemRecord
from bot.replay.report import figures_of
from bot.runtime import handler_modules
from bot.sla import attention_budget as budget
from bot.sla import nag
from bot.sla.calendar import BusinessCalendar
from bot.sla.plan import qualified_teams, step_actions
from bot.sla.reminder_plan import Candidate, daily_cost, listed_key, plan_org
from bot.sla.rules import ReminderHistory, ReminderStep
from bot.storage.models import TimelineKind as K
from handlers.triage import TriageInput, plan
from tests.harness import CITY_CONFIG, City, Harness

PARIS = ZoneInfo("Europe/Paris")
RENDERER = Renderer()
SHORT = "Bug."  # under `request_info.min_body_chars`: a request for details
LONG = "The map of the city does not load on my phone since the last update of the site."


def at(day: int, hh: int, mm: int = 0) -> datetime:
    """Day 0 is Monday 7 September 2026 (no French holiday for weeks)."""
    return (datetime(2026, 9, 7, hh, mm, tzinfo=PARIS) + timedelta(days=day)).astimezone(UTC)


def triage_input(repo: str = "acme/app", body: str = LONG, **kw: Any) -> TriageInput:
    data: dict[str, Any] = dict(
        repo=repo, number=3, is_pull=False, title="Map", body=body, author="alice-x",
        author_class=Classification("external"), first_time=True, lang="en",
        config=VeilleurConfig(),
    )  # fmt: skip
    data.update(kw)
    return TriageInput(**data)


def comments_of(actions: list[Any]) -> list[UpsertComment]:
    return [a for a in actions if isinstance(a, UpsertComment)]


# -- the author is named without `@` on their own item ---------------------------------------

AUTHOR_TEMPLATES: dict[str, dict[str, Any]] = {
    T.WELCOME_ISSUE: {"repo": "acme/app", "first_time": True, "response_days": 3, "partner": None},
    T.WELCOME_PULL: {"repo": "acme/app", "first_time": True, "response_days": 3, "partner": None},
    T.REQUEST_INFO_ISSUE: {"missing_sections": [], "too_short": True, "min_body_chars": 40},
    T.PR_CHECKLIST: {"checks": [{"key": "tests", "ok": False}]},
    T.DAILY_NOTE: {"people": ["mo"]},
    T.STALE_NUDGE: {"close_after_days": 5},
    T.STALE_CLOSE: {},
}


@pytest.mark.parametrize("lang", ["en", "fr", "nl", "de"])
@pytest.mark.parametrize("name", sorted(AUTHOR_TEMPLATES))
def test_the_author_is_named_without_a_mention_on_their_own_item(name: str, lang: str) -> None:
    """The author follows their own item: an `@` adds a second notification and a mention
    to the week's count, nothing else."""
    text = RENDERER.render(name, lang, author="alice-x", **AUTHOR_TEMPLATES[name]).text
    assert "alice-x" in text and "@alice-x" not in text


# -- one welcome per person and owner, folded with the request for details --------------------


def test_a_person_is_welcomed_once_per_owner_not_per_repository_and_kind() -> None:
    def key(repo: str, **kw: Any) -> str | None:
        (welcome,) = comments_of(plan(triage_input(repo, **kw), RENDERER))
        return welcome.once

    assert key("acme/app") == key("acme/site") == key("Acme/app", is_pull=True)
    assert key("acme/app") == "welcome:acme:alice-x"
    assert key("other/app") != key("acme/app")


def test_the_welcome_and_the_request_for_details_are_one_comment() -> None:
    (folded,) = comments_of(plan(triage_input(body=SHORT), RENDERER))
    assert folded.marker == marker("request-info", "acme/app#3")
    assert marker("welcome", "acme/app#3") in folded.body
    assert "could you add a few details" in folded.body and "welcome to acme/app" in folded.body
    # the welcome no longer says "nothing to do" when details are asked in the same comment
    assert "You don't need to do anything" not in folded.body
    assert folded.once == "welcome:acme:alice-x" and folded.update_existing is False
    assert folded.otherwise is not None and "welcome" not in folded.otherwise
    assert "could you add a few details" in folded.otherwise


def test_a_pull_request_checklist_is_folded_with_the_welcome_too() -> None:
    (folded,) = comments_of(plan(triage_input(is_pull=True), RENDERER))
    assert folded.marker == marker("pr-checklist", "acme/app#3")
    assert marker("welcome", "acme/app#3") in folded.body and folded.otherwise is not None


def test_a_complete_issue_gets_the_welcome_alone_and_a_known_person_the_request_alone() -> None:
    (welcome,) = comments_of(plan(triage_input(), RENDERER))
    assert welcome.marker == marker("welcome", "acme/app#3") and welcome.otherwise is None
    assert welcome.once == "welcome:acme:alice-x"
    assert "You don't need to do anything" in welcome.body
    (request,) = comments_of(plan(triage_input(body=SHORT, first_time=False), RENDERER))
    assert request.once is None and "welcome" not in request.body


def test_once_done_a_folded_comment_leaves_its_other_text_and_a_welcome_nothing() -> None:
    (folded,) = comments_of(plan(triage_input(body=SHORT), RENDERER))
    left = without_once(folded)
    assert isinstance(left, UpsertComment)
    assert left.body == folded.otherwise and left.once is None and left.marker == folded.marker
    (welcome,) = comments_of(plan(triage_input(), RENDERER))
    assert without_once(welcome) is None


def _two_repos() -> History:
    repos = ["paris/carte", "paris/site"]
    items = [
        ItemRecord(repos[0], 1, "issue", "Carte", "camille", "external", at(0, 10), LONG),
        ItemRecord(repos[1], 1, "issue", "Site", "camille", "external", at(1, 10), SHORT),
    ]
    entries = {
        (i.repo_full_name, i.number): [Entry(K.OPENED, i.created_at, "camille", "external", {})]
        for i in items
    }
    return History("paris", repos, items, entries, {}, None)


def test_the_replay_posts_the_request_alone_to_someone_already_welcomed() -> None:
    cfg = VeilleurConfig.model_validate({"language": "fr", "maintainers": {"users": ["hugo"]}})
    result = replay_history(
        _two_repos(), at(0, 0), at(2, 0), lambda _r: cfg, handlers=handler_modules()
    )
    posted = [(p.repo, p.kind) for p in result.produced if p.what == "comment"]
    assert posted == [("paris/carte", "welcome"), ("paris/site", "request-info")]
    (second,) = [e for e in result.timelines[("paris/site", 1)] if e.kind == K.COMMENTED]
    assert "veilleur:welcome" not in second.detail["body"]


def test_a_second_first_contribution_in_the_organisation_gets_the_request_alone(
    harness: Harness, city: City
) -> None:
    """Over the simulated forge: the executor posts `otherwise` once the welcome is done."""
    other = f"{city.org}/lutece-form"
    harness.forge.add_repo(
        other, description="Formulaires", files={".github/veilleur.yml": CITY_CONFIG}
    )
    harness.forge.scenario.install(city.org)
    harness.wait()
    first = harness.forge.scenario.open_issue(city.repo, city.citizen_en, "Map", LONG)
    harness.wait()
    second = harness.forge.scenario.open_issue(other, city.citizen_en, "Form", SHORT)
    harness.wait()
    assert harness.failures() == []
    (welcome,) = harness.comments(city.repo, first)
    assert "veilleur:welcome" in welcome.body and f"@{city.citizen_en}" not in welcome.body
    (request,) = harness.comments(other, second)
    assert "veilleur:request-info" in request.body and "veilleur:welcome" not in request.body


# -- at most `sla.max_unanswered_reminders` reminders in a row nobody answered ----------------

CAL = BusinessCalendar.from_config(VeilleurConfig().calendar)
REF = "acme/app#12"


def _step(stage: str = "reminder") -> ReminderStep:
    return ReminderStep(
        f"sla:{REF}:first_response:{stage}", REF, stage, 2 if stage == "reminder" else 0,
        "first_response", ("mo",), (), 6.0, at(0, 10),
    )  # fmt: skip


def _screen(entries: list[Entry], history: ReminderHistory, stage: str = "reminder",
            limit: int | None = 1) -> nag.Screened:  # fmt: skip
    return nag.screen(
        _step(stage), entries=entries, author="alice", bots=("veilleur[bot]",), history=history,
        now=at(7, 11), calendar=CAL, remind_every_days=2, in_hours=lambda _p: True,
        max_unanswered=limit,
    )  # fmt: skip


def test_after_an_unanswered_reminder_no_new_one_until_someone_acts() -> None:
    opened = [Entry(K.OPENED, at(0, 10), "alice", "external", {})]
    once = ReminderHistory(sent_at=(at(3, 11),))  # four business days before `now`
    assert _screen(opened, once).held == nag.UNANSWERED
    assert _screen(opened, once, limit=2).step is not None  # the setting says how many
    # any human activity since answers it: the author asking again, a maintainer's label
    for who, cls in (("alice", "external"), ("lea", "member")):
        acted = [*opened, Entry(K.COMMENTED, at(3, 15), who, cls, {"body": "Des nouvelles ?"})]
        assert _screen(acted, once).step is not None, who
    # a bot's activity does not
    bot = [*opened, Entry(K.LABELED, at(4, 15), "veilleur[bot]", "bot", {"label": "overdue"})]
    assert _screen(bot, once).held == nag.UNANSWERED


def test_the_escalation_still_comes_after_unanswered_reminders() -> None:
    opened = [Entry(K.OPENED, at(0, 10), "alice", "external", {})]
    once = ReminderHistory(sent_at=(at(3, 11),))
    assert _screen(opened, once, stage="escalation").step is not None


def test_max_unanswered_reminders_is_a_setting_with_its_default_in_both_places() -> None:
    assert VeilleurConfig().sla.max_unanswered_reminders == 1
    assert load_default()["sla"]["max_unanswered_reminders"] == 1
    with pytest.raises(ValueError):
        VeilleurConfig.model_validate({"sla": {"max_unanswered_reminders": 0}})


def _silent() -> History:
    item = ItemRecord("paris/carte", 1, "issue", "Carte", "camille", "external", at(0, 10), LONG)
    entries = {("paris/carte", 1): [Entry(K.OPENED, at(0, 10), "camille", "external", {})]}
    return History("paris", ["paris/carte"], [item], entries, {}, None)


def _replay(
    h: History, days: int = 21, ospo: dict[str, Any] | None = None, **sla: Any
) -> list[Any]:
    layer = {"language": "fr", "maintainers": {"users": ["hugo"]},
             "sla": {"max_reminders": 3, **sla}, "ospo": ospo or {}}  # fmt: skip
    cfg = VeilleurConfig.model_validate(layer)
    return replay_history(
        h, at(0, 0), at(days, 0), lambda _r: cfg, handlers=handler_modules()
    ).produced


def test_an_item_nobody_answers_is_reminded_once_by_default() -> None:
    reminders = [p for p in _replay(_silent()) if p.kind == "reminder" and p.what == "comment"]
    assert len(reminders) == 1
    more = _replay(_silent(), max_unanswered_reminders=3)
    assert len([p for p in more if p.kind == "reminder" and p.what == "comment"]) == 3


# -- the escalation is a mail to the OSPO, never a comment on the contributor's item ------------


def _escalation_actions(emails: list[str]) -> list[Any]:
    cfg = VeilleurConfig.model_validate({"ospo": {"team": "@acme/ospo", "emails": emails}})
    item = ItemRecord("acme/app", 12, "issue", "Map", "alice", "external", at(0, 10))
    return step_actions(
        RENDERER, _step("escalation"), cast(Any, item), cfg, "en", ReminderHistory(), ["mo"]
    )


def test_an_escalation_is_a_mail_when_the_ospo_has_addresses() -> None:
    actions = _escalation_actions(["ospo@acme.example"])
    assert [type(a).__name__ for a in actions] == ["RecordState", "SendEmail"]
    recorded, mail = actions
    assert recorded.kind == "escalated" and recorded.once == _step("escalation").key
    assert mail.to == ("ospo@acme.example",) and "acme/app#12" in mail.subject


def test_without_addresses_an_escalation_is_recorded_and_posts_nothing() -> None:
    actions = _escalation_actions([])
    assert [type(a).__name__ for a in actions] == ["RecordState"]


def test_the_replay_escalates_by_mail_and_mentions_nobody() -> None:
    ospo = {"team": "@paris/ospo", "emails": ["ospo@paris.example"]}
    produced = _replay(_silent(), days=28, ospo=ospo)
    assert [p.kind for p in produced if p.what == "comment"] == ["welcome", "reminder"]
    (mail,) = [p for p in produced if p.what == "mail"]
    assert mail.to == ("ospo@paris.example",) and mail.key and mail.key.endswith(":email")
    assert [p.kind for p in produced if p.what == "state"] == ["escalated"]


# -- teams are mentioned as `@org/slug` -----------------------------------------------------------


def test_a_bare_team_slug_is_mentioned_with_its_organisation() -> None:
    assert qualified_teams("paris", ["mainteneurs", "lyon/devs"]) == [
        "paris/mainteneurs",
        "lyon/devs",
    ]
    cfg = VeilleurConfig.model_validate({"maintainers": {"teams": ["mainteneurs"]}})
    produced = replay_history(
        _silent(), at(0, 0), at(7, 0), lambda _r: cfg, handlers=handler_modules()
    ).produced
    (reminder,) = [p for p in produced if p.kind == "reminder"]
    assert reminder.to == ("paris/mainteneurs",)


# -- the budget switches to daily lists only when they write fewer comments --------------------


def test_the_share_budget_switches_to_daily_only_when_that_writes_fewer_comments() -> None:
    noisy = budget.CommentCounts(bot=10, total=30)  # a third already: past 25 %
    attention = VeilleurConfig().attention
    assert budget.repo_mode("item", noisy, 2, attention, "acme/app", "2026-09-07", 3) == (
        "item",
        None,
    )  # two reminders, but daily would write a list each and two notes
    mode, decision = budget.repo_mode("item", noisy, 5, attention, "acme/app", "2026-09-07", 2)
    assert mode == "daily" and decision is not None and decision.outcome == budget.SWITCHED_TO_DAILY


def test_daily_cost_counts_one_list_per_person_and_a_note_per_first_reminder() -> None:
    def cand(n: int, people: tuple[str, ...], sent: int) -> Candidate:
        step = ReminderStep(f"k{n}", f"acme/app#{n}", "reminder", sent + 1, "first_response",
                            people, (), 5.0, at(0, 10))  # fmt: skip
        history = ReminderHistory(sent_at=tuple(at(1, 10) for _ in range(sent)))
        return Candidate("acme/app", n, "alice", step, None, history)

    reminders = [cand(1, ("mo", "lea"), 0), cand(2, ("Mo",), 1), cand(3, ("lea",), 0)]
    assert daily_cost(reminders) == 2 + 2  # mo and lea; the notes of #1 and #3


# -- daily lists count in the replay's figures ---------------------------------------------------


def test_the_replays_figures_count_the_daily_lists_as_reminders() -> None:
    result = ReplayResult(History("paris", [], [], {}, {}, None), at(0, 0), at(7, 0))
    result.produced += [
        Produced(at(1, 10), "paris/carte", None, "comment", "daily", ("hugo",), key="d1"),
        Produced(at(1, 15), "paris/carte", None, "edit", "daily", ("hugo",), key="d1"),
    ]
    cal = BusinessCalendar.from_config(VeilleurConfig().calendar)
    f = figures_of(result, lambda _r: cal, lambda _r: 3.0)
    assert (f.comments, f.bot_comments, f.reminders) == (1, 1, 1)  # the edit is no new comment
    assert f.mentions_max_per_person_week == 1 and f.most_mentioned == "hugo"
    assert f.items == 0 and f.max_reminders_on_an_item == 0  # the waiting list is no item


# -- a daily list only when something new is due (`daily-listed` rows) --------------------------


def test_a_daily_list_is_posted_only_when_something_not_yet_listed_is_due() -> None:
    from tests.test_nag import _cand, _state

    daily = VeilleurConfig.model_validate({"sla": {"reminders": "daily"}})
    cands = [_cand("acme/a", 1, 5, ("mo",)), _cand("acme/a", 2, 4, ("mo",))]
    first = plan_org("acme", [_state("acme/a", cands, daily)], {}, org_issue=True)
    assert [n.login for n in first.notices] == ["mo"]
    both = {listed_key(c.step.key, "mo") for c in cands}
    again = plan_org("acme", [_state("acme/a", cands, daily)], {}, org_issue=True, listed=both)
    assert again.notices == [] and len(again.daily_steps) == 2  # recorded, not listed again
    one = {listed_key(cands[0].step.key, "Mo")}
    new = plan_org("acme", [_state("acme/a", cands, daily)], {}, org_issue=True, listed=one)
    assert [(n.login, len(n.items)) for n in new.notices] == [("mo", 2)]  # #2 is new


def test_listed_rows_are_kept_per_wait_and_person() -> None:
    key = "sla:acme/a#1:first_response:reminder:2"
    assert listed_key(key, "@Mo") == "daily-listed:sla:acme/a#1:first_response:mo"
    assert listed_key(key, "mo") == listed_key(key.replace(":2", ":1"), "mo")
