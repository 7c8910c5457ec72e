"""One OSPO, several owners: an organisation's digest and dashboard also cover the owners its
configuration names in `ospo.members` (GitHub organisations, or GitLab groups named with
their host), so a city's GitHub organisation and a partner's GitLab group are one view.

The list is read from the OSPO organisation's own configuration only (in a repository's own
file it is an error, `bot.config.loader.org_only_errors`); one level deep: a member's members
are not followed, so no chain of configurations can pull in an owner the OSPO did not name.

Membership needs the member's consent: a listed owner is included only when its own
configuration names the OSPO in `ospo.shared_with` (its own file only too), so no organisation
can pull another's repositories and contributors into its digest and pages on its own say.
`member_owners` applies that rule, and every consumer (digest, dashboard pages and counts,
people checks, published digests) goes through it; `refused_members` names the listed owners
left out for want of consent (`veilleur doctor`, the OSPO's dashboard page); the digest
counts them without naming them, since it may be published where anybody reads it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.config.schema import VeilleurConfig
from bot.digest.configs import ConfigSource, OrgConfigs, owner_shared_with, stored_configs
from bot.storage.models import Repository

Owners = str | tuple[str, ...]  # an organisation, or an OSPO's owners (`ospo_configs`)


def owned(column: Any, owners: Owners) -> Any:
    """The SQL condition: rows of one owner, or of any of an OSPO's owners."""
    if isinstance(owners, str):
        return column == owners
    return column == owners[0] if len(owners) == 1 else column.in_(owners)


def listed_members(engine: Engine, org: str, config: VeilleurConfig) -> tuple[str, ...]:
    """The owners `config.ospo.members` names, spelled as in the record (names are compared
    in lower case), without `org` itself or duplicates, in the configuration's order. An
    owner with no repository in the record yet is kept as written. Consent is not checked."""
    wanted: dict[str, str] = {}
    for member in config.ospo.members:
        key = member.lower()
        if key != org.lower() and key not in wanted:
            wanted[key] = member
    if not wanted:
        return ()
    c = Repository.__table__.c  # type: ignore[attr-defined]
    q = select(c.owner).distinct().where(func.lower(c.owner).in_(sorted(wanted)))
    with engine.connect() as conn:
        recorded = {str(o).lower(): str(o) for (o,) in conn.execute(q)}
    return tuple(recorded.get(key, written) for key, written in wanted.items())


def consents(engine: Engine, member: str, org: str) -> bool:
    """Whether `member`'s own configuration names `org` in `ospo.shared_with` (as most
    recently read, `owner_shared_with`)."""
    return org.lower() in {s.lower() for s in owner_shared_with(engine, member)}


def partition_members(
    engine: Engine, org: str, config: VeilleurConfig
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The owners `listed_members` names, split in two: those whose own configuration
    consents (`ospo.shared_with` names `org`), then those left out for want of it."""
    kept: list[str] = []
    refused: list[str] = []
    for member in listed_members(engine, org, config):
        (kept if consents(engine, member, org) else refused).append(member)
    return tuple(kept), tuple(refused)


def member_owners(engine: Engine, org: str, config: VeilleurConfig) -> tuple[str, ...]:
    """The members of `org`'s OSPO view: the listed owners that consent."""
    return partition_members(engine, org, config)[0]


def refused_members(engine: Engine, org: str, config: VeilleurConfig) -> tuple[str, ...]:
    """The owners `config.ospo.members` names that are left out: their own configuration
    does not name `org` in `ospo.shared_with`."""
    return partition_members(engine, org, config)[1]


def refusal_note(org: str, member: str) -> str:
    """What the OSPO is told about a listed owner left out (doctor, dashboard)."""
    return (
        f"{member} is listed in ospo.members but has not named {org} in its ospo.shared_with; "
        "its repositories are not included"
    )


def ospo_configs(
    engine: Engine, org: str, configs: ConfigSource = None
) -> tuple[tuple[str, ...], OrgConfigs, tuple[str, ...]]:
    """The owners of `org`'s view (`org` first, then its members), the configurations
    of their repositories (each member's repositories keep their own stored configuration;
    the OSPO's stays the default), and the listed owners left out for want of consent."""
    stored = None if isinstance(configs, VeilleurConfig) else stored_configs(engine, org)
    cfgs = OrgConfigs(org, configs, stored)
    members, refused = partition_members(engine, org, cfgs.default)
    if stored is not None:
        for member in members:
            cfgs.add_stored(stored_configs(engine, member))
    return (org, *members), cfgs, refused
