"""`Event`'s typed accessors read the payload fields handlers need, from real webhook examples,
and say nothing (empty, None) when a payload lacks them."""

from __future__ import annotations

import copy
import json
from typing import Any

from bot.dispatch.context import Event
from tests.conftest import WEBHOOK_EXAMPLES, need


def example(name: str, action: str) -> dict[str, Any]:
    path = need(WEBHOOK_EXAMPLES) / name / f"{action}.payload.json"
    payload: dict[str, Any] = json.loads(path.read_text())
    return payload


def event(name: str, payload: dict[str, Any]) -> Event:
    return Event(name=name, action=payload.get("action"), delivery="d", payload=payload)


def test_an_edited_comment_on_an_issue() -> None:
    payload = copy.deepcopy(example("issue_comment", "edited"))
    payload["comment"]["user"] = {"login": "camille", "type": "User"}  # not the sender
    e = event("issue_comment", payload)
    assert (e.sender_login, e.comment_author["login"], e.actor["login"]) == (
        "Codertocat",
        "camille",
        "camille",
    )
    assert e.comment_body == payload["comment"]["body"]
    assert e.previous_body == payload["changes"]["body"]["from"]
    assert (e.number, e.item_author_login) == (1, "Codertocat")
    assert (e.item_labels, e.item_assignees) == (("bug",), ("Codertocat",))
    assert not e.is_pull
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/1"}
    assert event("issue_comment", payload).is_pull  # a comment on a pull request


def test_a_review_and_an_opened_issue() -> None:
    payload = copy.deepcopy(example("pull_request_review", "submitted"))
    payload["review"]["user"] = {"login": "paul", "type": "User"}
    review = event("pull_request_review", payload)
    assert review.is_pull and review.actor["login"] == "paul"
    assert review.review["state"] == "commented" and review.comment_body == ""
    opened = event("issues", example("issues", "opened"))
    assert opened.actor == opened.sender and opened.previous_body is None
    assert opened.comment == {} and opened.comment_author == opened.sender


def test_a_payload_without_an_item_says_nothing() -> None:
    e = event("push", {"ref": "refs/heads/main", "comment": "not an object"})
    assert (e.item_author, e.item_author_login, e.item_labels, e.item_assignees) == ({}, "", (), ())
    assert (e.comment, e.comment_body, e.review, e.is_pull) == ({}, "", {}, False)
