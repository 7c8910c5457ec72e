"""The public dashboard shows no per-person data unless the org opts in
(`dashboard.public_people: true` in its `.github/veilleur.yml`), and, for an OSPO's view,
every owner it oversees (`ospo.members`) opts in too: a member's contributors are not shown
by another organisation's choice."""

from __future__ import annotations

from typing import Any

from bot.privacy.outputs import without_people

__all__ = ["people_hidden", "without_people"]


def people_hidden(request: Any, org: str) -> bool:
    """True for an anonymous visitor of the public dashboard of an org that did not opt in."""
    from bot.web.access import access_for
    from bot.web.session import read_viewer

    state = request.app.state
    access = access_for(state.settings, read_viewer(request, state.settings))
    if access is None or access.mode != "public":
        return False
    from bot.digest.configs import owner_config
    from bot.digest.ospo import member_owners

    config = owner_config(state.engine, org)
    if not config.dashboard.public_people:
        return True
    members = member_owners(state.engine, org, config)
    return not all(owner_config(state.engine, m).dashboard.public_people for m in members)
