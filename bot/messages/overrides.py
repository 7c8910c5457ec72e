"""Organisation template overrides, read from the org's own repository and cached.

Files live at `.github/veilleur/templates/<lang>/<name>.md.j2` in the org's own repository
(`bot.forge.names.org_config_repo`: `<org>/.github`, a GitLab group's `gitlab-profile`, where
they are at `.gitlab/veilleur/templates`: the GitLab client maps the place). A push to
that repository drops the cache (with the org config), otherwise it expires after the TTL
(VEILLEUR_CONFIG_REFETCH_SECONDS). In another process, the push shows when the org config is
read again (`ConfigLoader.org_reads`): the overrides are read again on their next use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.forge.names import OVERRIDES_DIR, org_config_repo, owner_of
from bot.messages.templating import SUFFIX, Renderer

log = logging.getLogger(__name__)


class TemplateOverrides:
    def __init__(
        self,
        base: Renderer,
        clock: Clock,
        ttl_seconds: float,
        org_reads: Callable[[str], int] | None = None,
    ) -> None:
        self.base = base
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self.org_reads = org_reads or (lambda org: 0)
        self._cache: dict[str, tuple[datetime, int, Renderer]] = {}

    def invalidate(self, org: str) -> None:
        self._cache.pop(org.lower(), None)

    async def renderer_for(self, api: Any, repo: str) -> Renderer:
        org = owner_of(repo).lower()  # a GitHub org or a GitLab group, forge-qualified
        hit, reads = self._cache.get(org), self.org_reads(org)
        if hit and self.clock.now() - hit[0] < self.ttl and hit[1] == reads:
            return hit[2]
        files, origin = {}, None
        try:
            files = await self._fetch(api, org_config_repo(org))
            # where the forge kept them (GitLab: `.gitlab/…`, or the earlier `.github/…`)
            origin = api.place_of(org_config_repo(org), OVERRIDES_DIR) if files else None
        except Exception:
            log.warning(
                "template overrides of %s unavailable; using packaged ones", org, exc_info=True
            )
            files = {}
        renderer = self.base.with_overrides(files, origin) if files else self.base
        # Read after the fetch: an org read running beside it (triage gathers both) is as recent.
        self._cache[org] = (self.clock.now(), self.org_reads(org), renderer)
        return renderer

    async def _fetch(self, api: Any, repo: str) -> dict[str, str]:
        out: dict[str, str] = {}
        # read again every VEILLEUR_CONFIG_REFETCH_SECONDS: kept, asked with If-None-Match
        for lang_dir in await api.list_dir(repo, OVERRIDES_DIR, keep=True):
            if lang_dir.get("type") != "dir":
                continue
            for entry in await api.list_dir(repo, lang_dir["path"], keep=True):
                name = entry.get("name", "")
                if entry.get("type") == "file" and name.endswith(SUFFIX):
                    text = await api.get_file(repo, entry["path"], keep=True)
                    if text is not None:
                        out[f"{lang_dir['name']}/{name}"] = text
        return out
