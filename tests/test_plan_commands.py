"""`handlers.commands.plan_comment`: the slash commands of a real comment, planned.

Real `issue_comment.created` / `issue_comment.edited` payloads (their bodies replaced by the
commands under test), the commenter's permission as the forge would report it, a frozen now.
The parsing and each command's arguments are covered in depth by `test_commands.py`; this
file checks the path from a webhook payload to the planned (and rendered) actions.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.config.schema import VeilleurConfig
from bot.dispatch.context import Event
from bot.effects.actions import AddLabels, EnsureLabel, RecordState, RemoveLabel, UpsertComment
from bot.effects.labels import LABEL_STYLE
from bot.messages.language import detect_item_language
from bot.messages.templating import Renderer
from handlers import commands
from tests.plan_support import NOW, changed, classified, config, event, example, user

R, N = "Codertocat/Hello-World", 1
MAINTAINER = user("marie")
STRANGER = user("eve")


def command_context(
    ev: Event,
    cfg: VeilleurConfig,
    permission: str | None,
    *,
    refused_recently: bool = False,
) -> commands.CommandContext:
    """The context `commands.handle` builds from the event (look-ups given as arguments)."""
    item, comment = ev.item or {}, ev.payload["comment"]
    commenter = comment.get("user") or ev.sender
    assert ev.repo is not None
    return commands.CommandContext(
        repo=ev.repo,
        number=item["number"],
        is_pull="pull_request" in item,
        author_login=(item.get("user") or {}).get("login") or "",
        commenter_login=commenter.get("login") or "",
        commenter_permission=permission,
        config=cfg,
        now=NOW,
        labels=tuple(lbl.get("name", "") for lbl in item.get("labels") or []),
        assignees=tuple(a.get("login", "") for a in item.get("assignees") or []),
        commenter_class=classified(commenter, cfg, permission=permission).author_class,
        comment_id=comment.get("id"),
        refused_recently=refused_recently,
    )


def planned(
    body: str | None,
    *,
    who: dict[str, Any] | None = None,
    permission: str | None = None,
    labels: tuple[str, ...] = (),
    text: str = "",
    variant: str = "created",
    previous: str | None = None,
    refused_recently: bool = False,
) -> list[Any]:
    """Plan the commands of the real `issue_comment.<variant>` example."""
    payload = example("issue_comment", variant)
    paths: dict[str, Any] = {}
    if body is not None:
        paths["comment__body"] = body
    if who is not None:
        paths["comment__user"] = who
    if previous is not None:
        paths["changes"] = {"body": {"from": previous}}
    if labels:
        names = [lbl["name"] for lbl in payload["issue"]["labels"]] + list(labels)
        paths["issue__labels"] = [{"name": name} for name in names]
    ev = event("issue_comment", changed(payload, **paths))
    old = ((ev.payload.get("changes") or {}).get("body") or {}).get("from")
    ctx = command_context(ev, config(text), permission, refused_recently=refused_recently)
    return commands.plan_comment(ev.payload["comment"]["body"], old, ctx)


def test_a_real_comment_without_commands_plans_nothing() -> None:
    assert planned(None, permission="admin") == []  # "You are totally right! …"
    assert commands.parse_commands(example("issue_comment", "created")["comment"]["body"]) == []


def test_triage_accepted_from_a_triager_ends_triage() -> None:
    actions = planned(
        "/triage accepted", who=MAINTAINER, permission="triage", labels=("needs-triage",)
    )
    assert actions == [RemoveLabel(R, N, "needs-triage")]


def test_the_author_says_ready_and_the_turn_goes_to_the_maintainers() -> None:
    # The example comment is by Codertocat, the issue's author, with no permission at all.
    actions = planned("I pushed the fix.\n\n/ready", labels=("awaiting-author",))
    assert actions == [
        EnsureLabel(R, "awaiting-maintainer", *LABEL_STYLE["awaiting_maintainer"]),
        AddLabels(R, N, ("awaiting-maintainer",)),
        RemoveLabel(R, N, "awaiting-author"),
        RecordState(
            "waiting_on",
            R,
            N,
            {"who": "maintainer", "by": "Codertocat", "command": "/ready", "by_class": "external"},
        ),
    ]


def test_an_outsider_cannot_triage_and_is_told_why_once() -> None:
    (reply,) = planned("/label +urgent", who=STRANGER, labels=("needs-triage",))
    assert isinstance(reply, commands.Reply)
    assert reply.data["reason"] == "unauthorised" and reply.data["command"] == "/label +urgent"
    comment_id = example("issue_comment", "created")["comment"]["id"]
    assert reply.once == f"command-refusal:{R.lower()}#{N}:eve:{comment_id}"
    # Refused within the hour already: no second answer.
    assert planned("/label +urgent", who=STRANGER, refused_recently=True) == []


def test_someone_else_cannot_say_ready_for_the_author() -> None:
    (reply,) = planned("/ready", who=STRANGER)
    assert isinstance(reply, commands.Reply) and reply.data["reason"] == "not_author"


def test_an_unknown_command_from_an_outsider_gets_no_answer() -> None:
    assert planned("/lable +urgent", who=STRANGER) == []
    (typo,) = planned("/lable +urgent", who=MAINTAINER, permission="write")
    assert isinstance(typo, commands.Reply) and typo.data["reason"] == "unknown"


def test_snooze_counts_from_the_frozen_now() -> None:
    (remove, state) = planned("/snooze 5d", who=MAINTAINER, permission="write", labels=("overdue",))
    assert remove == RemoveLabel(R, N, "overdue")
    assert isinstance(state, RecordState) and state.kind == "snoozed"
    assert state.data["until"] == (NOW + timedelta(days=5)).isoformat()
    assert state.data["by_class"] == "maintainer"


def test_an_edit_runs_only_the_commands_it_added() -> None:
    actions = planned(
        "/snooze 5d\n/triage accepted",
        variant="edited",
        who=MAINTAINER,
        permission="maintain",
        labels=("needs-triage", "overdue"),
        previous="/snooze 5d",
    )
    assert actions == [RemoveLabel(R, N, "needs-triage")]


def test_the_real_edit_adds_no_command() -> None:
    assert planned(None, variant="edited", permission="admin") == []


def test_commands_turned_off_plan_nothing_and_answer_nothing() -> None:
    text = "commands:\n  enabled: false\n"
    assert planned("/triage accepted", who=MAINTAINER, permission="admin", text=text) == []
    assert planned("/label +x", who=STRANGER, text=text) == []


@pytest.mark.parametrize(
    ("title", "body", "lang", "needle"),
    [
        (None, None, "en", "I could not run `/label +urgent`"),
        (
            "Faute dans le fichier README",
            "Le mot commit est écrit avec deux t dans le fichier README. Pouvez-vous corriger ?",
            "fr",
            "Je n'ai pas pu exécuter `/label +urgent`",
        ),
    ],
)
def test_the_reply_speaks_the_conversations_language(
    title: str | None, body: str | None, lang: str, needle: str
) -> None:
    payload = example("issue_comment", "created")
    if title is not None:
        payload = changed(payload, issue__title=title, issue__body=body)
    cfg = config()
    item = payload["issue"]
    found = detect_item_language(item["title"], item["body"] or "", tuple(cfg.languages), "en")
    assert found == lang
    payload = changed(payload, comment__body="/label +urgent", comment__user=STRANGER)
    ev = event("issue_comment", payload)
    actions = commands.plan_comment("/label +urgent", None, command_context(ev, cfg, None))
    (comment,) = commands.render_replies(actions, Renderer(), found)
    assert isinstance(comment, UpsertComment) and needle in comment.body
    assert comment.marker.startswith(f"<!-- veilleur:command-reply:{R}#{N}:")


def test_dry_run_plans_exactly_what_would_be_done() -> None:
    live = planned(
        "/triage accepted", who=MAINTAINER, permission="triage", labels=("needs-triage",)
    )
    dry = planned(
        "/triage accepted",
        who=MAINTAINER,
        permission="triage",
        labels=("needs-triage",),
        text="dry_run: true\n",
    )
    assert dry == live == [RemoveLabel(R, N, "needs-triage")]
