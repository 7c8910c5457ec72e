"""Who is this person to the project? Classes decided from facts, never from `author_association`.

`author_association` is wrong for private org members (they show as CONTRIBUTOR), so it is
only a hint. The facts are org and team membership, collaborator permission (triage or
higher makes a maintainer), the configured partners and the account type. Answers are
cached per (repository, login) with a TTL; membership events invalidate them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.clock import Clock
from bot.forge.names import owner_of
from bot.storage.models import AuthorClassCache

log = logging.getLogger(__name__)


def is_bot_account(user: dict[str, Any] | None) -> bool:
    """An App or a machine account: GitHub's `type`, or the `[bot]` suffix of its login."""
    if not user:
        return False
    login = str(user.get("login") or "")
    return user.get("type") == "Bot" or login.endswith("[bot]")


MAINTAINER = "maintainer"
MEMBER = "member"
INTERNAL_PARTNER = "internal_partner"
PARTNER = "partner"
EXTERNAL = "external"
BOT = "bot"

TEAM_CLASSES = frozenset({MAINTAINER, MEMBER, INTERNAL_PARTNER})  # their answers are responses
OUTSIDE_CLASSES = frozenset({PARTNER, EXTERNAL})  # their contributions are watched
TRIAGE_OR_HIGHER = frozenset({"admin", "maintain", "write", "triage"})
DEVELOPER = "developer"  # GitLab's Developer on the project: a member, not a maintainer

_PROFILE_AND_ORGS = """
query($login: String!) {
  user(login: $login) { company email organizations(first: 100) { nodes { login } } }
}
"""


@dataclass(frozen=True)
class Classification:
    author_class: str
    partner: str | None = None

    @property
    def is_outside(self) -> bool:
        return self.author_class in OUTSIDE_CLASSES

    @property
    def is_team(self) -> bool:
        return self.author_class in TEAM_CLASSES


@dataclass
class Facts:
    login: str
    is_bot: bool = False
    permission: str | None = None
    org_member: bool = False
    maintainer_teams: set[str] = field(default_factory=set)
    partner_orgs: set[str] = field(default_factory=set)  # partner GitHub orgs the person is in
    email: str | None = None


def match_partner(
    login: str, email: str | None, in_orgs: set[str], partners: list[Any]
) -> Any | None:
    domain = email.rsplit("@", 1)[-1].lower() if email and "@" in email else None
    for p in partners:
        if login.lower() in {x.lower() for x in p.logins}:
            return p
        if in_orgs & {o.lower() for o in p.github_orgs}:
            return p
        if domain and domain in {d.lower().lstrip("@") for d in p.email_domains}:
            return p
    return None


def classify(
    facts: Facts,
    maintainer_users: list[str],
    partners: list[Any],
    bot_logins: Sequence[str] = (),
) -> Classification:
    """Pure step: facts and config -> class. `bot_logins` (`bots.logins`): machine users
    running as ordinary accounts, bots everywhere."""
    if facts.is_bot or facts.login.lower() in {b.lower() for b in bot_logins}:
        return Classification(BOT)
    if facts.login.lower() in {u.lower() for u in maintainer_users} or facts.maintainer_teams:
        return Classification(MAINTAINER)
    if facts.permission in TRIAGE_OR_HIGHER:
        return Classification(MAINTAINER)
    if facts.org_member or facts.permission == DEVELOPER:
        return Classification(MEMBER)
    partner = match_partner(facts.login, facts.email, facts.partner_orgs, partners)
    if partner is not None:
        return Classification(INTERNAL_PARTNER if partner.internal else PARTNER, partner.name)
    return Classification(EXTERNAL)


class Classifier:
    """Gathers facts through the API (cached) and classifies."""

    def __init__(self, engine: Engine, clock: Clock, ttl_seconds: int, config_source: Any) -> None:
        self.engine = engine
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self.config_source = config_source  # async (api, repo) -> config with maintainers/partners
        self._profiles: dict[str, tuple[datetime, dict[str, Any]]] = {}

    def _cached(self, scope: str, login: str, now: datetime) -> Classification | None:
        with Session(self.engine) as s:
            row = s.get(AuthorClassCache, (scope, login.lower()))
            if row is None or row.expires_at <= now:
                return None
            return Classification(row.author_class, row.partner)

    def _store(self, scope: str, login: str, result: Classification, now: datetime) -> None:
        with Session(self.engine) as s:
            row = s.get(AuthorClassCache, (scope, login.lower())) or AuthorClassCache(
                org=scope, login=login.lower(), author_class=result.author_class, expires_at=now
            )
            row.author_class = result.author_class
            row.partner = result.partner
            row.expires_at = now + self.ttl
            s.add(row)
            s.commit()

    def invalidate(self, login: str | None = None) -> int:
        with Session(self.engine) as s:
            stmt = delete(AuthorClassCache)
            if login:
                stmt = stmt.where(col(AuthorClassCache.login) == login.lower())
            n = s.exec(stmt).rowcount
            s.commit()
            return int(n or 0)

    async def classify(
        self, api: Any, repo: str, user: dict[str, Any], event: Any = None
    ) -> Classification:
        login = str(user.get("login") or "")
        if not login or is_bot_account(user):
            return Classification(BOT if login else EXTERNAL)
        now = self.clock.now()
        config = await self.config_source(api, repo)
        bots = list(config.bots.logins)
        if login.lower() in {b.lower() for b in bots}:  # before the cache: config may be newer
            return Classification(BOT)
        cached = self._cached(repo, login, now)
        if cached is not None:
            return cached
        facts = await self.gather(api, repo, login, config)
        result = classify(facts, list(config.maintainers.users), list(config.partners), bots)
        self._store(repo, login, result, now)
        return result

    async def gather(self, api: Any, repo: str, login: str, config: Any) -> Facts:
        """Only the look-ups that can change the answer, the independent ones at once: teams
        only for org members (a team member is an org member), partner orgs and the public
        profile only for people outside the org."""
        org = owner_of(repo)  # a GitHub org or a GitLab group, forge-qualified
        facts = Facts(login=login)
        if login.lower() in {u.lower() for u in config.maintainers.users}:
            return facts  # a maintainer by configuration: nothing to ask
        facts.permission, facts.org_member = await asyncio.gather(
            api.collaborator_permission(repo, login), api.is_org_member(org, login)
        )
        if facts.org_member and facts.permission not in TRIAGE_OR_HIGHER:
            slugs = [team.split("/")[-1].lstrip("@") for team in config.maintainers.teams]
            states = await asyncio.gather(*(api.team_membership(org, s, login) for s in slugs))
            facts.maintainer_teams = {
                s for s, st in zip(slugs, states, strict=True) if st == "active"
            }
        if facts.org_member or facts.permission in TRIAGE_OR_HIGHER:
            return facts
        # The public profile (partner e-mail domains, the company the digest credits) and, with
        # partner orgs configured, the person's visible orgs: one GraphQL query for both.
        partner_orgs = {porg.lower() for p in config.partners for porg in p.github_orgs}
        visible: set[str] | None = None
        if partner_orgs:
            visible = await self._profile_and_orgs(api, login)
        if visible is None:  # no partner orgs, or the query failed: REST, one call each
            profile, *memberships = await asyncio.gather(
                self.profile(api, login), *(api.is_org_member(o, login) for o in partner_orgs)
            )
            visible = {o for o, member in zip(partner_orgs, memberships, strict=True) if member}
        facts.partner_orgs = visible & partner_orgs
        facts.email = (self.known_profile(login) or {}).get("email")
        return facts

    async def _profile_and_orgs(self, api: Any, login: str) -> set[str] | None:
        """Caches the public profile and returns the orgs GitHub shows the person in (public
        memberships, as `GET /orgs/{org}/members/{login}` shows them); None on failure."""
        try:
            data = await api.graphql(_PROFILE_AND_ORGS, {"login": login})
        except Exception as exc:  # a GraphQL error (unknown user...): the REST path decides
            log.info("profile query for %s failed (%s); asking REST", login, exc)
            return None
        user = (data or {}).get("user") or {}
        profile = {"company": user.get("company"), "email": user.get("email") or None}
        self._profiles[login.lower()] = (self.clock.now() + self.ttl, profile)
        nodes = (user.get("organizations") or {}).get("nodes") or []
        return {str(n["login"]).lower() for n in nodes if isinstance(n, dict) and n.get("login")}

    async def profile(self, api: Any, login: str) -> dict[str, Any]:
        """Public profile (company, e-mail), cached like classes."""
        now = self.clock.now()
        hit = self._profiles.get(login.lower())
        if hit is not None and hit[0] > now:
            return hit[1]
        data = await api.get_user(login) or {}
        profile = {"company": data.get("company"), "email": data.get("email")}
        self._profiles[login.lower()] = (now + self.ttl, profile)
        return profile

    def known_profile(self, login: str) -> dict[str, Any] | None:
        hit = self._profiles.get(login.lower())
        return hit[1] if hit else None
