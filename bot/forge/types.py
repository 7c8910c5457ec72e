"""Forge-neutral values. A forge client returns plain JSON objects in Veilleur's neutral shape
(the keys below, which are also GitHub's REST keys, so the GitHub client passes its answers on
as they come and every other forge translates); these dataclasses read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.forge.names import RepoName


@dataclass(frozen=True)
class Person:
    login: str  # GitHub login, GitLab username
    is_bot: bool = False

    @classmethod
    def of(cls, user: dict[str, Any] | None) -> Person | None:
        if not user or not user.get("login"):
            return None
        login = str(user["login"])
        return cls(login, user.get("type") == "Bot" or login.endswith("[bot]"))


@dataclass(frozen=True)
class Label:
    name: str
    color: str = "ededed"  # six hex digits, no '#'
    description: str = ""


@dataclass(frozen=True)
class ItemRef:
    """An issue or a pull/merge request: `repo` is forge-qualified (bot/forge/names.py) and
    `number` is the number people see (GitHub's number, GitLab's iid)."""

    repo: str
    number: int
    is_pull: bool = False

    def __str__(self) -> str:
        """GitLab writes merge requests `group/project!7`; everything else is `repo#7`."""
        gitlab_mr = self.is_pull and not RepoName.parse(self.repo).on_github
        return f"{self.repo}{'!' if gitlab_mr else '#'}{self.number}"


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: Person | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Comment:
        return cls(int(data["id"]), str(data.get("body") or ""), Person.of(data.get("user")))
