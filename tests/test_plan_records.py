"""`handlers.records`' pure steps: the item snapshot and timeline entries each real payload
implies (`parse`), a discussion that was an issue (`converted`), where a transferred issue
went or came from, and which team comments hand the turn to the author (`mark_questions`).

Writing them is covered by `test_records.py`; here only payload + frozen now -> record.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.record import timeline
from bot.storage.models import TimelineKind as K
from tests.plan_support import NOW, changed, event, example, user

R = "Codertocat/Hello-World"


def parse(name: str, variant: str, **paths: object) -> timeline.Recorded:
    rec = timeline.parse(event(name, changed(example(name, variant), **paths)), NOW)
    assert rec is not None
    return rec


def test_an_opened_issue_is_snapshotted_and_seen_live() -> None:
    rec = parse("issues", "opened")
    expected = {
        "repo_full_name": R,
        "owner": "Codertocat",
        "number": 1,
        "kind": "issue",
        "author_login": "Codertocat",
        "author_type": "User",
        "author_association": "OWNER",
        "state": "open",
        "labels": ["bug"],
        "created_at": datetime(2019, 5, 15, 15, 20, 18, tzinfo=UTC),
    }
    assert {key: rec.item[key] for key in expected} == expected
    (opened,) = rec.entries
    assert (opened.kind, opened.source_key, opened.detail) == (K.OPENED, "opened", {"live": True})
    assert opened.occurred_at == datetime(2019, 5, 15, 15, 20, 18, tzinfo=UTC)  # GitHub's time


def test_an_opened_pull_request_records_whether_it_is_a_draft() -> None:
    rec = parse("pull_request", "opened", pull_request__draft=True)
    assert rec.item["kind"] == "pull" and rec.item["draft"] is True
    assert rec.entries[0].detail == {"live": True, "draft": True}


def test_a_bot_author_is_recorded_as_a_bot() -> None:
    rec = parse("issues", "opened", issue__user=user("renovate[bot]"))
    assert rec.item["author_type"] == "Bot"


def test_a_closed_unmerged_pull_request_is_closed_by_its_sender() -> None:
    rec = parse("pull_request", "closed")
    (closed,) = rec.entries
    assert closed.kind == K.CLOSED and rec.item["closed_by"] == "Codertocat"
    assert closed.source_key == "closed:2019-05-15T15:21:18+00:00"


def test_a_merged_pull_request_is_a_merge() -> None:
    rec = parse(
        "pull_request",
        "closed",
        pull_request__merged=True,
        pull_request__merged_at="2019-05-15T15:21:00Z",
    )
    (merged,) = rec.entries
    assert merged.kind == K.MERGED and merged.source_key == "merged:2019-05-15T15:21:00+00:00"
    assert rec.item["merged_at"] == datetime(2019, 5, 15, 15, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "variant", "kind", "key", "detail"),
    [
        ("issues", "labeled", K.LABELED, "labeled:bug:2019-05-15T15:20:18+00:00", {"label": "bug"}),
        ("pull_request", "synchronize", K.PUSHED, "pushed:ec26c3e57ca3a959ca5aad62de7213c562f8c821",
         {"sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"}),
        ("issues", "locked", K.LOCKED, None, {}),
        ("issues", "deleted", K.DELETED, None, {}),
    ],
)  # fmt: skip
def test_each_action_has_its_entry_and_a_natural_key(
    name: str, variant: str, kind: str, key: str | None, detail: dict[str, object]
) -> None:
    (entry,) = parse(name, variant).entries
    assert entry.kind == kind and entry.detail == detail
    if key is not None:
        assert entry.source_key == key


def test_the_same_delivery_parsed_twice_gives_the_same_keys() -> None:
    """Natural keys: a redelivery (or a later backfill) of the same fact adds nothing."""
    for name, variant in [("issue_comment", "created"), ("pull_request_review", "submitted")]:
        first = [e.source_key for e in parse(name, variant).entries]
        again = timeline.parse(event(name, example(name, variant), "another-delivery"), NOW)
        assert again is not None and [e.source_key for e in again.entries] == first


def test_a_comment_is_by_its_author_and_keyed_by_its_id() -> None:
    (entry,) = parse("issue_comment", "created", comment__user=user("marie")).entries
    assert (entry.kind, entry.source_key) == (K.COMMENTED, "comment:492700400")
    assert entry.actor["login"] == "marie"  # the comment's user, not the sender
    assert entry.detail["body"].startswith("You are totally right!")


def test_a_long_comment_is_kept_to_4000_characters() -> None:
    (entry,) = parse("issue_comment", "created", comment__body="x" * 10_000).entries
    assert len(entry.detail["body"]) == 4000


def test_an_edited_comment_is_an_edit() -> None:
    (entry,) = parse("issue_comment", "edited").entries
    assert entry.kind == K.COMMENT_EDITED and entry.source_key.startswith("comment-edit:")


def test_a_review_keeps_its_state() -> None:
    (entry,) = parse("pull_request_review", "submitted", review__state="CHANGES_REQUESTED").entries
    assert (entry.kind, entry.source_key) == (K.REVIEWED, "review:237895671")
    assert entry.detail["state"] == "changes_requested"


def test_a_deleted_comment_records_the_item_only() -> None:
    assert parse("issue_comment", "deleted").entries == []


def test_a_payload_without_an_item_records_nothing() -> None:
    assert timeline.parse(event("push", example("push", "with-new-branch")), NOW) is None


def test_transfers_name_both_ends() -> None:
    gone = example("issues", "transferred")
    assert timeline.transfer_target(gone) == (R, 1)
    (moved,) = parse("issues", "transferred").entries
    assert moved.kind == K.TRANSFERRED and moved.detail == {"to": f"{R}#1"}
    arrived = example("issues", "opened.with-transfer")
    assert timeline.transfer_source(arrived) == ("octo-org/octo-repo", 1)
    assert timeline.transfer_source(example("issues", "opened")) is None
    assert timeline.transfer_target(example("issues", "opened")) is None


def test_a_discussion_created_is_the_conversion_of_the_issue_with_its_number() -> None:
    rec = timeline.converted(event("discussion", example("discussion", "created")), NOW)
    assert rec is not None and rec.repo == R and rec.item == {"number": 4}
    (entry,) = rec.entries
    assert entry.kind == K.CONVERTED_TO_DISCUSSION and entry.source_key == "discussion:4"
    assert entry.occurred_at == datetime(2021, 3, 30, 20, 9, 52, tzinfo=UTC)


@pytest.mark.parametrize(
    ("who", "cls", "body", "asks"),
    [
        ("marie", "maintainer", "Which version do you use?", True),
        ("marie", "maintainer", "Thanks, merged.", False),
        ("marie", "maintainer", "> Can you fix it?\nDone.", False),  # quoting is not asking
        ("Codertocat", "external", "Is it fixed?", None),  # only the team hands the turn over
        ("renovate[bot]", "bot", "Want a rebase?", None),
    ],
)
def test_team_questions_are_marked(who: str, cls: str, body: str, asks: bool | None) -> None:
    rec = parse("issue_comment", "created", comment__user=user(who), comment__body=body)
    timeline.mark_questions(rec, {who: cls})
    assert rec.entries[0].detail.get("asks_author") is asks
