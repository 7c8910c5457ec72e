"""The stale rules: one friendly nudge, then a close, only for an item waiting on its author.

The path the sweep takes, step by pure step, from real payloads: `timeline.parse` (webhook ->
timeline), `sla.waiting_state` (timeline -> whose turn, since when) and the sweep's
`_stale_actions` (-> nudge or close), with the stale rules on and a frozen evaluation instant.
The sweep applies them only while the item waits on its author (`Sweeper._repo`); what these
tests pin down is that an outside contribution nobody answered never gets there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bot.config.schema import VeilleurConfig
from bot.effects.actions import SetIssueState, UpsertComment
from bot.messages.templating import Renderer
from bot.record import timeline
from bot.sla import plan
from bot.sla.calendar import BusinessCalendar
from bot.sla.rules import AUTHOR, MAINTAINER, WaitingState, waiting_state
from bot.storage.models import Item, TimelineEntry
from tests.plan_support import at, changed, config, event, example, kinds, user

BOT_LOGIN = "veilleur[bot]"
STALE_ON = "stale:\n  enabled: true\n  nudge_after_days: 10\n  close_after_days: 20\n"
MAINTAINER_USER = user("marie")
CLASSES = {"Codertocat": "external", "marie": "maintainer", BOT_LOGIN: "bot"}


def opened(day: int) -> tuple[str, dict[str, Any]]:
    stamp = at(day).isoformat()
    return "issues", changed(
        example("issues", "opened"), issue__created_at=stamp, issue__updated_at=stamp
    )


def comment(day: int, who: dict[str, Any], body: str) -> tuple[str, dict[str, Any]]:
    stamp = at(day).isoformat()
    payload = changed(
        example("issue_comment", "created"),
        comment__user=who,
        comment__body=body,
        comment__created_at=stamp,
        issue__updated_at=stamp,
    )
    return "issue_comment", payload


def record(*events: tuple[str, dict[str, Any]]) -> tuple[Item, list[TimelineEntry]]:
    """What the records handler would have written for these deliveries, in memory."""
    item: Item | None = None
    entries: list[TimelineEntry] = []
    for name, payload in events:
        rec = timeline.parse(event(name, payload), at(1))
        assert rec is not None
        timeline.mark_questions(rec, dict(CLASSES))  # a team question hands the turn over
        if item is None:
            item = Item(**rec.item, author_class=CLASSES[rec.item["author_login"]])
        for e in rec.entries:
            login = e.actor.get("login")
            entries.append(
                TimelineEntry(
                    repo_full_name=rec.repo,
                    number=item.number,
                    occurred_at=e.occurred_at,
                    kind=e.kind,
                    actor_login=login,
                    actor_class=CLASSES.get(login or ""),
                    source_key=e.source_key,
                    detail=e.detail,
                )
            )
    assert item is not None
    return item, entries


def state(item: Item, entries: list[TimelineEntry], now: datetime, cfg: VeilleurConfig) -> Any:
    cal = BusinessCalendar.from_config(cfg.calendar)
    return waiting_state(item, entries, now, cal, (BOT_LOGIN,), sla=cfg.sla)


def stale_actions(
    item: Item,
    st: WaitingState,
    now: datetime,
    cfg: VeilleurConfig,
    done: dict[str, datetime] | None = None,
) -> list[Any]:
    cal = BusinessCalendar.from_config(cfg.calendar)
    return plan.stale_actions(Renderer(), item, st, cfg, cal, now, done or {}, cfg.language)


ASKED = "Which version of the README do you mean?"


def test_an_unanswered_outside_issue_waits_on_the_maintainers_forever() -> None:
    """Nobody answered: months later it is overdue, never the author's turn, so never stale."""
    cfg = config(STALE_ON)
    item, entries = record(opened(1))
    for day in (2, 15, 29):
        st = state(item, entries, at(day), cfg)
        assert st.waiting_on == MAINTAINER
    assert state(item, entries, at(29), cfg).overdue


def test_an_answer_without_question_still_leaves_the_turn_with_the_maintainers() -> None:
    cfg = config(STALE_ON)
    item, entries = record(opened(1), comment(2, MAINTAINER_USER, "Thanks, we will look."))
    assert state(item, entries, at(29), cfg).waiting_on != AUTHOR


def test_a_bot_question_does_not_hand_the_turn_to_the_author() -> None:
    cfg = config(STALE_ON)
    item, entries = record(opened(1), comment(2, user(BOT_LOGIN, bot=True), ASKED))
    assert state(item, entries, at(29), cfg).waiting_on == MAINTAINER


def test_the_author_answering_gives_the_turn_back_to_the_maintainers() -> None:
    cfg = config(STALE_ON)
    item, entries = record(
        opened(1), comment(2, MAINTAINER_USER, ASKED), comment(3, user("Codertocat"), "v2.")
    )
    assert state(item, entries, at(29), cfg).waiting_on == MAINTAINER


def test_a_team_question_then_silence_nudges_once_then_closes() -> None:
    cfg = config(STALE_ON)
    item, entries = record(opened(1), comment(2, MAINTAINER_USER, ASKED))
    st = state(item, entries, at(16), cfg)
    assert (st.waiting_on, st.since) == (AUTHOR, at(2))
    # 10 business days after the question (Tue 2 -> Tue 16): not more than 10 yet.
    assert stale_actions(item, st, at(16), cfg) == []
    (nudge,) = stale_actions(item, st, at(17), cfg)
    base = "stale:Codertocat/Hello-World#1:20260602T100000Z"
    assert isinstance(nudge, UpsertComment) and nudge.once == f"{base}:nudge"
    assert "Codertocat" in nudge.body and "@Codertocat" not in nudge.body  # their own item
    assert "10 working days" in nudge.body
    # Past the close delay, still never closed without the nudge first.
    late = state(item, entries, at(31), cfg)
    assert kinds(stale_actions(item, late, at(31), cfg)) == ["UpsertComment"]
    nudged = {f"{base}:nudge": at(17)}
    assert stale_actions(item, late, at(30), cfg, nudged) == []  # 20 business days: not yet
    close_comment, close = stale_actions(item, late, at(31), cfg, nudged)
    assert (
        isinstance(close_comment, UpsertComment) and close_comment.once == f"{base}:close-comment"
    )
    assert close == SetIssueState(
        "Codertocat/Hello-World", 1, "closed", "not_planned", once=f"{base}:close"
    )


def test_no_stale_action_outside_working_hours() -> None:
    cfg = config(STALE_ON)
    item, entries = record(opened(1), comment(2, MAINTAINER_USER, ASKED))
    saturday = datetime(2026, 6, 20, 10, 0, tzinfo=at(1).tzinfo)
    assert stale_actions(item, state(item, entries, saturday, cfg), saturday, cfg) == []
    night = at(17, hour=23)
    assert stale_actions(item, state(item, entries, night, cfg), night, cfg) == []


def test_the_stale_rules_are_off_by_default() -> None:
    assert config().stale.enabled is False
    assert config(STALE_ON).stale.enabled is True


@pytest.mark.parametrize(
    ("language", "needle"), [("en", "10 working days"), ("fr", "10 jours ouvrés")]
)
def test_the_nudge_speaks_the_repository_language(language: str, needle: str) -> None:
    cfg = config(f"{STALE_ON}language: {language}\n")
    item, entries = record(opened(1), comment(2, MAINTAINER_USER, ASKED))
    (nudge,) = stale_actions(item, state(item, entries, at(17), cfg), at(17), cfg)
    assert needle in nudge.body
