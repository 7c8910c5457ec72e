"""GitLab's real webhook examples told as the events the handlers plan from."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.dispatch.context import Event
from bot.gitlab.hooks import kind_of, normalise, row_fields
from bot.gitlab.numbers import MR_BASE
from bot.gitlab.webhook import STORED_KINDS
from bot.record import timeline
from tests.gitlab_fixtures import example, webhook_examples

HOST = "gitlab.example.org"


class Authors:
    """Looked-up authors, as the client would answer."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    async def user_by_id(self, user_id: int) -> dict[str, Any] | None:
        self.asked.append(user_id)
        return {"login": f"user{user_id}", "type": "User"}


async def told(rel: str, authors: Authors | None = None) -> tuple[str, str | None, dict[str, Any]]:
    payload = example(rel)
    name = row_fields(payload, HOST)[0]
    return await normalise(name, payload, HOST, authors or Authors())


async def test_an_opened_issue() -> None:
    authors = Authors()
    name, action, p = await told("issue/open.json", authors)
    assert (name, action) == ("issues", "opened")
    assert p["repository"]["full_name"] == f"{HOST}/gitlabhq/gitlab-test"
    assert p["repository"]["owner"]["login"] == f"{HOST}/gitlabhq"
    issue = p["issue"]
    assert (issue["number"], issue["state"], issue["title"]) == (
        23, "open", "New API: create/update/delete file"
    )  # fmt: skip
    assert [lbl["name"] for lbl in issue["labels"]] == ["API"]
    assert p["sender"]["login"] == "root"
    assert authors.asked == [51] and issue["user"]["login"] == "user51"  # named by id only


async def test_merge_requests_opened_pushed_merged() -> None:
    name, action, p = await told("merge_request/open.json")
    pull = p["pull_request"]
    assert (name, action) == ("pull_request", "opened")
    assert pull["number"] > MR_BASE and pull["head"]["sha"] and pull["base"]["ref"]
    assert isinstance(pull["draft"], bool)
    name, action, _ = await told("merge_request/go-gitlab.service_merge_request.update.json")
    assert (name, action) == ("pull_request", "synchronize")  # `oldrev`: new commits
    merged = example("merge_request/open.json")
    merged["object_attributes"] |= {"action": "merge", "state": "merged"}  # type: ignore[operator]
    name, action, p = await normalise("gitlab/merge_request", merged, HOST, Authors())
    assert (name, action, p["pull_request"]["merged"]) == ("pull_request", "closed", True)
    # go-gitlab's group example has its keys misspelt (`"iid "`): no item to name, ignored
    assert (await told("merge_request/go-gitlab.group_merge_request.merge.json"))[0] == (
        "gitlab_ignored"
    )


async def test_notes_on_issues_and_merge_requests_are_comments() -> None:
    name, action, p = await told("note/issue.json")
    assert (name, action) == ("issue_comment", "created")
    assert p["comment"]["body"] and p["comment"]["user"]["login"] == p["sender"]["login"]
    assert "pull_request" not in p["issue"]
    name, _, p = await told("note/merge_request.json")
    assert name == "issue_comment" and p["issue"]["number"] > MR_BASE
    assert "pull_request" in p["issue"]
    assert (await told("note/commit.json"))[0] == "gitlab_ignored"
    assert (await told("note/snippet.json"))[0] == "gitlab_ignored"


async def test_group_member_events_refresh_classes() -> None:
    name, action, p = await told("member/user_add_to_group.json")
    assert (name, action) == ("membership", "added")
    assert p["membership"]["user"]["login"] == "test_user"
    assert (await told("member/user_remove_from_group.json"))[1] == "removed"


@pytest.mark.parametrize("path", webhook_examples(), ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_every_stored_example_is_told_and_recordable(path: Any) -> None:
    payload = json.loads(path.read_text())
    if kind_of(payload) not in STORED_KINDS:
        return
    name, action, p = await normalise(row_fields(payload, HOST)[0], payload, HOST, Authors())
    if name == "gitlab_ignored":
        assert path.name == "go-gitlab.group_merge_request.merge.json" or kind_of(payload) == "note"
        return
    if name in ("issues", "pull_request", "issue_comment", "pull_request_review"):
        event = Event(name=name, action=action, delivery="d", payload=p)
        recorded = timeline.parse(event, datetime(2025, 1, 1, tzinfo=UTC))
        assert recorded is not None and recorded.repo.startswith(f"{HOST}/")
        assert recorded.item["owner"] == recorded.repo.rpartition("/")[0]


async def test_a_push_of_the_config_drops_the_cached_one() -> None:
    from unittest.mock import MagicMock

    from bot.config.loader import ConfigLoader

    push = example("push/push.json")
    project = push["project"]
    assert isinstance(project, dict)
    push["ref"] = f"refs/heads/{project['default_branch']}"
    push["commits"] = [{"added": [], "modified": [".gitlab/veilleur.yml"], "removed": []}]
    name, _, p = await normalise("gitlab/push", push, HOST, Authors())
    assert name == "push" and p["commits"][0]["modified"] == [".github/veilleur.yml"]
    loader = ConfigLoader.__new__(ConfigLoader)
    loader.invalidate, loader.invalidate_org = MagicMock(), MagicMock()  # type: ignore[method-assign]
    assert loader.on_push(p)
    loader.invalidate.assert_called_once_with(p["repository"]["full_name"])
    project["path_with_namespace"] = "city/gitlab-profile"  # the group's own files
    push["commits"] = [{"added": [], "modified": [".gitlab/veilleur.yml"], "removed": []}]
    _, _, p = await normalise("gitlab/push", push, HOST, Authors())
    assert loader.on_push(p)
    loader.invalidate_org.assert_called_once_with(f"{HOST}/city")


@pytest.mark.parametrize("place", [".gitlab/veilleur/templates", ".github/veilleur/templates"])
async def test_a_push_of_a_group_template_override_drops_the_groups_files(place: str) -> None:
    """At GitLab's place or at the earlier one, a changed override in the group's
    gitlab-profile drops the group's cached files (its configuration and its overrides)."""
    from unittest.mock import MagicMock

    from bot.config.loader import ConfigLoader

    push = example("push/push.json")
    project = push["project"]
    assert isinstance(project, dict)
    push["ref"] = f"refs/heads/{project['default_branch']}"
    project["path_with_namespace"] = "city/gitlab-profile"
    push["commits"] = [
        {"added": [f"{place}/fr/welcome_issue.md.j2"], "modified": [], "removed": []}
    ]
    _, _, p = await normalise("gitlab/push", push, HOST, Authors())
    loader = ConfigLoader.__new__(ConfigLoader)
    loader.invalidate, loader.invalidate_org = MagicMock(), MagicMock()  # type: ignore[method-assign]
    assert loader.on_push(p)
    loader.invalidate_org.assert_called_once_with(f"{HOST}/city")
