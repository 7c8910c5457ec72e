"""Issue #12 rules: items that no longer wait, `awaiting-author` set by Veilleur, machine users,
people over their mention cap, and whom escalations name. Pure steps, real payloads."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config.schema import VeilleurConfig
from bot.dispatch.context import Event
from bot.messages.templating import Renderer
from bot.record import timeline
from bot.record.people import BOT, EXTERNAL, Facts, classify
from bot.sla.calendar import BusinessCalendar
from bot.sla.plan import seen_opened_live, step_actions
from bot.sla.rules import ReminderStep, waiting_state
from bot.storage.models import TimelineKind as K
from tests.conftest import WEBHOOK_EXAMPLES

PARIS = ZoneInfo("Europe/Paris")
CAL = BusinessCalendar()
BOT_LOGIN = "veilleur[bot]"


def at(day: int, hour: int = 10) -> datetime:
    """June 2026 in Paris: Mon 1 … Fri 5, Mon 8 … (no holidays)."""
    return datetime(2026, 6, day, hour, tzinfo=PARIS)


@dataclass
class It:
    author_login: str = "alice"
    author_class: str | None = "external"
    state: str = "open"
    created_at: datetime = field(default_factory=lambda: at(1))
    kind: str = "issue"
    draft: bool = False


@dataclass
class E:
    kind: str
    occurred_at: datetime
    actor_login: str | None
    actor_class: str | None
    detail: dict[str, Any] = field(default_factory=dict)


def by_author(kind: str, when: datetime, **detail: Any) -> E:
    return E(kind, when, "alice", "external", detail)


def by_veilleur(kind: str, when: datetime, **detail: Any) -> E:
    return E(kind, when, BOT_LOGIN, "bot", detail)


def by_team(kind: str, when: datetime, **detail: Any) -> E:
    return E(kind, when, "marie", "maintainer", detail)


def state(entries: list[E], now: datetime, item: It | None = None, **kw: Any) -> Any:
    return waiting_state(item or It(), entries, now, CAL, (BOT_LOGIN,), **kw)


def payload_entries(event: str, name: str) -> list[timeline.Entry]:
    payload = json.loads((WEBHOOK_EXAMPLES / event / f"{name}.payload.json").read_text())
    rec = timeline.parse(Event(event, payload.get("action"), "guid", payload), at(1))
    assert rec is not None
    return rec.entries


# --- awaiting-author, whoever set it -----------------------------------------------------------


def test_awaiting_author_set_by_veilleur_stops_the_clock() -> None:
    asked = [by_author(K.OPENED, at(1)), by_veilleur(K.LABELED, at(1), label="awaiting-author")]
    s = state(asked, at(12))  # nine business days later: still the author's turn
    assert (s.waiting_on, s.overdue, s.business_days_waiting) == ("author", False, 0.0)
    assert s.since == at(1)  # what the stale rules count from
    answered = [*asked, by_author(K.COMMENTED, at(8))]  # the author answers on Monday 8
    s = state(answered, at(10))
    assert s.waiting_on == "maintainer" and s.business_days_waiting == 2.0


def test_awaiting_author_uses_the_configured_label_and_trusts_only_team_or_bots() -> None:
    renamed = [by_veilleur(K.LABELED, at(1), label="en attente de l'auteur")]
    assert state(renamed, at(12)).waiting_on == "maintainer"
    assert state(renamed, at(12), author_label="en attente de l'auteur").waiting_on == "author"
    by_maintainer = [by_team(K.LABELED, at(1), label="awaiting-author")]
    assert state(by_maintainer, at(12)).waiting_on == "author"
    other = [by_veilleur(K.LABELED, at(1), label="bug")]
    assert state(other, at(12)).overdue


# --- items that no longer wait -----------------------------------------------------------------


def test_real_lock_transfer_and_delete_payloads_are_recorded_as_such() -> None:
    assert [e.kind for e in payload_entries("issues", "locked")] == [K.LOCKED]
    assert [e.kind for e in payload_entries("issues", "unlocked")] == [K.UNLOCKED]
    assert [e.kind for e in payload_entries("issues", "deleted")] == [K.DELETED]
    (moved,) = payload_entries("issues", "transferred")
    assert moved.kind == K.TRANSFERRED and moved.detail == {"to": "Codertocat/Hello-World#1"}


@pytest.mark.parametrize("kind", [K.TRANSFERRED, K.DELETED, K.CONVERTED_TO_DISCUSSION])
def test_an_item_gone_elsewhere_never_waits_again(kind: str) -> None:
    s = state([by_team(kind, at(2))], at(12))
    assert s.waiting_on is None and s.gone and not s.overdue
    assert state([by_team(kind, at(2)), by_author(K.COMMENTED, at(3))], at(12)).gone


def test_a_locked_item_waits_for_nobody_until_unlocked() -> None:
    locked = [by_team(K.LOCKED, at(2))]
    s = state(locked, at(12))
    assert s.waiting_on is None and not s.overdue and not s.gone
    s = state([*locked, by_team(K.UNLOCKED, at(8))], at(10))
    assert s.waiting_on == "maintainer" and s.business_days_waiting == 3.0  # 1 + 2 days


def test_converted_discussion_payload_marks_the_issue_gone() -> None:
    payload = json.loads((WEBHOOK_EXAMPLES / "discussion" / "created.payload.json").read_text())
    rec = timeline.converted(Event("discussion", "created", "g", payload), at(1))
    assert rec is not None and rec.item["number"] == payload["discussion"]["number"]
    assert [e.kind for e in rec.entries] == [K.CONVERTED_TO_DISCUSSION]


def test_real_draft_pull_request_payloads() -> None:
    payload = json.loads((WEBHOOK_EXAMPLES / "pull_request" / "opened.payload.json").read_text())
    payload["pull_request"]["draft"] = True
    rec = timeline.parse(Event("pull_request", "opened", "g", payload), at(1))
    assert rec is not None and rec.entries[0].detail == {"live": True, "draft": True}
    (ready,) = payload_entries("pull_request", "ready_for_review")
    assert ready.kind == K.READY_FOR_REVIEW


def test_a_draft_waits_from_ready_for_review_on() -> None:
    pull = It(kind="pull")
    opened = [by_author(K.OPENED, at(1), draft=True)]
    assert state(opened, at(12), pull).waiting_on is None
    assert state([*opened, by_author(K.COMMENTED, at(3))], at(12), pull).waiting_on is None
    ready = [*opened, by_author(K.READY_FOR_REVIEW, at(8))]
    s = state(ready, at(10), pull)
    assert (s.waiting_on, s.phase, s.since) == ("maintainer", "first_response", at(8))
    assert s.business_days_waiting == 2.0 and not s.overdue
    assert state([*ready, by_author(K.CONVERTED_TO_DRAFT, at(9))], at(15), pull).waiting_on is None
    # configurable: drafts wait like any pull request
    s = state(opened, at(5), pull, sla={"drafts_wait": True})
    assert s.waiting_on == "maintainer" and s.business_days_waiting == 4.0


def test_a_draft_imported_without_its_opening_detail_is_read_from_its_changes() -> None:
    pull = It(kind="pull", draft=False)
    history = [by_author(K.OPENED, at(1)), by_author(K.READY_FOR_REVIEW, at(8))]
    assert state(history, at(10), pull).business_days_waiting == 2.0
    assert (
        state([by_author(K.OPENED, at(1))], at(5), It(kind="pull", draft=True)).waiting_on is None
    )


def test_grace_rule_applies_only_to_imported_history() -> None:
    live = timeline.parse(Event("issues", "opened", "g", _payload("issues", "opened")), at(1))
    assert live is not None
    assert seen_opened_live([_stored(e) for e in live.entries])
    imported = E(K.OPENED, at(1), "alice", "external")  # what the backfill writes
    assert not seen_opened_live([imported])  # type: ignore[list-item]


# --- machine users -------------------------------------------------------------------------------


def test_bots_logins_are_bots_everywhere() -> None:
    cfg = VeilleurConfig.model_validate({"bots": {"logins": ["Ville-Robot"]}})
    facts = Facts(login="ville-robot", org_member=True, permission="write")
    assert classify(facts, [], [], cfg.bots.logins).author_class == BOT
    assert classify(Facts(login="alice"), [], [], cfg.bots.logins).author_class == EXTERNAL
    # never a responder: its comment is no response, the item stays overdue
    robot = E(K.COMMENTED, at(2), "ville-robot", "bot", {"body": "Build passed"})
    assert state([robot], at(12)).overdue


# --- reminders and escalations -------------------------------------------------------------------


def _step(stage: str, mention: tuple[str, ...], listed: tuple[str, ...]) -> ReminderStep:
    return ReminderStep(
        "sla:paris/carto#4:first_response:" + stage, "paris/carto#4", stage, 1,
        "first_response", mention, listed, 4.0, at(1),
    )  # fmt: skip


def _item() -> Any:
    from bot.storage.models import Item

    return Item(
        repo_full_name="paris/carto", owner="paris", number=4, kind="issue", title="Carte",
        author_login="alice", author_class="external", created_at=at(1),
    )  # fmt: skip


def _history() -> Any:
    from bot.sla.rules import ReminderHistory

    return ReminderHistory()


def test_people_over_their_mention_cap_are_listed_without_at() -> None:
    cfg = VeilleurConfig()
    (comment,) = step_actions(
        Renderer(), _step("reminder", ("hugo",), ("marie", "paris/mainteneurs")), _item(), cfg, "en",
        _history(), ["hugo", "marie", "paris/mainteneurs"],
    )  # fmt: skip
    assert "\n@hugo, marie, paris/mainteneurs: a reminder.\n" in comment.body  # type: ignore[attr-defined]
    (alone,) = step_actions(
        Renderer(), _step("reminder", (), ("marie",)), _item(), cfg, "fr", _history(), ["marie"]
    )
    assert "\nmarie : petit rappel.\n" in alone.body  # type: ignore[attr-defined]
    assert "@marie" not in alone.body  # type: ignore[attr-defined]


def test_escalation_names_the_responsible_people_and_the_ospo_as_told() -> None:
    cfg = VeilleurConfig.model_validate(
        {"ospo": {"team": "@paris/ospo", "emails": ["ospo@paris.example"]}}
    )
    record, mail = step_actions(
        Renderer(), _step("escalation", ("paris/ospo",), ()), _item(), cfg, "en", _history(),
        ["marie", "paris/mainteneurs"],
    )  # fmt: skip
    # Recorded on the item's timeline and mailed to the OSPO; never a comment on the item.
    assert record.data == {"by_class": "bot", "to": ["ospo@paris.example"], "escalated": True}  # type: ignore[attr-defined]
    text = mail.text  # type: ignore[attr-defined]
    assert "Responsible for this item: marie, paris/mainteneurs." in text
    assert "You receive this mail as the OSPO" in text and "paris/ospo" in text


def _payload(event: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (WEBHOOK_EXAMPLES / event / f"{name}.payload.json").read_text()
    )
    return data


def _stored(e: timeline.Entry) -> Any:
    return E(e.kind, e.occurred_at, e.actor.get("login"), None, e.detail)
