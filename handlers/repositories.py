"""Keep each repository's row current from `repository` events.

Visibility matters most: the anonymous dashboard (`VEILLEUR_PUBLIC_DASHBOARD`) shows public
repositories only, and reads `Repository.private` from this record. A rename or a transfer
re-keys the record of the repository's items, so its history stays with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.dispatch.context import Context, Event
from bot.forge.names import owner_of
from bot.record.rekey import rekey
from bot.storage.models import Repository

NAME = "repositories"
EVENTS = {("repository", None)}
SEES_OWN_EVENTS = True


@dataclass(frozen=True)
class RepoChange:
    """What a `repository` event says about one repository, as it is now."""

    repo_id: int
    full_name: str
    private: bool | None
    default_branch: str | None
    deleted: bool


def parse(event: Event) -> RepoChange | None:
    """Pure step: the repository's state after this event."""
    repo = event.payload.get("repository")
    if not isinstance(repo, dict) or not isinstance(repo.get("id"), int):
        return None
    full_name = repo.get("full_name")
    if not isinstance(full_name, str) or "/" not in full_name:
        return None
    private = repo.get("private")
    branch = repo.get("default_branch")
    return RepoChange(
        repo_id=repo["id"],
        full_name=full_name,
        private=private if isinstance(private, bool) else None,
        default_branch=branch if isinstance(branch, str) and branch else None,
        deleted=event.action == "deleted",
    )


def apply(session: Session, change: RepoChange, now: datetime) -> None:
    """Update the row of a repository Veilleur knows (installation events add them)."""
    repo = session.get(Repository, change.repo_id)
    if repo is None:
        return
    if change.private is not None:
        repo.private = change.private
    if change.default_branch:
        repo.default_branch = change.default_branch
    if change.deleted:
        repo.removed_at = now
    if repo.full_name != change.full_name:  # renamed, or transferred to another owner
        rekey(session, repo.full_name, change.full_name)
        repo.full_name = change.full_name
        repo.owner = owner_of(change.full_name)
    session.add(repo)


async def handle(event: Event, ctx: Context) -> None:
    change = parse(event)
    if change is None:
        return
    with Session(ctx.engine) as session:
        apply(session, change, ctx.now())
        session.commit()
