"""Who may see what on the dashboard.

- open (`VEILLEUR_DASHBOARD_OPEN`, `veilleur demo` only): everything, without sign-in;
- a signed-in user: the repositories they could access on GitHub (or the projects on GitLab,
  bot/web/access_gitlab.py) when they signed in, plus every public one when the public
  dashboard is on;
- anyone else, with `VEILLEUR_PUBLIC_DASHBOARD`: public repositories only
  (`Repository.private` False in Veilleur's record);
- anyone else otherwise: nothing (sign-in required).

Repositories are those in Veilleur's record (installed, not removed, installation not
deleted; a GitLab project needs no installation); names are compared in lower case. A
repository absent from the record is never shown to a scoped viewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.settings import Settings
from bot.storage.models import Installation, Repository
from bot.web.session import Viewer

Mode = Literal["open", "user", "public"]


@dataclass(frozen=True)
class KnownRepo:
    full_name: str
    owner: str
    private: bool


@dataclass(frozen=True)
class Access:
    mode: Mode
    viewer: Viewer | None = None
    public_too: bool = False  # a signed-in user also sees public repositories

    def allows(self, repo: KnownRepo) -> bool:
        if self.mode == "open":
            return True
        if not repo.private and (self.mode == "public" or self.public_too):
            return True
        if self.viewer is None:
            return False
        # GitHub: owner → names; GitLab (bot/web/access_gitlab.py): host → paths, so the host
        # is the part before the first "/" and the rest, subgroups included, the path.
        owner, _, name = repo.full_name.lower().partition("/")
        return name in self.viewer.repos.get(owner, frozenset())

    @property
    def label(self) -> str:
        return self.viewer.login if self.viewer else self.mode


def access_for(settings: Settings, viewer: Viewer | None) -> Access | None:
    """What this request may see; None when it must sign in first."""
    if settings.dashboard_open:
        return Access("open", viewer)
    if viewer is not None:
        return Access("user", viewer, public_too=settings.public_dashboard)
    if settings.public_dashboard:
        return Access("public")
    return None


def known_repos(engine: Engine, org: str | None = None) -> list[KnownRepo]:
    """Installed repositories in the record (of one org, case-insensitively, if given):
    GitHub's through a live installation, GitLab's projects as recorded."""
    repos, installs = Repository.__table__, Installation.__table__  # type: ignore[attr-defined]
    r, i = repos.c, installs.c
    q = (  # columns only, no ORM objects: every page asks
        sa_select(r.full_name, r.owner, r.private)
        .select_from(repos.outerjoin(installs, i.id == r.installation_id))
        .where(r.removed_at.is_(None), i.deleted_at.is_(None))
        # A GitHub repository counts through its installation; a project on another forge
        # (bot/gitlab/projects.py; its owner is host-qualified) has none.
        .where(or_(i.id.is_not(None), and_(r.installation_id.is_(None), r.owner.contains("."))))
    )
    if org is not None:
        q = q.where(func.lower(r.owner) == org.lower())
    with engine.connect() as conn:
        out = [KnownRepo(name, owner, bool(private)) for name, owner, private in conn.execute(q)]
    return sorted(out, key=lambda r: r.full_name.lower())


def installed_orgs(engine: Engine) -> list[str]:
    with Session(engine) as s:
        rows = s.exec(select(Installation).where(Installation.deleted_at == None)).all()  # noqa: E711
    return sorted({i.account_login for i in rows if i.account_login}, key=str.lower)


@dataclass(frozen=True)
class OrgView:
    org: str  # as spelled in the record
    repos: tuple[KnownRepo, ...]  # the visible ones
    total: int  # all installed repositories of the org

    @property
    def complete(self) -> bool:
        return len(self.repos) == self.total

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(r.full_name.lower() for r in self.repos)


def visible_orgs(engine: Engine, access: Access) -> list[OrgView]:
    by_org: dict[str, list[KnownRepo]] = {}
    for repo in known_repos(engine):
        by_org.setdefault(repo.owner.lower(), []).append(repo)
    names = {o.lower(): o for o in installed_orgs(engine)}
    out = []
    for key, repos in sorted(by_org.items()):
        seen = tuple(r for r in repos if access.allows(r))
        if seen or (access.mode == "open" and key in names):
            out.append(OrgView(names.get(key, repos[0].owner), seen, len(repos)))
    if access.mode == "open":  # installed orgs without repositories in the record yet
        present = {v.org.lower() for v in out}
        out += [OrgView(n, (), 0) for k, n in names.items() if k not in present]
    return sorted(out, key=lambda v: v.org.lower())


def listed_orgs(engine: Engine, access: Access) -> list[OrgView]:
    """The organisations this viewer may see, each as its own pages show it (`org_view`): an
    OSPO's with the repositories of its members, so a count is the one its digest covers."""
    return [with_members(engine, access, view) for view in visible_orgs(engine, access)]


def org_view(engine: Engine, access: Access, org: str) -> OrgView | None:
    """The org as this viewer may see it; None when nothing of it is visible (or it is unknown:
    the two are not told apart, so names of private orgs do not leak)."""
    for view in visible_orgs(engine, access):
        if view.org.lower() == org.lower():
            return with_members(engine, access, view)
    return None


def with_members(engine: Engine, access: Access, view: OrgView) -> OrgView:
    """An OSPO's view also holds the repositories of the owners it oversees (`ospo.members`
    of its own configuration, bot/digest/ospo.py), those this viewer may see."""
    from bot.digest.configs import owner_config
    from bot.digest.ospo import member_owners

    members = member_owners(engine, view.org, owner_config(engine, view.org))
    theirs = [r for owner in members for r in known_repos(engine, owner)]
    if not theirs:
        return view
    seen = tuple(r for r in theirs if access.allows(r))
    return OrgView(view.org, view.repos + seen, view.total + len(theirs))
