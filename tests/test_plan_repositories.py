"""`handlers.repositories.parse`: the state of a repository after a real `repository` event
(visibility, default branch, deletion, new name). Writing it is `test_repositories.py`'s."""

from __future__ import annotations

import pytest

from handlers import repositories
from handlers.repositories import RepoChange
from tests.plan_support import changed, event, example


def parsed(variant: str) -> RepoChange | None:
    return repositories.parse(event("repository", example("repository", variant)))


@pytest.mark.parametrize(
    ("variant", "private"),
    [("privatized", True), ("publicized", False), ("privatized.with-organization", True)],
)
def test_visibility_changes_are_read(variant: str, private: bool) -> None:
    change = parsed(variant)
    assert change == RepoChange(186853002, "Codertocat/Hello-World", private, "master", False)


def test_a_renamed_or_transferred_repository_is_known_by_its_new_name_and_same_id() -> None:
    for variant in ("renamed", "transferred", "transferred.with-organization"):
        change = parsed(variant)
        assert change is not None
        assert (change.repo_id, change.full_name) == (186853261, "Octocoders/Hello-World")


def test_a_default_branch_edit_gives_the_new_branch() -> None:
    change = parsed("edited.with-default_branch-edit")
    assert change is not None and change.default_branch == "master"


def test_a_deleted_repository_is_marked_deleted() -> None:
    payload = changed(example("repository", "created"), action="deleted")
    change = repositories.parse(event("repository", payload))
    assert change is not None and change.deleted
    assert parsed("created") is not None and not parsed("created").deleted  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "field",
    [{"repository": None}, {"repository__id": "186853261"}, {"repository__full_name": "noslash"}],
)
def test_a_payload_without_a_usable_repository_changes_nothing(field: dict[str, object]) -> None:
    payload = changed(example("repository", "created"), **field)
    assert repositories.parse(event("repository", payload)) is None


def test_unknown_visibility_and_empty_branch_are_left_alone() -> None:
    payload = changed(
        example("repository", "created"), repository__private=None, repository__default_branch=""
    )
    change = repositories.parse(event("repository", payload))
    assert change is not None and change.private is None and change.default_branch is None
