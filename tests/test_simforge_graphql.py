"""The forge's GraphQL endpoint: GitHub's validation errors, resolution errors, pagination with
cursors, visibility, the points budget and its exhaustion."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from githubkit.exception import GraphQLFailed, PrimaryRateLimitExceeded

from bot.github.client import GitHubAPI, make_app_client
from bot.settings import Settings
from bot.sim import Forge
from bot.sim.graphql import limits
from tests.simforge_fixtures import World, seed_world

RATE = "rateLimit { cost remaining resetAt }"
PORTAIL = '{ repository(owner: "mairie", name: "portail") { %s } }'


@pytest.fixture
def world(forge: Forge) -> World:
    return seed_world(forge)


@pytest.fixture
def api(forge_settings: Settings, world: World) -> GitHubAPI:
    return GitHubAPI(make_app_client(forge_settings), world.installation_id)


async def raw(api: GitHubAPI, query: str, variables: dict[str, Any] | None = None) -> Any:
    """The whole answer, errors included (githubkit's `graphql` raises on any error)."""
    return await api._req("POST", "/graphql", json={"query": query, "variables": variables or {}})


async def test_validation_errors_come_without_data(api: GitHubAPI) -> None:
    body = await raw(api, '{ repository(owner: "mairie", name: "portail") { nom } }')
    assert "data" not in body
    [err] = body["errors"]
    assert err["message"] == "Field 'nom' doesn't exist on type 'Repository'"
    assert err["extensions"]["code"] == "undefinedField" and err["locations"][0]["line"] == 1
    body = await raw(
        api, '{ repository(owner: "mairie", name: "portail") { issues { totalCount } } }'
    )
    assert body["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    q = PORTAIL % "issues(first: 101) { totalCount }"
    assert (await raw(api, q))["errors"][0]["type"] == "EXCESSIVE_PAGINATION"
    q = PORTAIL % "pullRequests(first: 1, filterBy: {}) { totalCount }"
    assert "doesn't accept argument 'filterBy'" in (await raw(api, q))["errors"][0]["message"]
    body = await raw(api, "{ repository(owner: ")
    assert (
        body["errors"][0]["message"].startswith("Parse error") and "locations" in body["errors"][0]
    )


async def test_not_found_is_null_data_beside_an_error(forge: Forge, api: GitHubAPI) -> None:
    forge.add_repo("autre/secret", private=True)
    q = (
        '{ a: repository(owner: "autre", name: "secret") { name } '
        'b: repository(owner: "mairie", name: "interne") { isPrivate } }'
    )
    with pytest.raises(GraphQLFailed) as failed:
        await api.graphql(q)
    assert failed.value.response.data == {"a": None, "b": {"isPrivate": True}}
    [err] = failed.value.response.errors or []
    assert err.type == "NOT_FOUND" and err.path == ["a"]
    assert err.message == "Could not resolve to a Repository with the name 'autre/secret'."


async def test_issues_page_by_cursor_in_update_order(
    forge: Forge, world: World, api: GitHubAPI
) -> None:
    sc, clock = forge.scenario, forge.clock
    for title in ("un", "deux", "trois"):
        sc.open_issue(world.repo, world.outsider, title)
        clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    sc.open_pull(world.repo, world.outsider, "une PR")
    sc.comment(world.repo, 1, world.maintainer, "vu")  # issue 1 is now the most recent
    q = """query($after: String, $since: DateTime) { repository(owner: "mairie", name: "portail") {
      issues(first: 2, after: $after, orderBy: {field: UPDATED_AT, direction: ASC},
             filterBy: {since: $since}) {
        totalCount pageInfo { hasNextPage endCursor } nodes { number } } } }"""
    first = (await api.graphql(q))["repository"]["issues"]
    assert [n["number"] for n in first["nodes"]] == [2, 3] and first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"]
    second = (await api.graphql(q, {"after": first["pageInfo"]["endCursor"]}))["repository"][
        "issues"
    ]
    assert [n["number"] for n in second["nodes"]] == [1] and not second["pageInfo"]["hasNextPage"]
    recent = (await api.graphql(q, {"since": "2025-03-03T11:00:00Z"}))["repository"]["issues"]
    assert [n["number"] for n in recent["nodes"]] == [3, 1]


async def test_actors_members_and_collaborators(forge: Forge, world: World, api: GitHubAPI) -> None:
    n = forge.scenario.open_issue(world.repo, world.outsider, "Carte")
    await api.create_comment(world.repo, n, "Bonjour")  # by the App
    q = """{ repository(owner: "mairie", name: "portail") {
        issue(number: 1) { author { login __typename ... on User { company } }
          timelineItems(first: 5) {
            nodes { ... on IssueComment { author { login __typename } } } } }
        collaborators(first: 10) { edges { permission node { login } } } }
      organization(login: "mairie") { membersWithRole(first: 10) { nodes { login } } } }"""
    data = await api.graphql(q)
    issue = data["repository"]["issue"]
    assert issue["author"] == {"login": "alice", "__typename": "User", "company": "ACME"}
    assert issue["timelineItems"]["nodes"] == [
        {"author": {"login": "veilleur", "__typename": "Bot"}}
    ]
    perms = {
        e["node"]["login"]: e["permission"] for e in data["repository"]["collaborators"]["edges"]
    }
    assert perms == {"marie": "WRITE", "paul": "READ"}
    assert [m["login"] for m in data["organization"]["membersWithRole"]["nodes"]] == [
        "marie",
        "paul",
    ]
    q = '{ repository(owner: "autre", name: "projet") { collaborators(first: 5) { totalCount } } }'
    with pytest.raises(GraphQLFailed) as failed:
        await api.graphql(q)
    assert (failed.value.response.errors or [])[0].type == "FORBIDDEN"


async def test_cost_budget_and_its_exhaustion(forge: Forge, api: GitHubAPI) -> None:
    q = f"""{{ repository(owner: "mairie", name: "portail") {{
      issues(first: 100) {{ nodes {{ labels(first: 100) {{ totalCount }}
        timelineItems(first: 100) {{ totalCount }} }} }} }} {RATE} }}"""
    rate = (await api.graphql(q))["rateLimit"]
    assert rate["cost"] == 3 and rate["remaining"] == 4997  # (1 + 2 x 100) / 100, rounded up
    reset = forge.clock.now() + timedelta(minutes=30)
    limits(forge).exhaust(reset, remaining=2)
    with pytest.raises(PrimaryRateLimitExceeded) as refused:
        await api.graphql(q)
    headers = refused.value.response.headers
    assert headers["x-ratelimit-remaining"] == "2"
    assert headers["x-ratelimit-reset"] == str(int(reset.timestamp()))
    assert (await api.graphql(f"{{ {RATE} }}"))["rateLimit"]["remaining"] == 1
    forge.clock.advance(timedelta(minutes=31))  # type: ignore[attr-defined]
    assert (await api.graphql(q))["rateLimit"]["remaining"] == 4997
