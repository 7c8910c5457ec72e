"""Where a repository or an item lives on the web, on GitHub or on a GitLab instance, and
how an item is referred to in text (`owner/repo#7`, `host/group/project!7`).

GitLab numbers merge requests apart from issues; Veilleur stores a merge request at
`PULL_NUMBER_BASE + iid` (bot/forge/names.py), so the number alone says which one it is.
A GitLab instance's links keep its configured scheme, port and path (`http://127.0.0.1:8123`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from bot.forge.names import PULL_NUMBER_BASE, RepoName


def is_merge_request(number: int) -> bool:
    return number > PULL_NUMBER_BASE


def own_number(number: int) -> int:
    """The number people see: a merge request's own iid on forges that number it apart."""
    return number - PULL_NUMBER_BASE if is_merge_request(number) else number


def short_ref(number: int) -> str:
    """`#7` for an issue or a GitHub pull request, `!7` for a GitLab merge request."""
    return f"!{own_number(number)}" if is_merge_request(number) else f"#{number}"


def item_ref(repo: str, number: int) -> str:
    """`owner/repo#7`, `host/group/project#7` or `host/group/project!7`."""
    return f"{repo}{short_ref(number)}"


def _base(url: str) -> str:
    return url.strip().rstrip("/")


@dataclass(frozen=True)
class WebLinks:
    """The web pages of one deployment's forges: GitHub's (`github`, e.g. a GitHub Enterprise
    host) and the GitLab instances it knows (`gitlab`: their URLs, e.g. `https://gitlab.com`).
    A GitLab host Veilleur was not told about is linked over https on its default port."""

    github: str = "https://github.com"
    gitlab: tuple[str, ...] = ()

    @classmethod
    def of(cls, github: str | None = None, *gitlab: str | None) -> WebLinks:
        return cls(_base(github or cls.github), tuple(_base(u) for u in gitlab if u))

    def base(self, repo: str) -> str:
        """The web root of the forge `repo` (forge-qualified) lives on."""
        name = RepoName.parse(repo)
        if name.on_github:
            return _base(self.github)
        for url in self.gitlab:
            parts = urlsplit(url)
            if name.host in ((parts.hostname or "").lower(), parts.netloc.lower()):
                return url
        return f"https://{name.host}"

    def repo(self, repo: str) -> str:
        name = RepoName.parse(repo)
        return f"{self.base(repo)}/{quote(name.path, safe='/')}"

    def item(self, repo: str, kind: str, number: int) -> str:
        """An issue or pull request page; GitLab's `-/issues/7` or `-/merge_requests/7`."""
        if RepoName.parse(repo).on_github:
            return f"{self.repo(repo)}/{'pull' if kind == 'pull' else 'issues'}/{number}"
        what = "merge_requests" if kind == "pull" or is_merge_request(number) else "issues"
        return f"{self.repo(repo)}/-/{what}/{own_number(number)}"
