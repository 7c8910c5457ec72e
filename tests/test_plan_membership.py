"""`handlers.membership.affected_login`: whose cached author class a membership change makes
stale, read from GitHub's real `member`, `membership` and `organization` payloads."""

from __future__ import annotations

import pytest

from handlers import membership
from tests.plan_support import changed, example


@pytest.mark.parametrize(
    ("name", "variant", "login"),
    [
        ("member", "added", "hacktocat"),  # a collaborator added to a repository
        ("member", "edited", "octocat"),  # their permission changed
        ("membership", "added", "Codertocat"),  # added to a team
        ("membership", "removed", "Codertocat"),
        ("membership", "removed.with-deleted-team", "Codertocat"),
        ("organization", "member_added", "hacktocat"),  # `membership.user`
    ],
)
def test_the_person_whose_class_may_change(name: str, variant: str, login: str) -> None:
    assert membership.affected_login(example(name, variant)) == login


@pytest.mark.parametrize("variant", ["member_invited", "renamed"])
def test_no_single_person_means_everyone_is_forgotten(variant: str) -> None:
    """An invitation (not a member yet) or a renamed org names nobody: the classifier then
    forgets every cached class (`invalidate(None)`), the safe side."""
    assert membership.affected_login(example("organization", variant)) is None


def test_a_member_without_login_names_nobody() -> None:
    payload = changed(example("member", "added"), member={"id": 1})
    assert membership.affected_login(payload) is None
