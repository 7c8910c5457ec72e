"""The import's pure steps: GitHub-shaped GraphQL nodes become the webhook record's entries,
and the cursor plan decides what to resume. Plus the nightly schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.backfill.graphql import item_record, person
from bot.backfill.run import Options, plan
from bot.dispatch.context import Event
from bot.storage.models import BackfillCursor
from handlers.backfill import repos_to_import

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pull_node(**extra: Any) -> dict[str, Any]:
    node = {
        "id": "PR_1", "databaseId": 11, "number": 7, "title": "Fix", "createdAt": at(0),
        "updatedAt": at(60), "closedAt": at(60), "mergedAt": at(60), "state": "MERGED",
        "isDraft": False, "authorAssociation": "CONTRIBUTOR",
        "author": {"login": "alice", "__typename": "User", "company": "ACME",
                   "email": "alice@Acme.example"},
        "labels": {"nodes": [{"name": "docs"}, {"name": "bug"}]},
        "assignees": {"nodes": [{"login": "renovate", "__typename": "Bot"}]},
    }  # fmt: skip
    return node | extra


def commit(oid: str, minutes: int) -> dict[str, Any]:
    return {"__typename": "PullRequestCommit", "commit": {"oid": oid, "committedDate": at(minutes)}}


def test_a_merged_pull_request_gives_the_webhook_keys() -> None:
    bot = {"login": "veilleur", "__typename": "Bot"}
    timeline = [
        commit("a1", -30),  # came with the opening
        commit("a2", -10),  # authored before the pull request: came with it too
        {"__typename": "LabeledEvent", "createdAt": at(1), "actor": bot, "label": {"name": "bug"}},
        {"__typename": "IssueComment", "databaseId": 99, "createdAt": at(2), "body": "Merci",
         "author": bot},
        commit("b1", 20),
        {"__typename": "PullRequestReview", "databaseId": 5, "state": "PENDING", "author": bot},
        {"__typename": "PullRequestReview", "databaseId": 6, "state": "APPROVED",
         "submittedAt": at(30), "author": {"login": "marie", "__typename": "User"}, "body": "ok"},
        {"__typename": "MergedEvent", "createdAt": at(60), "actor": {"login": "marie"}},
        {"__typename": "ClosedEvent", "createdAt": at(60), "actor": {"login": "marie"}},
    ]  # fmt: skip
    rec = item_record("ville/site", pull_node(), timeline, is_pull=True)
    keys = [e.source_key for e in rec.entries]
    assert keys == [
        "opened",
        f"labeled:bug:{T0 + timedelta(minutes=1):%Y-%m-%dT%H:%M:%S+00:00}",
        "comment:99",
        "review:6",
        f"merged:{T0 + timedelta(minutes=60):%Y-%m-%dT%H:%M:%S+00:00}",
        "pushed:b1",
    ]
    assert rec.entries[1].actor == {"login": "veilleur[bot]", "type": "Bot"}  # GraphQL drops [bot]
    assert rec.entries[3].detail == {"review_id": 6, "state": "approved", "body": "ok"}
    item = rec.item
    assert item["state"] == "closed" and item["kind"] == "pull" and item["closed_by"] == "marie"
    assert item["labels"] == ["bug", "docs"] and item["assignees"] == ["renovate[bot]"]
    assert item["author_company"] == "ACME" and item["author_email_domain"] == "acme.example"


def test_an_issue_closed_reopened_and_closed_keeps_both_closes() -> None:
    node = pull_node(state="CLOSED", mergedAt=None, isDraft=None)
    timeline = [
        {"__typename": "ClosedEvent", "createdAt": at(5), "actor": {"login": "marie"}},
        {"__typename": "ReopenedEvent", "createdAt": at(6), "actor": {"login": "alice"}},
        {"__typename": "AssignedEvent", "createdAt": at(7), "actor": {"login": "marie"},
         "assignee": {"login": "marie", "__typename": "User"}},
        {"__typename": "ClosedEvent", "createdAt": at(8), "actor": None},
    ]  # fmt: skip
    rec = item_record("ville/site", node, timeline, is_pull=False)
    assert [e.kind for e in rec.entries] == ["opened", "closed", "reopened", "assigned", "closed"]
    assert rec.entries[3].detail == {"assignee": "marie"}
    assert rec.entries[4].actor == {}  # a deleted account
    assert rec.item["closed_by"] is None


def test_a_deleted_author_is_ghost() -> None:
    rec = item_record("ville/site", pull_node(author=None), [], is_pull=False)
    assert rec.item["author_login"] == "ghost" and person(None) == {}


def test_plan_resumes_only_the_same_range() -> None:
    row = BackfillCursor(
        repo_full_name="o/r", kind="issues", cursor="c1", since=None, started_at=T0, items=5
    )
    active, _, covered = plan({"issues": row}, "o/r", Options(), T0)
    assert active["issues"].cursor == "c1" and active["pulls"].cursor is None and not covered
    active, _, _ = plan({"issues": row}, "o/r", Options(since=T0), T0)
    assert active["issues"].cursor is None and active["issues"].since == T0


def test_plan_after_a_complete_import_asks_only_what_changed() -> None:
    mark = BackfillCursor(
        repo_full_name="o/r", kind="refresh", since=None, started_at=T0, finished_at=T0
    )
    later = T0 + timedelta(days=1)
    active, _, covered = plan({"refresh": mark}, "o/r", Options(), later)
    assert covered and active["issues"].since == T0 - timedelta(minutes=10)
    active, _, covered = plan({"refresh": mark}, "o/r", Options(restart=True), later)
    assert not covered and active["pulls"].since is None


def test_handler_imports_the_added_repositories() -> None:
    account = {"installation": {"id": 1, "account": {"login": "ville"}}}
    added = Event(
        "installation_repositories",
        "added",
        "g",
        account | {"repositories_added": [{"full_name": "ville/a"}]},
    )
    assert repos_to_import(added) == ("ville", ["ville/a"])
    created = Event("installation", "created", "g", account)
    assert repos_to_import(created) == ("ville", None)  # every installed repository


def test_nightly_refresh_is_scheduled_at_0230_utc() -> None:
    from bot.periodic import JOBS
    from tests.conftest import make_settings

    jobs = {job_id: trigger for job_id, _, trigger in JOBS(make_settings("sqlite://"))}
    assert jobs["backfill-refresh"] == {"trigger": "cron", "hour": 2, "minute": 30}
