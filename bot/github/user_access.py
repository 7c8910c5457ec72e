"""What a signed-in person may see, asked with their user-to-server token: their login and,
per installation of the App they can access, the repositories they have explicit access to
(the dashboard's sign-in, bot/web/oauth.py)."""

from __future__ import annotations

from githubkit import GitHub, TokenAuthStrategy

from bot.settings import Settings

MAX_PAGES = 50  # 5,000 installations or repositories per installation


def _user_client(settings: Settings, token: str) -> GitHub[TokenAuthStrategy]:
    return GitHub(
        TokenAuthStrategy(token),
        base_url=settings.github_api_url.rstrip("/") + "/",
        timeout=settings.github_timeout_seconds,
        user_agent="veilleur",
        http_cache=False,
    )


async def user_access(settings: Settings, token: str) -> tuple[str, dict[str, set[str]]]:
    """(login, lower-cased owner -> repository names). Raises githubkit's errors, and
    pydantic's on odd shapes."""
    gh = _user_client(settings, token)
    login = (await gh.rest.users.async_get_authenticated()).parsed_data.login
    repos: dict[str, set[str]] = {}
    for page in range(1, MAX_PAGES + 1):
        found = await gh.rest.apps.async_list_installations_for_authenticated_user(
            per_page=100, page=page
        )
        installations = found.parsed_data.installations
        for inst in installations:
            await _add_repos(gh, inst.id, repos)
        if len(installations) < 100:
            break
    return login, repos


async def _add_repos(gh: GitHub[TokenAuthStrategy], inst_id: int, out: dict[str, set[str]]) -> None:
    for page in range(1, MAX_PAGES + 1):
        found = await gh.rest.apps.async_list_installation_repos_for_authenticated_user(
            inst_id, per_page=100, page=page
        )
        batch = found.parsed_data.repositories
        for repo in batch:
            owner, _, name = repo.full_name.lower().partition("/")
            out.setdefault(owner, set()).add(name)
        if len(batch) < 100:
            return
