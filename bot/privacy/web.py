"""The public dashboard shows no per-person data unless the org opts in
(`dashboard.public_people: true` in its `.github/veilleur.yml`)."""

from __future__ import annotations

from typing import Any

from bot.privacy.outputs import without_people

__all__ = ["people_hidden", "without_people"]


def people_hidden(request: Any, org: str) -> bool:
    """True for an anonymous visitor of the public dashboard of an org that did not opt in."""
    from bot.digest.configs import OrgConfigs, stored_configs
    from bot.web.access import access_for
    from bot.web.session import read_viewer

    state = request.app.state
    access = access_for(state.settings, read_viewer(request, state.settings))
    if access is None or access.mode != "public":
        return False

    def opted_in() -> bool:
        configs = OrgConfigs(org, None, stored_configs(state.engine, org))
        return configs.default.dashboard.public_people

    store = getattr(state, "snapshots", None)  # bot.web.snapshots: kept until a change
    return not (store.cached(("public_people", org.lower()), opted_in) if store else opted_in())
