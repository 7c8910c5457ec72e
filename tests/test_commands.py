"""Slash commands: parsing (code, quotes, edits) and planning (permissions, arguments, effects)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.config.schema import VeilleurConfig
from bot.effects.actions import (
    AddLabels,
    EnsureLabel,
    RecordState,
    RemoveLabel,
    SetAssignees,
    UpsertComment,
)
from bot.messages.templating import Renderer, T
from handlers.commands import (
    MAX_COMMANDS,
    Command,
    CommandContext,
    CommandError,
    Reply,
    parse_commands,
    plan_command,
    plan_comment,
    render_replies,
)

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
CONFIG = VeilleurConfig()


def names(body: str, previous: str | None = None) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.name, c.args) for c in parse_commands(body, previous)]


# -- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/help", [("help", ())]),
        (
            "Thanks!\n/triage accepted\n/label +bug -question",
            [("triage", ("accepted",)), ("label", ("+bug", "-question"))],
        ),
        ("/LABEL +Bug", [("label", ("+Bug",))]),
        ('/label +"good first issue" -wontfix', [("label", ("+good first issue", "-wontfix"))]),
        ("/assign @alice @bob\r\n/unassign", [("assign", ("@alice", "@bob")), ("unassign", ())]),
        (
            "/snooze 5d\n/waiting-on author\n/ready",
            [("snooze", ("5d",)), ("waiting-on", ("author",)), ("ready", ())],
        ),
        ("   /help", [("help", ())]),  # up to three spaces of indentation
        ("please run /help", []),  # not at the start of a line
        ("```\n/label +bug\n```\n/help", [("help", ())]),  # fenced code
        ("~~~~\n/help\n~~~\n/assign\n~~~~\n/ready", [("ready", ())]),  # fence closes with its kind
        ("```\n/help", []),  # unclosed fence runs to the end
        ("text\n\n    /label +bug", []),  # indented code
        ("\t/label +bug", []),
        ("> /label +bug\n>/help", []),  # quotes
        ("`/help` shows the commands", []),  # inline code
        ("<!-- /help -->\n<!--\n/ready\n-->", []),  # HTML comments
        ("/cc @alice\n/me waves\n/usr/bin/env is missing", []),  # not ours
        ("/asign @alice", [("asign", ("@alice",))]),  # a near miss is kept, to say so
        ('/label +"unbalanced', [("label", ('+"unbalanced',))]),
    ],
)
def test_parse(body: str, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert names(body) == expected


@pytest.mark.parametrize(
    ("previous", "body", "expected"),
    [
        ("/label +bug", "/label +bug\n/assign", [("assign", ())]),
        ("/label +bug", "/label +bug", []),
        ("/label +bug", "fixed a typo\n/label +bug", []),
        ("/label +bug", "/label +bug\n/label +bug", [("label", ("+bug",))]),  # a second copy is new
        ("```\n/ready\n```", "/ready", [("ready", ())]),  # was only code before
        ("/snooze 2d", "/snooze 5d", [("snooze", ("5d",))]),
        (None, "/help", [("help", ())]),
    ],
)
def test_parse_edits_only_return_new_commands(
    previous: str | None, body: str, expected: list[Any]
) -> None:
    assert names(body, previous) == expected


def test_parse_caps_the_number_of_commands() -> None:
    body = "\n".join(f"/label +l{i}" for i in range(MAX_COMMANDS + 5))
    assert len(parse_commands(body)) == MAX_COMMANDS


# -- planning -------------------------------------------------------------------------------------


def ctx(**overrides: Any) -> CommandContext:
    base = CommandContext(
        repo="acme/app",
        number=7,
        is_pull=False,
        author_login="Alice",
        commenter_login="bob",
        commenter_permission="triage",
        config=CONFIG,
        now=NOW,
        labels=("needs-triage", "awaiting-author", "overdue"),
        assignees=("carol",),
        comment_id=99,
    )
    return replace(base, **overrides)


def cmd(line: str) -> Command:
    [parsed] = parse_commands(line)
    return parsed


R = "acme/app"


def waiting(who: str, by: str, line: str) -> RecordState:
    return RecordState("waiting_on", "acme/app", 7, {"who": who, "by": by, "command": line})


MAINTAINER_LABEL = EnsureLabel(
    "acme/app", "awaiting-maintainer", "d93f0b", "Waiting for a maintainer's answer"
)
AUTHOR_LABEL = EnsureLabel(
    "acme/app", "awaiting-author", "c5def5", "Waiting for the author's answer"
)

PLANS: list[tuple[str, dict[str, Any], list[Any]]] = [
    ("/triage accepted", {}, [RemoveLabel(R, 7, "needs-triage")]),
    ("/triage Accepted", {"labels": ("Needs-Triage",)}, [RemoveLabel(R, 7, "Needs-Triage")]),
    ("/triage accepted", {"labels": ()}, []),
    (
        '/label +bug -overdue +"good first issue" -absent',
        {},
        [AddLabels(R, 7, ("bug", "good first issue")), RemoveLabel(R, 7, "overdue")],
    ),
    ("/label bug", {"labels": ("BUG",)}, []),  # already there (case-insensitive)
    ("/assign @dave carol", {}, [SetAssignees(R, 7, add=("dave",))]),
    ("/assign", {}, [SetAssignees(R, 7, add=("bob",))]),  # yourself
    ("/unassign @Carol @dave", {}, [SetAssignees(R, 7, remove=("carol",))]),
    ("/unassign", {}, []),  # bob is not assigned
    (
        "/ready",
        {"commenter_login": "alice", "commenter_permission": "read"},  # the author, any case
        [
            MAINTAINER_LABEL,
            AddLabels(R, 7, ("awaiting-maintainer",)),
            RemoveLabel(R, 7, "awaiting-author"),
            waiting("maintainer", "alice", "/ready"),
        ],
    ),
    (
        "/ready",
        {"commenter_permission": "maintain", "labels": ("awaiting-maintainer",)},
        [waiting("maintainer", "bob", "/ready")],
    ),
    (
        "/waiting-on author",
        {"labels": ("awaiting-maintainer",)},
        [
            AUTHOR_LABEL,
            AddLabels(R, 7, ("awaiting-author",)),
            RemoveLabel(R, 7, "awaiting-maintainer"),
            waiting("author", "bob", "/waiting-on author"),
        ],
    ),
    (
        "/waiting-on Maintainer",
        {"commenter_permission": "admin"},
        [
            MAINTAINER_LABEL,
            AddLabels(R, 7, ("awaiting-maintainer",)),
            RemoveLabel(R, 7, "awaiting-author"),
            waiting("maintainer", "bob", "/waiting-on Maintainer"),
        ],
    ),
    (
        "/snooze 5d",
        {},
        [
            RemoveLabel(R, 7, "overdue"),
            RecordState(
                "snoozed",
                R,
                7,
                {
                    "until": (NOW + timedelta(days=5)).isoformat(),
                    "days": 5,
                    "by": "bob",
                    "command": "/snooze 5d",
                },
            ),
        ],
    ),
    ("/help", {"commenter_permission": None}, [Reply(R, 7, T.COMMAND_HELP, "x")]),
]


@pytest.mark.parametrize(("line", "overrides", "expected"), PLANS)
def test_plan(line: str, overrides: dict[str, Any], expected: list[Any]) -> None:
    actions = plan_command(cmd(line), ctx(**overrides))
    assert [_key_free(a) for a in actions] == [_key_free(a) for a in expected]


def _key_free(action: Any) -> Any:
    return replace(action, key="") if isinstance(action, Reply) else action


def test_custom_label_names_are_used() -> None:
    config = VeilleurConfig.model_validate(
        {"labels": {"needs_triage": "à trier", "overdue": "en retard"}}
    )
    c = ctx(config=config, labels=("à trier", "en retard"))
    assert plan_command(cmd("/triage accepted"), c) == [RemoveLabel("acme/app", 7, "à trier")]
    assert plan_command(cmd("/snooze 1d"), c)[0] == RemoveLabel("acme/app", 7, "en retard")


def test_state_records_the_commenter_class() -> None:
    [*_, state] = plan_command(cmd("/waiting-on author"), ctx(commenter_class="maintainer"))
    assert isinstance(state, RecordState) and state.data["by_class"] == "maintainer"


# Each privileged command and the actions it plans once allowed (its first action's details are
# checked by PLANS above; here: that the permission lets the real plan through, not an empty one).
PRIVILEGED: dict[str, list[type]] = {
    "/triage accepted": [RemoveLabel],
    "/label +bug": [AddLabels],
    "/assign": [SetAssignees],
    "/unassign @carol": [SetAssignees],
    "/waiting-on author": [RecordState],
    "/snooze 3d": [RemoveLabel, RecordState],
}


@pytest.mark.parametrize("line", PRIVILEGED)
@pytest.mark.parametrize("permission", [None, "read"])
def test_privileged_commands_need_triage(line: str, permission: str | None) -> None:
    with pytest.raises(CommandError) as info:
        plan_command(cmd(line), ctx(commenter_permission=permission))
    assert info.value.reason == "unauthorised" and info.value.command == line


@pytest.mark.parametrize("line", PRIVILEGED)
@pytest.mark.parametrize("permission", ["triage", "write", "maintain", "admin"])
def test_privileged_commands_allowed_from_triage_up(line: str, permission: str) -> None:
    actions = plan_command(cmd(line), ctx(commenter_permission=permission))
    assert [type(a) for a in actions] == PRIVILEGED[line]
    assert actions == plan_command(cmd(line), ctx(commenter_permission="admin"))


@pytest.mark.parametrize("permission", [None, "read"])
def test_ready_from_someone_else_is_refused(permission: str | None) -> None:
    with pytest.raises(CommandError) as info:
        plan_command(cmd("/ready"), ctx(commenter_login="mallory", commenter_permission=permission))
    assert info.value.reason == "not_author"


@pytest.mark.parametrize(
    "line",
    [
        "/triage", "/triage rejected", "/label", "/label +", "/label +bug -bug", "/label +a,b",
        "/label +" + "x" * 51, "/assign @not_a_login", "/assign org/team", "/ready now",
        "/waiting-on", "/waiting-on everyone", "/waiting-on author maintainer",
        "/snooze", "/snooze 0d", "/snooze 91d", "/snooze soon", "/snooze 2w", "/snooze 1d 2d",
    ],
)  # fmt: skip
def test_invalid_arguments(line: str) -> None:
    with pytest.raises(CommandError) as info:
        plan_command(cmd(line), ctx(commenter_login="alice", commenter_permission="admin"))
    assert info.value.reason == "invalid" and info.value.usage and info.value.message


def test_unknown_and_disabled() -> None:
    with pytest.raises(CommandError) as info:
        plan_command(cmd("/asign @bob"), ctx())
    assert info.value.reason == "unknown" and "/assign" in info.value.message
    off = VeilleurConfig.model_validate({"commands": {"enabled": False}})
    with pytest.raises(CommandError) as info:
        plan_command(cmd("/help"), ctx(config=off))
    assert info.value.reason == "disabled"
    assert plan_comment("/help", None, ctx(config=off)) == []


def test_plan_comment_replies_to_refusals_and_runs_the_rest() -> None:
    body = "/label +bug\n/snooze forever\n```\n/assign\n```"
    actions = plan_comment(body, None, ctx())
    assert actions[0] == AddLabels("acme/app", 7, ("bug",))
    reply = actions[1]
    assert isinstance(reply, Reply) and reply.template == T.COMMAND_ERROR
    assert reply.data["reason"] == "invalid" and reply.data["command"] == "/snooze forever"
    assert len(actions) == 2
    # The same comment planned again gives the same reply key (a redelivery edits, not reposts).
    assert plan_comment(body, None, ctx())[1].key == reply.key  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_render_replies(lang: str) -> None:
    actions = plan_comment(
        "/help\n/triage accepted\n/snooze x", None, ctx(commenter_permission="write")
    )
    rendered = render_replies(actions, Renderer(), lang)
    comments = [a for a in rendered if isinstance(a, UpsertComment)]
    assert len(comments) == 1 and len(rendered) == 2  # one reply per comment, gathering all
    assert "/triage accepted" in comments[0].body
    assert "`/snooze x`" in comments[0].body
    assert comments[0].marker.startswith("<!-- veilleur:command-reply:acme/app#7:99:")
    assert comments[0].once == "command-refusal:acme/app#7:bob:99"


def test_refusals_are_gathered_rate_limited_and_unknown_ones_silent() -> None:
    body = "\n".join(["/label +a", "/assign @x", "/snooze", "/lable +b", "/ready now"])
    outsider = ctx(commenter_permission="read", commenter_login="eve")
    (reply,) = plan_comment(body, None, outsider)
    assert isinstance(reply, Reply) and 1 + len(reply.more) == 4  # "/lable" gets no answer
    assert all(
        data["reason"] != "unknown" for _, data in [(reply.template, reply.data), *reply.more]
    )
    assert reply.once == "command-refusal:acme/app#7:eve:99"
    assert plan_comment(body, None, replace(outsider, refused_recently=True)) == []
    assert plan_comment("/lable +b", None, outsider) == []
    (typo,) = plan_comment("/lable +b", None, ctx(commenter_permission="write"))
    assert isinstance(typo, Reply) and typo.data["reason"] == "unknown"
    helped = plan_comment("/help\n/label x", None, replace(outsider, refused_recently=True))
    assert [(a.template, a.more, a.once) for a in helped] == [(T.COMMAND_HELP, (), None)]  # type: ignore[attr-defined]
