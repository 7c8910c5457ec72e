"""What a person signed in with GitLab belongs to, asked with their OAuth token (scope
`read_api`): their username, the groups where they have at least Reporter access (GitLab's
read access: a Guest cannot read a private project's code or merge requests) and the projects
where they have it, directly, through a group or through a group invited to the project
(`membership=true`). The dashboard's sign-in, bot/web/oauth_gitlab.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.gitlab.settings import GitLabSettings

REPORTER = 20
MAX_PAGES = 50  # 5,000 groups or projects


@dataclass(frozen=True)
class Memberships:
    username: str
    groups: frozenset[str]  # full paths, lower case
    projects: frozenset[str]  # paths with namespace, lower case


async def memberships(settings: GitLabSettings, token: str) -> Memberships:
    """Raises httpx's errors, and KeyError/TypeError/ValueError on odd answers."""
    async with httpx.AsyncClient(
        base_url=(settings.url or "").rstrip("/") + "/api/v4",
        headers={"Authorization": f"Bearer {token}", "User-Agent": "veilleur"},
        timeout=settings.timeout_seconds,
    ) as client:
        response = await client.get("/user")
        response.raise_for_status()
        username = str(response.json()["username"])
        least = {"min_access_level": REPORTER, "per_page": 100}
        groups = await _paths(client, "/groups", least, "full_path")
        wanted = least | {"membership": "true", "simple": "true"}
        projects = await _paths(client, "/projects", wanted, "path_with_namespace")
    return Memberships(username, groups, projects)


async def _paths(
    client: httpx.AsyncClient, url: str, params: dict[str, Any], key: str
) -> frozenset[str]:
    found: set[str] = set()
    page = "1"
    for _ in range(MAX_PAGES):
        response = await client.get(url, params=params | {"page": page})
        response.raise_for_status()
        found.update(str(row[key]).lower() for row in response.json())
        page = response.headers.get("x-next-page", "")
        if not page:
            break
    return frozenset(found)
