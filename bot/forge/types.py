"""Forge-neutral values. A forge client returns plain JSON objects in Veilleur's neutral shape
(the keys below, which are also GitHub's REST keys, so the GitHub client passes its answers on
as they come and every other forge translates); these dataclasses read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
        return f"{self.repo}{'!' if self.is_pull and '.' in self.repo.split('/')[0] else '#'}{self.number}"


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: Person | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Comment:
        return cls(int(data["id"]), str(data.get("body") or ""), Person.of(data.get("user")))
