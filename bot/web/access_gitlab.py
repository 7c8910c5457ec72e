"""Which GitLab projects a person signed in with GitLab may see on the dashboard.

GitLab's rule: a member of a group is a member of its subgroups and their projects (access
is inherited downwards, never upwards); a project can also have members of its own. So a
project is visible to a member of the project or of any group above it. Only projects in
Veilleur's record count (the session cookie stays small); they go in `Viewer.repos` as
host → paths (`gitlab.example.org` → `{"city/app", "city/sub/tool"}`), beside GitHub's
owner → names: a host has a dot, a GitHub owner never has one (bot/forge/names.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.gitlab.user_access import Memberships
from bot.storage.models import Repository


def gitlab_group_visible(group: str, member_groups: Iterable[str]) -> bool:
    """A member of `group` or of one of its ancestors sees it."""
    groups = {g.lower() for g in member_groups}
    path = group.lower()
    while path:
        if path in groups:
            return True
        path = path.rpartition("/")[0]
    return False


def gitlab_may_see(project: str, member: Memberships) -> bool:
    """`project`: its path with namespace (`city/sub/app`), without the host."""
    path = project.lower()
    return path in member.projects or gitlab_group_visible(path.rpartition("/")[0], member.groups)


def recorded_paths(engine: Engine, host: str) -> list[str]:
    """Paths of the instance's projects in the record (not removed), lower case."""
    r = Repository.__table__.c  # type: ignore[attr-defined]
    prefix = f"{host.lower()}/"
    name = func.lower(r.full_name)
    query = select(name).where(r.removed_at.is_(None), name.startswith(prefix, autoescape=True))
    with engine.connect() as conn:
        return sorted(str(n).removeprefix(prefix) for (n,) in conn.execute(query))


def visible_paths(engine: Engine, host: str, member: Memberships) -> frozenset[str]:
    return frozenset(p for p in recorded_paths(engine, host) if gitlab_may_see(p, member))
