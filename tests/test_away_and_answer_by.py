"""`/away until DATE` (handlers/commands.py) and the welcome's answer-by date (bot/messages/l10n.py, bot/sla/rules.py:answer_by,
handlers/triage.py): pure planning and rendering in the four languages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config.schema import VeilleurConfig
from bot.effects.actions import RecordState
from bot.messages.l10n import long_date, long_datetime
from bot.messages.templating import Renderer, T
from bot.record.people import Classification
from bot.resources import templates_dir
from bot.sla.availability import AWAY_KIND, commanded_absences
from bot.sla.rules import answer_by
from handlers.commands import (
    CommandContext,
    CommandError,
    Reply,
    parse_commands,
    plan_command,
    plan_comment,
    render_replies,
)
from handlers.triage import TriageInput, plan

NOW = datetime(2026, 7, 6, 10, 0, tzinfo=UTC)  # Monday 6 July 2026
PARIS = ZoneInfo("Europe/Paris")


def ctx(**overrides: Any) -> CommandContext:
    base = CommandContext(
        repo="acme/app", number=7, is_pull=False, author_login="alice", commenter_login="bob",
        commenter_permission=None, config=VeilleurConfig(), now=NOW, comment_id=99,
    )  # fmt: skip
    return replace(base, **overrides)


def away(line: str, **kw: Any) -> list[Any]:
    (cmd,) = parse_commands(line)
    return plan_command(cmd, ctx(**kw))


@pytest.mark.parametrize(
    "line", ["/away until 2026-07-31", "/away 2026-07-31", "/AWAY Until 2026-07-31"]
)
def test_away_until_a_day_is_recorded_for_oneself_without_any_permission(line: str) -> None:
    state, reply = away(line)
    assert isinstance(state, RecordState) and state.kind == AWAY_KIND
    assert state.data["by"] == "bob" and state.data["until"] == "2026-07-31"
    assert isinstance(reply, Reply) and reply.template == T.AWAY_REPLY
    assert reply.data == {"until": date(2026, 7, 31)}


def test_away_off_ends_it_and_the_last_command_wins() -> None:
    state, reply = away("/away off")
    assert state.data["until"] is None and reply.data == {"until": None}
    entries = [
        _Entry(AWAY_KIND, "bob", {"until": "2026-07-31"}),
        _Entry(AWAY_KIND, "carol", {"until": "2026-08-15"}),
        _Entry(AWAY_KIND, "Bob", {"until": None}),
    ]
    assert commanded_absences(entries) == {"bob": None, "carol": date(2026, 8, 15)}


@pytest.mark.parametrize(
    "line", ["/away", "/away until", "/away until tomorrow", "/away until 2026-07-01",
             "/away until 2027-12-31", "/away until 2026-02-30"],
)  # fmt: skip
def test_away_refuses_what_is_not_a_day_from_today_to_a_year_ahead(line: str) -> None:
    with pytest.raises(CommandError) as err:
        away(line)
    assert err.value.reason == "invalid" and "/away off" in err.value.message


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("en", "until Friday, 31 July 2026"), ("fr", "jusqu'au vendredi 31 juillet 2026"),
     ("nl", "tot en met vrijdag 31 juli 2026"), ("de", "bis einschließlich Freitag, 31. Juli 2026")],
)  # fmt: skip
def test_away_reply_in_four_languages(lang: str, expected: str) -> None:
    actions = plan_comment("/away until 2026-07-31", None, ctx())
    (state, comment) = render_replies(actions, Renderer(templates_dir()), lang)
    assert state.kind == AWAY_KIND
    assert expected in comment.body.replace("\\", "")


def test_help_lists_away_in_four_languages() -> None:
    renderer = Renderer(templates_dir())
    for lang in ("en", "fr", "nl", "de"):
        assert "`/away until 2026-07-31`" in renderer.render(T.COMMAND_HELP, lang).text


class _Entry:
    def __init__(self, kind: str, login: str, detail: dict[str, Any]) -> None:
        self.kind, self.actor_login, self.detail = kind, login, detail


# -- the welcome's answer-by date ----------------------------------------------------------------


def test_answer_by_follows_the_sla_and_the_business_day_calendar() -> None:
    cfg = VeilleurConfig.model_validate({"sla": {"first_response_days": 2}})
    friday = datetime(2025, 7, 11, 16, 0, tzinfo=PARIS)  # Monday 14 July is a holiday in France
    due = answer_by(friday, cfg)
    assert due == datetime(2025, 7, 16, 16, 0, tzinfo=PARIS) and due.tzinfo is not None
    assert long_datetime(due, "en") == "Wednesday, 16 July 2025, 16:00"
    assert long_datetime(due, "fr") == "mercredi 16 juillet 2025, 16:00"
    assert long_date(due.date(), "de") == "Mittwoch, 16. Juli 2025"
    belgium = VeilleurConfig.model_validate(
        {
            "sla": {"first_response_days": 2},
            "calendar": {"country": "BE", "timezone": "Europe/Brussels"},
        }
    )
    assert answer_by(friday, belgium).date() == date(2025, 7, 15)  # no 14 July in Belgium


def _triage(lang: str, **kw: Any) -> TriageInput:
    data: dict[str, Any] = dict(
        repo="acme/app", number=3, is_pull=False, title="Map", body="The map does not load at all on my phone.",
        author="alice", author_class=Classification("external"), first_time=True, lang=lang,
        config=VeilleurConfig.model_validate({"sla": {"first_response_days": 2}}),
        opened_at=datetime(2025, 7, 11, 14, 0, tzinfo=UTC),
    )  # fmt: skip
    data.update(kw)
    return TriageInput(**data)


@pytest.mark.parametrize(
    ("lang", "text"),
    [("en", "by Wednesday, 16 July 2025, 16:00"), ("fr", "d'ici le mercredi 16 juillet 2025, 16:00"),
     ("nl", "uiterlijk op woensdag 16 juli 2025, 16:00"),
     ("de", "bis spätestens Mittwoch, 16. Juli 2025, 16:00")],
)  # fmt: skip
def test_welcome_says_by_when_in_the_contributors_language_and_repository_time(
    lang: str, text: str
) -> None:
    welcome = plan(_triage(lang), Renderer(templates_dir()))
    bodies = [getattr(a, "body", "") for a in welcome]
    assert any(text in b.replace("\\", "") for b in bodies), bodies


def test_a_draft_pull_request_gets_no_date() -> None:
    welcome = plan(_triage("en", is_pull=True, draft=True), Renderer(templates_dir()))
    body = next(a.body for a in welcome if "veilleur:welcome" in getattr(a, "body", ""))
    assert "within 2 working days." in body
