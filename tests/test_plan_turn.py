"""`handlers.turn.plan`: whose turn it is after a comment, a review, a push, a label or an
assignment on an outside contribution; and `stale_reopen`, when the author comes back to an
issue Veilleur closed as stale.

Real payloads (`issue_comment.created`, `pull_request_review.submitted`,
`pull_request.synchronize`, `issues.labeled`, `issues.assigned`), varied where a test needs
another actor or text. No server, no forge.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.config.schema import VeilleurConfig
from bot.dispatch.context import Event
from bot.effects.actions import AddLabels, EnsureLabel, RemoveLabel
from bot.effects.labels import LABEL_STYLE
from bot.record.people import Classification
from handlers import turn
from tests.plan_support import changed, classified, config, event, example, user

R, ISSUE, PULL = "Codertocat/Hello-World", 1, 2
AUTHOR = "Codertocat"  # the author of both example items
MAINTAINER = user("marie")
STRANGER = user("eve")


def actor_of(ev: Event) -> dict[str, Any]:
    """Who acted, as `turn.handle` reads it: the comment's or review's user, else the sender."""
    if ev.name == "issue_comment":
        return (ev.payload.get("comment") or {}).get("user") or ev.sender
    if ev.name == "pull_request_review":
        return (ev.payload.get("review") or {}).get("user") or ev.sender
    return ev.sender


def turn_input(ev: Event, who: Classification, labels: tuple[str, ...] = ()) -> turn.TurnInput:
    """The input `turn.handle` builds (the item's author from the record; here, the payload)."""
    raw = ev.item
    assert raw is not None and ev.repo is not None
    actor = actor_of(ev)
    author = (raw.get("user") or {}).get("login") or ""
    review = ev.payload.get("review") or {}
    current = {lbl["name"] for lbl in raw.get("labels") or []} | set(labels)
    return turn.TurnInput(
        repo=ev.repo,
        number=raw["number"],
        event=turn._kind(ev),
        actor_class=who.author_class,
        actor_is_author=(actor.get("login") or "").lower() == author.lower(),
        labels=frozenset(current),
        text=(ev.payload.get("comment") or {}).get("body") or "",
        review_state=str(review.get("state") or "").lower() or None,
    )


def plan(
    name: str,
    variant: str,
    *,
    permission: str | None = None,
    labels: tuple[str, ...] = (),
    cfg: VeilleurConfig | None = None,
    **paths: Any,
) -> list[Any]:
    """Plan a real example, changed by `paths`, the actor holding `permission` on the repo."""
    ev = event(name, changed(example(name, variant), **paths))
    cfg = cfg or config()
    who = classified(actor_of(ev), cfg, permission=permission)
    return turn.plan(turn_input(ev, who, labels), cfg.labels)


def ensure(label: str, style: str) -> EnsureLabel:
    return EnsureLabel(R, label, *LABEL_STYLE[style])


# -- the author moves -----------------------------------------------------------------------------


def test_the_authors_comment_hands_the_turn_to_the_maintainers() -> None:
    actions = plan("issue_comment", "created", labels=("awaiting-author",))
    assert actions == [
        ensure("awaiting-maintainer", "awaiting_maintainer"),
        AddLabels(R, ISSUE, ("awaiting-maintainer",)),
        RemoveLabel(R, ISSUE, "awaiting-author"),
    ]


def test_the_authors_push_hands_the_turn_to_the_maintainers() -> None:
    actions = plan("pull_request", "synchronize", labels=("awaiting-author",))
    assert actions == [
        ensure("awaiting-maintainer", "awaiting_maintainer"),
        AddLabels(R, PULL, ("awaiting-maintainer",)),
        RemoveLabel(R, PULL, "awaiting-author"),
    ]


def test_labels_already_right_are_left_alone() -> None:
    assert plan("issue_comment", "created", labels=("awaiting-maintainer",)) == []


def test_the_authors_own_review_moves_nothing() -> None:
    # The example review is by Codertocat, the pull request's author, with state `commented`.
    assert plan("pull_request_review", "submitted", labels=("awaiting-author",)) == []


# -- the team moves -------------------------------------------------------------------------------


def test_a_team_question_hands_the_turn_to_the_author() -> None:
    actions = plan(
        "issue_comment",
        "created",
        permission="write",
        labels=("needs-triage", "awaiting-maintainer"),
        comment__user=MAINTAINER,
        comment__body="Which version of the README do you mean?",
    )
    assert actions == [
        ensure("awaiting-author", "awaiting_author"),
        AddLabels(R, ISSUE, ("awaiting-author",)),
        RemoveLabel(R, ISSUE, "needs-triage"),
        RemoveLabel(R, ISSUE, "awaiting-maintainer"),
    ]


def test_a_team_answer_without_question_ends_the_maintainers_turn() -> None:
    actions = plan(
        "issue_comment",
        "created",
        permission="triage",
        labels=("needs-triage", "awaiting-maintainer"),
        comment__user=MAINTAINER,
        comment__body="Thanks, fixed in the next release.",
    )
    assert actions == [
        RemoveLabel(R, ISSUE, "needs-triage"),
        RemoveLabel(R, ISSUE, "awaiting-maintainer"),
    ]


def test_a_question_inside_a_quote_or_code_is_not_a_question() -> None:
    actions = plan(
        "issue_comment",
        "created",
        permission="write",
        labels=("awaiting-maintainer",),
        comment__user=MAINTAINER,
        comment__body="> Can you fix it?\n\nDone in `fix?`.",
    )
    assert actions == [RemoveLabel(R, ISSUE, "awaiting-maintainer")]


def test_changes_requested_hands_the_turn_to_the_author() -> None:
    actions = plan(
        "pull_request_review",
        "submitted",
        permission="write",
        labels=("awaiting-maintainer",),
        review__user=MAINTAINER,
        review__state="changes_requested",
    )
    assert actions == [
        ensure("awaiting-author", "awaiting_author"),
        AddLabels(R, PULL, ("awaiting-author",)),
        RemoveLabel(R, PULL, "awaiting-maintainer"),
    ]


def test_a_team_approval_ends_the_maintainers_turn() -> None:
    actions = plan(
        "pull_request_review",
        "submitted",
        permission="maintain",
        labels=("needs-triage", "awaiting-maintainer"),
        review__user=MAINTAINER,
        review__state="approved",
    )
    assert actions == [
        RemoveLabel(R, PULL, "needs-triage"),
        RemoveLabel(R, PULL, "awaiting-maintainer"),
    ]


@pytest.mark.parametrize(
    ("name", "variant", "number"),
    [
        ("issues", "labeled", ISSUE),
        ("issues", "assigned", ISSUE),
        ("pull_request", "labeled", PULL),
        ("pull_request", "assigned", PULL),
    ],
)
def test_a_team_label_or_assignment_only_ends_triage(name: str, variant: str, number: int) -> None:
    actions = plan(
        name,
        variant,
        permission="write",
        labels=("needs-triage", "awaiting-maintainer"),
        sender=MAINTAINER,
    )
    assert actions == [RemoveLabel(R, number, "needs-triage")]


def test_custom_label_names_are_used() -> None:
    cfg = config("labels:\n  awaiting_author: à vous\n  needs_triage: à trier\n")
    actions = plan(
        "issue_comment",
        "created",
        permission="write",
        labels=("à trier",),
        cfg=cfg,
        comment__user=MAINTAINER,
        comment__body="Pouvez-vous préciser ?",
    )
    assert actions == [
        ensure("à vous", "awaiting_author"),
        AddLabels(R, ISSUE, ("à vous",)),
        RemoveLabel(R, ISSUE, "à trier"),
    ]


# -- who never moves the turn ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "who",
    [user("dependabot[bot]", bot=True), user("renovate[bot]"), STRANGER],
    ids=["app", "bot-suffix", "stranger"],
)
def test_bots_and_other_people_never_move_the_turn(who: dict[str, Any]) -> None:
    labels = ("needs-triage", "awaiting-maintainer", "awaiting-author")
    for body in ("Could you rebase?", "Looks good to me."):
        actions = plan(
            "issue_comment", "created", labels=labels, comment__user=who, comment__body=body
        )
        assert actions == []


def test_a_machine_user_in_the_config_is_a_bot() -> None:
    cfg = config("bots:\n  logins: [marie]\n")
    actions = plan(
        "issue_comment",
        "created",
        permission="admin",
        labels=("needs-triage", "awaiting-maintainer"),
        cfg=cfg,
        comment__user=MAINTAINER,
        comment__body="Which version?",
    )
    assert actions == []


def test_a_maintainer_on_their_own_item_is_its_author() -> None:
    """A team member's own contribution: their comment is the author's, never an answer."""
    actions = plan("issue_comment", "created", permission="write", labels=("awaiting-author",))
    assert actions == [
        ensure("awaiting-maintainer", "awaiting_maintainer"),
        AddLabels(R, ISSUE, ("awaiting-maintainer",)),
        RemoveLabel(R, ISSUE, "awaiting-author"),
    ]


def test_dry_run_plans_exactly_what_would_be_done() -> None:
    for cfg in (config(), config("dry_run: true\n")):
        assert plan("issue_comment", "created", labels=("awaiting-author",), cfg=cfg) == [
            ensure("awaiting-maintainer", "awaiting_maintainer"),
            AddLabels(R, ISSUE, ("awaiting-maintainer",)),
            RemoveLabel(R, ISSUE, "awaiting-author"),
        ]


# -- stale_reopen ---------------------------------------------------------------------------------

BOT_LOGIN = "veilleur[bot]"


def reopen(commenter: str, closed_by: str | None, reason: str | None) -> bool:
    payload = changed(
        example("issue_comment", "created"),
        comment__user=user(commenter),
        issue__state="closed",
        issue__state_reason=reason,
    )
    ev = event("issue_comment", payload)
    raw = ev.item or {}
    commenter_login = ev.payload["comment"]["user"]["login"]
    return turn.stale_reopen(raw["user"]["login"], commenter_login, closed_by, BOT_LOGIN, reason)


def test_the_author_back_on_an_issue_veilleur_closed_as_stale_reopens_it() -> None:
    assert reopen(AUTHOR, BOT_LOGIN, "not_planned") is True
    assert reopen(AUTHOR.lower(), BOT_LOGIN, "not_planned") is True  # logins ignore case


@pytest.mark.parametrize(
    ("commenter", "closed_by", "reason"),
    [
        ("eve", BOT_LOGIN, "not_planned"),  # someone else: not the author coming back
        (AUTHOR, "marie", "not_planned"),  # a person closed it: their decision stands
        (AUTHOR, BOT_LOGIN, "completed"),  # closed as done, not as stale
        (AUTHOR, None, None),
    ],
)
def test_nothing_else_reopens(commenter: str, closed_by: str | None, reason: str | None) -> None:
    assert reopen(commenter, closed_by, reason) is False


def test_without_a_bot_login_nothing_is_reopened() -> None:
    assert turn.stale_reopen(AUTHOR, AUTHOR, None, None, "not_planned") is False
