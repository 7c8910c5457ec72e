"""`Forge`: every operation Veilleur's handlers, effects, sweep and config loader ask of a forge.

Derived from the calls they make (bot/effects/executor.py, handlers/, bot/record/people.py,
bot/config/loader.py, bot/sla/sweep.py). Names are Veilleur's vocabulary: an *org* is a GitHub
organisation or a GitLab group, a *pull* is a pull or merge request, an item's *number* is what
people see (GitLab's iid). Repository names are forge-qualified (bot/forge/names.py). Answers
are plain JSON objects in the neutral shape (bot/forge/types.py). Well-known files are asked for
by their canonical (GitHub) place, `.github/veilleur.yml` in `<org>/.github`; a forge maps them
to its own (GitLab: `.gitlab/veilleur.yml`, the group's `gitlab-profile` project).

`bot.github.client.GitHubAPI` and `bot.gitlab.GitLabAPI` implement it (checked by mypy in
tests/test_forges.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Forge(Protocol):
    # The account this client acts as, when the forge tells it (GitLab: the token's user,
    # known once a list call was made); None on GitHub, where the dispatcher knows the App's.
    own_login: str | None

    # -- repositories and files ----------------------------------------------------------
    async def get_repo(self, repo: str) -> dict[str, Any]:
        """`full_name`, `default_branch`, `private`, `archived`."""
        ...

    async def installation_repositories(self) -> list[dict[str, Any]]:
        """Every repository the credentials cover."""
        ...

    async def get_file(
        self, repo: str, path: str, ref: str | None = None, *, keep: bool = False
    ) -> str | None:
        """The file's text, None when absent. `keep`: the caller reads it again over time (the
        configuration, the template overrides): a forge that can asks whether it changed
        (GitHub: `If-None-Match` with the kept `ETag`, a 304 is not rate-limited)."""
        ...

    async def list_dir(self, repo: str, path: str, *, keep: bool = False) -> list[dict[str, Any]]:
        """Entries (`name`, `path`, `type`); [] when absent. `keep`: as `get_file`'s."""
        ...

    def place_of(self, repo: str, path: str) -> str:
        """Where the forge keeps what is asked for at the canonical `path`, as last read: the
        path a maintainer edits, which messages name (GitLab: `.gitlab/…`, or an earlier
        place it fell back to, bot/gitlab/client.py `EARLIER`)."""
        ...

    async def community_profile(self, repo: str) -> dict[str, Any] | None:
        """`files` present (contributing, code of conduct, …), or None when unknown."""
        ...

    # -- people ----------------------------------------------------------------------------
    async def get_user(self, login: str) -> dict[str, Any] | None: ...

    async def is_org_member(self, org: str, login: str) -> bool:
        """A member of the organisation (GitLab: the group, inherited membership included)."""
        ...

    async def team_membership(self, org: str, team_slug: str, login: str) -> str | None:
        """`active`, `pending` or None (GitLab: membership of the subgroup `org/team_slug`)."""
        ...

    async def collaborator_permission(self, repo: str, login: str) -> str | None:
        """`admin`, `maintain`, `write`, `triage`, `read` or None."""
        ...

    # -- issues and pulls --------------------------------------------------------------------
    async def get_issue(self, repo: str, number: int) -> dict[str, Any]: ...

    async def list_issues(self, repo: str, **params: Any) -> list[dict[str, Any]]:
        """One page; `creator=`, `state=` (open, closed, all), `page=`, `per_page=`."""
        ...

    async def create_issue(
        self, repo: str, title: str, body: str, labels: list[str] | None = None
    ) -> dict[str, Any]: ...

    async def update_issue(self, repo: str, number: int, **fields: Any) -> dict[str, Any]:
        """`title`, `body`, `state` (open, closed), `state_reason`."""
        ...

    async def list_comments(self, repo: str, number: int) -> list[dict[str, Any]]: ...

    async def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]: ...

    async def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]: ...

    async def add_labels(self, repo: str, number: int, labels: list[str]) -> None: ...

    async def remove_label(self, repo: str, number: int, label: str) -> None: ...

    async def change_labels(
        self, repo: str, number: int, add: list[str], remove: list[str], ids: Mapping[str, str]
    ) -> bool:
        """Add and remove labels in one request where the forge can (`ids`: node ids known
        from the event, bot/forge/node_ids.py); False when it could not, nothing changed."""
        ...

    async def get_label(self, repo: str, name: str) -> dict[str, Any] | None: ...

    async def create_label(
        self, repo: str, name: str, color: str, description: str
    ) -> dict[str, Any] | None:
        """The created label; None when it already existed."""
        ...

    async def add_assignees(self, repo: str, number: int, logins: list[str]) -> None: ...

    async def remove_assignees(self, repo: str, number: int, logins: list[str]) -> None: ...

    async def get_pull(self, repo: str, number: int) -> dict[str, Any]: ...

    async def list_pull_files(self, repo: str, number: int) -> list[dict[str, Any]]:
        """`filename` of each changed file."""
        ...

    async def list_pull_commits(self, repo: str, number: int) -> list[dict[str, Any]]: ...

    async def requested_reviewers(self, repo: str, number: int) -> dict[str, Any]:
        """`users` (each with `login`) asked to review (GitLab: the merge request's reviewers)."""
        ...

    async def create_check_run(self, repo: str, **fields: Any) -> dict[str, Any]:
        """A check on a commit (GitLab: a commit status)."""
        ...

    # -- failures ----------------------------------------------------------------------------
    def status_of(self, exc: BaseException) -> int | None:
        """The HTTP status of a failed call, None when there was no answer."""
        ...

    def is_ambiguous(self, exc: BaseException) -> bool:
        """The call may or may not have been carried out (timeout, reset, 5xx)."""
        ...


class RepoForges(Protocol):
    """Finds the client of a repository that is not on GitHub (bot/gitlab/registry.py)."""

    def for_repo(self, repo: str) -> Forge | None: ...
