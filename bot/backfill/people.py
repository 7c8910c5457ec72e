"""Author and actor classes for imported history, at a bounded API cost.

The webhook path asks `Classifier` per person (2 to 5 REST calls, cached per repository):
for thousands of historical people that would dwarf the import itself. Here the same facts
are read in bulk through GraphQL: the organization's members, each repository's collaborators
with their effective permission, the maintainer teams' members, and, only for people the team
facts leave undecided when partners are configured, their public organizations, 100 people a
request. The classes come from the same pure `bot.record.people.classify` and go into the same
`author_classes` cache, so later webhooks reuse them. A fresh cache entry wins (no call).

Bots (GraphQL `__typename`) are `bot` without any call. If the bulk facts cannot be read (the
collaborators list needs push access), the repository falls back to `Classifier`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.backfill.graphql import RATE
from bot.clock import Clock
from bot.record.people import BOT, TRIAGE_OR_HIGHER, Facts, classify, is_bot_account
from bot.services import Services
from bot.storage.models import AuthorClassCache

log = logging.getLogger(__name__)
Json = dict[str, Any]
Query = Callable[[str, Json, bool], Awaitable[tuple[Json, list[Json]]]]
PAGE = "pageInfo { hasNextPage endCursor }"
LOGINS = f"{PAGE} nodes {{ login }}"
MEMBERS = f"membersWithRole(first: 100) {{ {LOGINS} }}"
REPOS_PER_REQUEST = 50
COLLABORATORS = f"{PAGE} edges {{ permission node {{ login }} }}"
MORE_MEMBERS = (
    "query($org: String!, $after: String) { organization(login: $org) { "
    f"membersWithRole(first: 100, after: $after) {{ {LOGINS} }} }} {RATE} }}"
)
MORE_COLLABORATORS = (
    "query($owner: String!, $name: String!, $after: String) { "
    "repository(owner: $owner, name: $name) { "
    f"collaborators(first: 100, after: $after) {{ {COLLABORATORS} }} }} {RATE} }}"
)


def _lit(value: str) -> str:
    return json.dumps(value)  # a GraphQL string literal


@dataclass
class Roster:
    members: set[str] = field(default_factory=set)  # lower logins
    permissions: dict[str, dict[str, str]] = field(default_factory=dict)  # repo -> login -> role
    branches: dict[str, str] = field(default_factory=dict)
    teams: dict[str, set[str]] = field(default_factory=dict)  # slug -> lower logins
    public_orgs: dict[str, set[str]] = field(default_factory=dict)  # login -> lower org logins
    unreadable: set[str] = field(default_factory=set)  # repos whose collaborators were refused


class People:
    def __init__(
        self,
        query: Query,
        engine: Engine,
        clock: Clock,
        *,
        api: Any = None,
        services: Services | None = None,
        ttl: timedelta = timedelta(days=1),
    ) -> None:
        self.query = query
        self.engine = engine
        self.clock = clock
        self.api = api
        self.services: Services = services or Services()
        self.ttl = ttl
        self.roster = Roster()
        self.org = ""

    # -- bulk facts ------------------------------------------------------------------------
    async def load(self, org: str, repos: list[str]) -> None:
        """Members, and per repository its collaborators and default branch: one request per
        50 repositories (plus one per further page of 100 members or collaborators)."""
        self.org = org
        for start in range(0, max(len(repos), 1), REPOS_PER_REQUEST):
            chunk = repos[start : start + REPOS_PER_REQUEST]
            parts = [f"organization(login: {_lit(org)}) {{ {MEMBERS} }}"] if start == 0 else []
            for i, repo in enumerate(chunk):
                owner, name = repo.split("/", 1)
                parts.append(
                    f"r{i}: repository(owner: {_lit(owner)}, name: {_lit(name)}) {{ "
                    f"defaultBranchRef {{ name }} collaborators(first: 100) {{ {COLLABORATORS} }}}}"
                )
            text = "query VeilleurPeople { " + " ".join(parts) + f" {RATE} }}"
            data, errors = await self.query(text, {}, True)
            if start == 0:
                await self._members(org, (data.get("organization") or {}).get("membersWithRole"))
            refused = {str((e.get("path") or [""])[0]) for e in errors}
            for i, repo in enumerate(chunk):
                node = data.get(f"r{i}") or {}
                branch = (node.get("defaultBranchRef") or {}).get("name")
                if branch:
                    self.roster.branches[repo] = branch
                if f"r{i}" in refused or not node.get("collaborators"):
                    self.roster.unreadable.add(repo)
                else:
                    await self._collaborators(repo, node["collaborators"])
        branches = self.services.get("branches")
        if isinstance(branches, dict):
            for repo, branch in self.roster.branches.items():
                branches.setdefault(repo, branch)

    async def _members(self, org: str, conn: Json | None) -> None:
        while conn:
            self.roster.members |= {n["login"].lower() for n in conn.get("nodes") or []}
            page = conn.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return
            variables = {"org": org, "after": page.get("endCursor")}
            data, _ = await self.query(MORE_MEMBERS, variables, False)
            conn = (data.get("organization") or {}).get("membersWithRole")

    async def _collaborators(self, repo: str, conn: Json | None) -> None:
        perms = self.roster.permissions.setdefault(repo, {})
        owner, name = repo.split("/", 1)
        while conn:
            for edge in conn.get("edges") or []:
                perms[edge["node"]["login"].lower()] = str(edge.get("permission") or "").lower()
            page = conn.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return
            variables = {"owner": owner, "name": name, "after": page.get("endCursor")}
            data, _ = await self.query(MORE_COLLABORATORS, variables, False)
            conn = (data.get("repository") or {}).get("collaborators")

    async def _teams(self, slugs: set[str]) -> None:
        wanted = sorted(s for s in slugs if s not in self.roster.teams)
        if not wanted:
            return
        parts = [
            f"t{i}: team(slug: {_lit(slug)}) {{ members(first: 100) {{ {LOGINS} }} }}"
            for i, slug in enumerate(wanted)
        ]
        inner = " ".join(parts)
        q = f"query VeilleurTeams {{ organization(login: {_lit(self.org)}) {{ {inner} }} {RATE} }}"
        data, _ = await self.query(q, {}, True)
        org = data.get("organization") or {}
        for i, slug in enumerate(wanted):
            conn = (org.get(f"t{i}") or {}).get("members") or {}
            self.roster.teams[slug] = {n["login"].lower() for n in conn.get("nodes") or []}
            if (conn.get("pageInfo") or {}).get("hasNextPage"):
                log.warning(
                    "team %s has more than 100 members; classifying its others per person", slug
                )

    async def _public_orgs(self, logins: list[str]) -> None:
        wanted = [x for x in dict.fromkeys(logins) if x not in self.roster.public_orgs]
        for start in range(0, len(wanted), 100):
            chunk = wanted[start : start + 100]
            parts = [
                f"u{i}: user(login: {_lit(x)}) {{ organizations(first: 100) {{ {LOGINS} }} }}"
                for i, x in enumerate(chunk)
            ]
            data, _ = await self.query(
                "query VeilleurOrgs { " + " ".join(parts) + f" {RATE} }}", {}, True
            )
            for i, login in enumerate(chunk):
                conn = (data.get(f"u{i}") or {}).get("organizations") or {}
                self.roster.public_orgs[login] = {
                    n["login"].lower() for n in conn.get("nodes") or []
                }

    # -- classes ---------------------------------------------------------------------------
    async def classes_for(self, repo: str, people: dict[str, Json]) -> dict[str, str | None]:
        """login -> class for everyone on a page (authors and actors)."""
        now = self.clock.now()
        classes: dict[str, str | None] = {}
        todo: dict[str, Json] = {}
        for login, user in people.items():
            if not login:
                continue
            if is_bot_account(user):
                classes[login] = BOT
            else:
                todo[login] = user
        cached = self._cached(repo, list(todo), now)
        for login in list(todo):
            if login.lower() in cached:
                classes[login] = cached[login.lower()]
                del todo[login]
        if not todo:
            return classes
        if repo in self.roster.unreadable:
            classes |= await self._one_by_one(repo, todo)
            return classes
        config = await self._config(repo)
        maintainers = list(getattr(getattr(config, "maintainers", None), "users", []) or [])
        teams = {
            t.split("/")[-1].lstrip("@")
            for t in getattr(getattr(config, "maintainers", None), "teams", []) or []
        }
        partners = list(getattr(config, "partners", []) or [])
        await self._teams(teams)
        facts = {login: self._facts(repo, login, user, teams) for login, user in todo.items()}
        if partners and any(p.github_orgs for p in partners):
            undecided = [  # as `Classifier.gather`: team facts first, partners for the others
                f.login
                for f in facts.values()
                if not (f.org_member or f.permission in TRIAGE_OR_HIGHER or f.maintainer_teams)
            ]
            await self._public_orgs(undecided)
            for f in facts.values():
                f.partner_orgs = self.roster.public_orgs.get(f.login, set())
        results = {login: classify(f, maintainers, partners) for login, f in facts.items()}
        self._store(repo, results, now)
        classes |= {login: r.author_class for login, r in results.items()}
        return classes

    def _facts(self, repo: str, login: str, user: Json, teams: set[str]) -> Facts:
        low = login.lower()
        return Facts(
            login=login,
            permission=self.roster.permissions.get(repo, {}).get(low),
            org_member=low in self.roster.members,
            maintainer_teams={slug for slug in teams if low in self.roster.teams.get(slug, set())},
            email=user.get("email") or None,
        )

    async def _config(self, repo: str) -> Any:
        config_for = self.services.get("config_for")
        if config_for is None or self.api is None:
            return None
        try:
            return await config_for(self.api, repo)
        except Exception as exc:  # no config: classes from membership and permission only
            log.warning("config of %s unavailable for the import (%s)", repo, exc)
            return None

    async def _one_by_one(self, repo: str, todo: dict[str, Json]) -> dict[str, str | None]:
        classifier = self.services.get("classifier")
        if classifier is None or self.api is None:
            return dict.fromkeys(todo)
        return {
            login: (await classifier.classify(self.api, repo, user)).author_class
            for login, user in todo.items()
        }

    def _cached(self, repo: str, logins: list[str], now: datetime) -> dict[str, str]:
        if not logins:
            return {}
        lows = [x.lower() for x in logins]
        with Session(self.engine) as s:
            rows = s.exec(
                select(AuthorClassCache).where(
                    AuthorClassCache.org == repo,
                    AuthorClassCache.login.in_(lows),  # type: ignore[attr-defined]
                )
            ).all()
        return {r.login: r.author_class for r in rows if r.expires_at > now}

    def _store(self, repo: str, results: dict[str, Any], now: datetime) -> None:
        with Session(self.engine) as s:
            for login, result in results.items():
                row = s.get(AuthorClassCache, (repo, login.lower())) or AuthorClassCache(
                    org=repo, login=login.lower(), author_class=result.author_class, expires_at=now
                )
                row.author_class, row.partner = result.author_class, result.partner
                row.expires_at = now + self.ttl
                s.add(row)
            s.commit()
