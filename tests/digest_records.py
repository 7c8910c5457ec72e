"""Hand-made records for the digest tests: items and timeline entries written straight to the
database, with Paris-time helpers."""

from __future__ import annotations

from datetime import datetime
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.storage.models import Item, Repository, TimelineEntry

PARIS = ZoneInfo("Europe/Paris")


def paris(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=PARIS)


class Record:
    """Writes items and entries; classes are given per actor (as the records handler does)."""

    def __init__(self, engine: Engine, org: str = "paris") -> None:
        self.engine = engine
        self.org = org
        self._keys = count(1)
        self._repo_ids = count(1)

    def repo(self, name: str) -> str:
        full = f"{self.org}/{name}"
        with Session(self.engine) as s:
            s.add(Repository(id=next(self._repo_ids), full_name=full, owner=self.org))
            s.commit()
        return full

    def item(
        self,
        repo: str,
        number: int,
        author: str,
        cls: str | None,
        created: datetime,
        *,
        kind: str = "issue",
        company: str | None = None,
        domain: str | None = None,
        labels: tuple[str, ...] = (),
        title: str | None = None,
    ) -> None:
        with Session(self.engine) as s:
            s.add(
                Item(
                    repo_full_name=repo,
                    owner=repo.split("/")[0],
                    number=number,
                    kind=kind,
                    title=title or f"{kind} {number}",
                    author_login=author,
                    author_type="Bot" if cls == "bot" else "User",
                    author_class=cls,
                    author_company=company,
                    author_email_domain=domain,
                    created_at=created,
                    labels=list(labels),
                )
            )
            s.add(self._entry(repo, number, created, "opened", author, cls, {}))
            s.commit()

    def _entry(
        self,
        repo: str,
        number: int,
        at: datetime,
        kind: str,
        actor: str | None,
        cls: str | None,
        detail: dict[str, Any],
    ) -> TimelineEntry:
        return TimelineEntry(
            repo_full_name=repo,
            number=number,
            occurred_at=at,
            kind=kind,
            actor_login=actor,
            actor_type="Bot" if cls == "bot" else "User",
            actor_class=cls,
            source_key=f"{kind}:{next(self._keys)}",
            detail=detail,
        )

    def event(
        self,
        repo: str,
        number: int,
        at: datetime,
        kind: str,
        actor: str | None,
        cls: str | None,
        **detail: Any,
    ) -> None:
        """An entry; a close, merge or reopen also updates the item as the records handler
        does (state, closed_at, merged_at as last seen)."""
        with Session(self.engine) as s:
            s.add(self._entry(repo, number, at, kind, actor, cls, detail))
            if kind in ("closed", "merged", "reopened"):
                item = s.exec(
                    select(Item).where(Item.repo_full_name == repo, Item.number == number)
                ).one()
                item.state = "open" if kind == "reopened" else "closed"
                item.closed_at = None if kind == "reopened" else at
                if kind == "merged":
                    item.merged_at = at
                s.add(item)
            s.commit()

    def comment(
        self, repo: str, number: int, at: datetime, actor: str, cls: str, body: str = "Thanks!"
    ) -> None:
        self.event(repo, number, at, "commented", actor, cls, body=body)

    def ask(self, repo: str, number: int, at: datetime, actor: str, body: str) -> None:
        """A maintainer's question: the turn goes to the author."""
        self.event(repo, number, at, "commented", actor, "maintainer", body=body, asks_author=True)

    def store_config(self, repo: str, config: Any) -> None:
        from bot.storage.models import ConfigRecord

        text = config.model_dump_json(by_alias=True)
        with Session(self.engine) as s:
            s.add(
                ConfigRecord(repo_full_name=repo, fetched_at=datetime.now(PARIS), valid_json=text)
            )
            s.commit()
