"""`handlers.repo_cache.plan`: which per-repository caches a `label` or `push` event makes
stale, from GitHub's real payloads."""

from __future__ import annotations

from typing import Any

import pytest

from handlers import repo_cache
from tests.plan_support import changed, example


def push_changing(*paths: str, ref: str = "refs/heads/master", count: int = 1) -> dict[str, Any]:
    """The real push to master, its commits changing `paths` (`count` commits)."""
    commit = example("push", "with-new-branch")["commits"][0]
    commits = [dict(commit, added=list(paths), modified=[], removed=[])] * count
    return changed(example("push", "with-new-branch"), ref=ref, commits=commits)


@pytest.mark.parametrize("variant", ["created", "edited", "deleted"])
def test_any_label_event_forgets_the_labels(variant: str) -> None:
    assert repo_cache.plan("label", example("label", variant)) == ["labels"]


def test_the_real_push_of_a_readme_to_the_default_branch_forgets_the_profile() -> None:
    payload = example("push", "with-new-branch")  # adds README.md on master
    assert payload["commits"][0]["added"] == ["README.md"]
    assert repo_cache.plan("push", payload) == ["profile"]


def test_a_tag_push_changes_nothing() -> None:
    assert repo_cache.plan("push", example("push", "")) == []  # refs/tags/simple-tag


@pytest.mark.parametrize(
    "path",
    [
        "CONTRIBUTING.md",
        ".github/CODE_OF_CONDUCT.md",
        "docs/SUPPORT.md",
        "LICENSE",
        ".github/ISSUE_TEMPLATE/bug.md",
    ],
)
def test_community_files_forget_the_profile(path: str) -> None:
    assert repo_cache.plan("push", push_changing(path)) == ["profile"]


@pytest.mark.parametrize("path", ["src/readme.py", "docs/guide/README.md", "notes/LICENSE"])
def test_other_files_keep_it(path: str) -> None:
    assert repo_cache.plan("push", push_changing(path)) == []


def test_a_push_to_another_branch_keeps_it() -> None:
    assert repo_cache.plan("push", push_changing("README.md", ref="refs/heads/feature")) == []


def test_twenty_commits_may_hide_anything() -> None:
    """GitHub lists at most 20 commits of a push: the others may touch a community file."""
    assert repo_cache.plan("push", push_changing("src/a.py", count=20)) == ["profile"]
    assert repo_cache.plan("push", push_changing("src/a.py", count=19)) == []


def test_other_events_change_nothing() -> None:
    assert repo_cache.plan("issues", example("issues", "opened")) == []
