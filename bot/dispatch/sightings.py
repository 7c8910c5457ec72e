"""Record a repository from any webhook that names it with its installation.

GitHub only sends an installation's webhooks for repositories it covers, so a delivery that
names a repository and an installation is proof enough: a repository Veilleur had missed
(its `installation` delivery lost) is recorded at once, without waiting for the hourly
reconciliation (`bot/record/reconcile.py`). The dispatcher asks before running the handlers, for
every delivery whatever its event: one primary-key read when the repository is known, so no
handler run (and its bookkeeping row) per delivery. Renames and deletions stay with
`handlers/repositories.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.dispatch.context import Event
from bot.storage.models import Installation, Repository


@dataclass(frozen=True)
class Sighting:
    installation_id: int
    repo_id: int
    full_name: str
    private: bool | None
    default_branch: str | None
    account_type: str | None


def parse(event: Event) -> Sighting | None:
    """Pure step: the (installation, repository) pair a delivery names, if both are there."""
    repo = event.payload.get("repository")
    inst = event.payload.get("installation") or {}
    inst_id = inst.get("id") if isinstance(inst, dict) else None
    if not isinstance(inst_id, int) or not isinstance(repo, dict):
        return None
    if event.name in ("installation", "installation_repositories"):
        return None  # handlers/installations.py keeps those
    if event.name == "repository" and event.action == "deleted":
        return None
    full_name, repo_id = repo.get("full_name"), repo.get("id")
    if not isinstance(full_name, str) or "/" not in full_name or not isinstance(repo_id, int):
        return None
    private, branch = repo.get("private"), repo.get("default_branch")
    owner = repo.get("owner") if isinstance(repo.get("owner"), dict) else {}
    return Sighting(
        installation_id=inst_id,
        repo_id=repo_id,
        full_name=full_name,
        private=private if isinstance(private, bool) else None,
        default_branch=branch if isinstance(branch, str) and branch else None,
        account_type=(owner or {}).get("type"),
    )


def apply(session: Session, seen: Sighting, now: datetime) -> bool:
    """Record the repository (and its installation) if Veilleur did not know it; True then."""
    repo = session.get(Repository, seen.repo_id)
    if repo is not None and repo.removed_at is None and repo.installation_id is not None:
        return False
    owner = seen.full_name.split("/")[0]
    if session.get(Installation, seen.installation_id) is None:
        session.add(
            Installation(
                id=seen.installation_id,
                account_login=owner,
                account_type=seen.account_type or "Organization",
                created_at=now,
            )
        )
    if repo is None:
        repo = Repository(id=seen.repo_id, full_name=seen.full_name, owner=owner, added_at=now)
    repo.installation_id = seen.installation_id
    repo.removed_at = None
    if seen.private is not None:
        repo.private = seen.private
    repo.default_branch = repo.default_branch or seen.default_branch
    session.add(repo)
    return True


def record(engine: Engine, event: Event, now: datetime) -> bool:
    """Record the repository a delivery names, if new to Veilleur; True then."""
    seen = parse(event)
    if seen is None:
        return False
    with Session(engine) as session:
        if not apply(session, seen, now):
            return False
        session.commit()
    return True
