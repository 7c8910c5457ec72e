"""Saying less (issue #17, "Respect attention"): the author is not @-mentioned on their own
item, a person is welcomed once per owner in the same comment as the request for details,
unanswered reminders are capped, escalations go by mail, daily lists are posted only when
something new is due, the budget switches to daily lists only when that writes fewer
comments, and teams are written `@org/slug`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config.schema import VeilleurConfig
from bot.effects.actions import UpsertComment, marker, without_once
from bot.messages.templating import Renderer, T
from bot.record.people import Classification
from bot.replay.engine import replay_history
from bot.replay.history import Entry, History, ItemRecord
from bot.runtime import handler_modules
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
