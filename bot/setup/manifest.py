# SPDX-License-Identifier: EUPL-1.2
"""The App manifest (`app-manifest.json`, with this deployment's URLs) and where to post it.

GitHub's manifest flow: a browser form posts the manifest to `<web>/settings/apps/new` (a
personal account) or `<web>/organizations/<org>/settings/apps/new`; GitHub then redirects to
the manifest's `redirect_url` with a one-hour `code`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from bot.resources import data_file


def build_manifest(public_url: str, redirect_url: str, name: str | None = None) -> dict[str, Any]:
    """The packaged manifest, its example URLs replaced by this deployment's."""
    manifest: dict[str, Any] = json.loads(data_file("app-manifest.json").read_text("utf-8"))
    base = public_url.rstrip("/")
    manifest["url"] = base
    manifest["hook_attributes"] = dict(manifest["hook_attributes"], url=f"{base}/webhooks/github")
    manifest["redirect_url"] = redirect_url
    manifest["callback_urls"] = [f"{base}/auth/callback"]
    if name:
        manifest["name"] = name
    return manifest


def form_action(web_url: str, org: str | None, state: str) -> str:
    """Where the browser posts the manifest: the organisation's settings, or the user's."""
    base = web_url.rstrip("/")
    where = f"/organizations/{quote(org, safe='')}" if org else ""
    return f"{base}{where}/settings/apps/new?{urlencode({'state': state})}"
