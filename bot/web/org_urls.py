"""Dashboard URLs of organisations and groups, on either forge.

A GitHub organisation is one path segment (`/orgs/paris`); a GitLab group is named with its
host and may be nested (`127.0.0.1/paris`, `code.europa.eu/digit/eu-login`), so its slash is
written `~`, which neither forge allows in a name: `/orgs/127.0.0.1~paris`. A slug that is
not a well-formed name is refused (404) before anything is looked up.
"""

from __future__ import annotations

import re
from urllib.parse import quote

SEP = "~"
_GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,99})$")
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+(?::\d{1,5})?$")
_GROUP = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,254})$")
MAX_DEPTH = 21  # GitLab nests groups 20 deep


def valid_org(org: str) -> bool:
    """A GitHub owner, or a GitLab host followed by its group path."""
    parts = org.split("/")
    if len(parts) == 1:
        return bool(_GITHUB_OWNER.match(org))
    if len(parts) > MAX_DEPTH + 1 or not _HOST.match(parts[0]):
        return False
    return all(_GROUP.match(p) and not p.endswith(".") for p in parts[1:])


def org_slug(org: str) -> str:
    """`paris` → `paris`; `127.0.0.1/paris` → `127.0.0.1~paris`."""
    return org.replace("/", SEP)


def org_from_slug(slug: str) -> str | None:
    """The organisation a URL segment names; None when it is malformed."""
    org = slug.replace(SEP, "/")
    return org if valid_org(org) else None


def org_path(org: str, *rest: str, root: str = "/orgs") -> str:
    """`/orgs/<slug>/<rest…>`, every part escaped (a repository path keeps its slashes)."""
    return "/".join([root, quote(org_slug(org), safe="~"), *(quote(p, safe="/") for p in rest)])


def repo_in_org(org: str, full_name: str) -> str:
    """The repository's name below its organisation: `app` for `paris/app` and for
    `127.0.0.1/paris/app` under `127.0.0.1/paris`; `sub/app` for a project of a subgroup; the
    whole name for a repository of an owner the organisation's OSPO oversees (`ospo.members`:
    `127.0.0.1/gent/app` under `paris`)."""
    prefix = org.lower() + "/"
    if full_name.lower().startswith(prefix):
        return full_name[len(prefix) :]
    return full_name


def repo_path(org: str, full_name: str) -> str:
    """A repository's dashboard page below `org`."""
    return org_path(org, "repos", repo_in_org(org, full_name))


def item_path(org: str, full_name: str, number: int) -> str:
    """An item's dashboard page below `org` (`number` as stored: a merge request's too)."""
    return org_path(org, "items", repo_in_org(org, full_name), str(number))
