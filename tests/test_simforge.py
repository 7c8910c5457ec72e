"""The simulated forge, driven through Veilleur's own client (githubkit, App auth, real HTTP)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from githubkit.exception import GraphQLFailed, RateLimitExceeded, RequestFailed

from bot.github.client import GitHubAPI, RateLimited, app_installations, app_login, make_app_client
from bot.settings import Settings
from bot.sim import FileChange, Forge, ForgeServer, generate_app_keypair
from tests import simforge_fixtures as fx
from tests.simforge_fixtures import World, seed_world

app_keypair, forge_clock, forge = fx.app_keypair, fx.forge_clock, fx.forge
forge_server, forge_settings = fx.forge_server, fx.forge_settings


@pytest.fixture
def world(forge: Forge) -> World:
    return seed_world(forge)


@pytest.fixture
def api(forge_settings: Settings, world: World) -> GitHubAPI:
    return GitHubAPI(make_app_client(forge_settings), world.installation_id)


def token_headers(forge: Forge, installation_id: int) -> dict[str, str]:
    token = forge.issue_token(forge.installations[installation_id]).token
    return {"Authorization": f"token {token}"}


def test_server_starts_well_under_a_second(forge: Forge) -> None:
    started = time.monotonic()
    with ForgeServer(forge) as server:
        assert time.monotonic() - started < 1.0
        resp = httpx.get(f"{server.url}/nowhere")
    assert resp.status_code == 404
    assert resp.json()["message"] == "Not Found"
    assert resp.headers["x-ratelimit-resource"] == "core"


async def test_reads(api: GitHubAPI, forge: Forge, world: World, forge_settings: Settings) -> None:
    client = make_app_client(forge_settings)
    assert await app_login(client) == "veilleur[bot]"
    assert [i["account"]["login"] for i in await app_installations(client)] == [world.org]
    repo = await api.get_repo(world.repo)
    assert (repo["full_name"], repo["default_branch"], repo["private"]) == (
        world.repo,
        "main",
        False,
    )
    assert "sla_days: 5" in (await api.get_file(world.repo, ".github/veilleur.yml") or "")
    assert await api.get_file(world.repo, ".github/CODEOWNERS") is not None
    assert await api.get_file(world.repo, "docs") is None  # a directory
    assert await api.get_file(world.repo, "absent.md") is None
    assert await api.get_file(world.repo, "README.md", ref="no-such-branch") is None
    profile = await api.community_profile(world.repo)
    assert profile and profile["files"]["contributing"] and profile["files"]["license"]
    assert profile["files"]["code_of_conduct_file"] is None
    user = await api.get_user(world.outsider)
    assert user and (user["company"], user["type"]) == ("ACME", "User")
    assert await api.get_user("ghost") is None
    assert await api.is_org_member(world.org, world.private_member)  # private members count
    assert not await api.is_org_member(world.org, world.outsider)
    assert await api.team_membership(world.org, world.team, world.private_member) == "active"
    assert await api.team_membership(world.org, world.team, "zoe") == "pending"
    assert await api.team_membership(world.org, world.team, world.outsider) is None
    assert await api.collaborator_permission(world.repo, world.maintainer) == "write"
    assert await api.collaborator_permission(world.repo, world.outsider) == "read"
    assert await api.collaborator_permission(world.private_repo, world.outsider) is None  # "none"
    assert await api.collaborator_permission(world.repo, "ghost") is None


async def test_issue_writes(api: GitHubAPI, forge: Forge, world: World) -> None:
    number = forge.scenario.open_issue(world.repo, world.outsider, "Lien cassé", "Voir page")
    created = await api.create_issue(world.repo, "Rapport", "Corps", labels=["rapport"])
    assert created["user"]["login"] == "veilleur[bot]" and created["user"]["type"] == "Bot"
    assert created["performed_via_github_app"]["slug"] == "veilleur"
    closed = await api.update_issue(
        world.repo, created["number"], state="closed", state_reason="not_planned"
    )
    assert (closed["state"], closed["state_reason"]) == ("closed", "not_planned")
    assert closed["closed_at"] == "2025-03-03T09:00:00Z"  # the forge clock
    comment = await api.create_comment(world.repo, number, "Bonjour <!-- veilleur:x -->")
    edited = await api.update_comment(world.repo, comment["id"], "Bonjour !")
    assert edited["body"] == "Bonjour !" and edited["author_association"] == "NONE"
    assert [c["body"] for c in await api.list_comments(world.repo, number)] == ["Bonjour !"]
    await api.add_labels(world.repo, number, ["needs-triage", "bug"])
    label = await api.get_label(world.repo, "needs-triage")
    assert label and label["color"] == "ededed"  # created on the fly, like GitHub
    await api.remove_label(world.repo, number, "needs-triage")
    await api.remove_label(world.repo, number, "needs-triage")  # 404, tolerated
    assert forge.requests[-1].status == 404
    await api.create_label(world.repo, "veilleur:waiting", "fbca04", "Waiting")
    await api.create_label(world.repo, "veilleur:waiting", "fbca04", "Waiting")  # 422 tolerated
    assert forge.requests[-1].status == 422
    assert (await api.get_label(world.repo, "veilleur:waiting") or {})["color"] == "fbca04"
    await api.add_assignees(world.repo, number, [world.maintainer, "ghost", "zoe"])
    issue = await api.get_issue(world.repo, number)
    assert [a["login"] for a in issue["assignees"]] == ["marie"]  # others silently dropped
    assert [lab["name"] for lab in issue["labels"]] == ["bug"]
    await api.remove_assignees(world.repo, number, [world.maintainer])
    assert (await api.get_issue(world.repo, number))["assignees"] == []
    run = await api.create_check_run(
        world.repo, name="veilleur", head_sha="a" * 40, status="completed", conclusion="neutral"
    )
    assert (run["conclusion"], run["app"]["slug"]) == ("neutral", "veilleur")


async def test_pull_requests(api: GitHubAPI, forge: Forge, world: World) -> None:
    sc = forge.scenario
    files = [FileChange("docs/guide.md", additions=3, deletions=1, content="Nouveau\n")]
    number = sc.open_pull(world.repo, world.outsider, "Guide", "Mieux", files, draft=True)
    head = sc.push_to_pull(world.repo, number, world.outsider, {"docs/new.md": "x\n"})
    sc.request_review(world.repo, number, world.maintainer, ["paul"], [world.team])
    sc.review(world.repo, number, world.maintainer, "CHANGES_REQUESTED", "Presque")
    pull = await api.get_pull(world.repo, number)
    assert (pull["draft"], pull["head"]["sha"], pull["commits"]) == (True, head, 2)
    assert pull["author_association"] == "FIRST_TIME_CONTRIBUTOR"
    names = [f["filename"] for f in await api.list_pull_files(world.repo, number)]
    assert names == ["docs/guide.md", "docs/new.md"]
    assert len(await api.list_pull_commits(world.repo, number)) == 2
    requested = await api.requested_reviewers(world.repo, number)
    assert [u["login"] for u in requested["users"]] == ["paul"]
    assert [t["slug"] for t in requested["teams"]] == [world.team]
    assert await api.get_file(world.repo, "docs/guide.md", ref=head) == "Nouveau\n"
    listed = await api.list_issues(world.repo)
    assert listed[0]["pull_request"]["url"].endswith(f"/pulls/{number}")
    sc.merge(world.repo, number, world.maintainer)
    merged = await api.get_pull(world.repo, number)
    assert (merged["merged"], merged["merged_by"]["login"], merged["state"]) == (
        True,
        "marie",
        "closed",
    )
    assert merged["author_association"] == "CONTRIBUTOR"
    assert await api.get_file(world.repo, "docs/guide.md") == "Nouveau\n"


def test_author_association(forge: Forge, world: World) -> None:
    sc, repo = forge.scenario, forge.get_repo(world.repo)
    forge.add_user("dependabot[bot]")
    sc.open_issue(world.repo, world.private_member, "Privé", "")
    assert forge.author_association(repo, world.private_member) == "NONE"  # private member
    assert forge.author_association(repo, world.maintainer) == "MEMBER"  # public member
    forge.set_permission(world.repo, "carol", "triage")
    assert forge.author_association(repo, "carol") == "COLLABORATOR"
    assert forge.author_association(repo, world.org) == "OWNER"
    forge.add_contributor(world.repo, "dave")
    assert forge.author_association(repo, "dave") == "CONTRIBUTOR"
    forge.add_user("erin", first_timer=True)
    sc.open_pull(world.repo, "erin", "Premier", "")
    assert forge.author_association(repo, "erin") == "FIRST_TIMER"
    assert forge.author_association(repo, "dependabot[bot]") == "NONE"
    assert forge.get_user("dependabot[bot]").type == "Bot"


async def test_list_issues_filters_and_pagination(
    api: GitHubAPI, forge: Forge, world: World, forge_clock: Any
) -> None:
    sc = forge.scenario
    from datetime import timedelta

    for i in range(3):
        forge_clock.advance(timedelta(hours=1))
        sc.open_issue(world.repo, world.outsider, f"Issue {i}", "", labels=["bug"] if i else [])
    sc.open_issue(world.repo, world.maintainer, "Interne", "")
    sc.close(world.repo, 1, world.maintainer, "not_planned")
    mine = await api.list_issues(world.repo, creator=world.outsider)
    assert [i["title"] for i in mine] == ["Issue 2", "Issue 1"]  # newest first, open only
    every = await api.list_issues(world.repo, creator=world.outsider, state="all")
    assert len(every) == 3 and every[-1]["state_reason"] == "not_planned"
    assert [i["number"] for i in await api.list_issues(world.repo, labels="bug")] == [3, 2]
    url = f"{forge.api_url}/repos/{world.repo}/issues"
    headers = token_headers(forge, world.installation_id)
    async with httpx.AsyncClient(headers=headers) as raw:
        first = await raw.get(url, params={"state": "all", "per_page": 2})
        assert 'rel="next"' in first.headers["link"] and 'rel="last"' in first.headers["link"]
        second = await raw.get(first.links["next"]["url"])
    assert len(first.json()) == 2 and len(second.json()) == 2 and "next" not in second.links
    for i in range(105):
        forge.add_comment(forge.get_repo(world.repo), forge.get_issue(world.repo, 4), "z", f"{i}")
    assert len(await api.list_comments(world.repo, 4)) == 105  # two pages


async def test_search_and_graphql(api: GitHubAPI, forge: Forge, world: World) -> None:
    sc = forge.scenario
    sc.open_issue(world.repo, world.outsider, "Carte cassée", "la carte")
    sc.open_pull(world.repo, world.outsider, "Répare la carte", "")
    sc.open_issue(world.private_repo, world.outsider, "Interne", "")
    q = f"repo:{world.repo} author:{world.outsider} is:pr"
    found = await api._req("GET", "/search/issues", params={"q": q})
    assert [i["number"] for i in found["items"]] == [2] and found["total_count"] == 1
    found = await api._req("GET", "/search/issues", params={"q": "carte is:issue"})
    assert [i["title"] for i in found["items"]] == ["Carte cassée"]
    with pytest.raises(GraphQLFailed):
        await api.graphql("query { viewer { login } }")
    forge.graphql_resolver = lambda query, variables: {"echo": variables["x"]}
    assert await api.graphql("query($x: Int) { echo }", {"x": 3}) == {"echo": 3}


def test_authentication(forge: Forge, forge_server: ForgeServer, world: World) -> None:
    url, app_id = forge_server.url, forge.the_app.id
    assert httpx.get(f"{url}/repos/{world.repo}").status_code == 401
    bad = httpx.get(f"{url}/app", headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, bad.json()["message"]) == (
        401,
        "A JSON web token could not be decoded",
    )
    now = int(time.time())
    claims = {"iss": str(app_id), "iat": now - 60, "exp": now + 500}
    other_key = generate_app_keypair().private_pem
    for key, status in ((forge.private_key_pem, 200), (other_key, 401)):
        token = jwt.encode(claims, key, algorithm="RS256")
        resp = httpx.get(f"{url}/app", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == status
    too_long = jwt.encode(claims | {"exp": now + 3600}, forge.private_key_pem, algorithm="RS256")
    assert (
        httpx.get(f"{url}/app", headers={"Authorization": f"Bearer {too_long}"}).status_code == 401
    )
    other = forge.install(forge.add_user("bob").login)
    headers = token_headers(forge, other.id)
    assert httpx.get(f"{url}/repos/{world.private_repo}", headers=headers).status_code == 404
    assert httpx.get(f"{url}/repos/{world.repo}", headers=headers).status_code == 200  # public
    post = httpx.post(f"{url}/repos/{world.repo}/issues", headers=headers, json={"title": "x"})
    assert (post.status_code, post.json()["message"]) == (
        403,
        "Resource not accessible by integration",
    )
    forge.expire_tokens()
    assert httpx.get(f"{url}/repos/{world.repo}", headers=headers).status_code == 401


async def test_rate_limit_headers_on_every_response(
    api: GitHubAPI, forge: Forge, world: World
) -> None:
    await api.get_repo(world.repo)
    await api.get_user("ghost")
    await api._req("GET", "/search/issues", params={"q": "x"})
    for record in forge.requests:
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(
            record.response_headers
        )
        assert {"x-ratelimit-used", "x-ratelimit-resource"} <= set(record.response_headers)
    assert forge.requests[-1].response_headers["x-ratelimit-resource"] == "search"
    used = [int(r.response_headers["x-ratelimit-used"]) for r in forge.requests[:-1]]
    assert used == sorted(used) and used[-1] > used[0]


async def test_fault_injection(forge: Forge, forge_settings: Settings, world: World) -> None:
    fast = forge_settings.model_copy(update={"github_timeout_seconds": 0.5})
    api = GitHubAPI(make_app_client(fast), world.installation_id)
    await api.get_repo(world.repo)  # token exchange out of the way
    forge.inject("GET", r"/repos/mairie/portail$", status=502, times=2)
    assert (await api.get_repo(world.repo))["name"] == "portail"  # retried twice
    forge.inject("GET", r"/repos/mairie/portail$", status=429, retry_after=1)
    forge.inject("*", r"/repos/mairie/portail$", status=403, retry_after=1)
    await api.get_repo(world.repo)
    faults = [r for r in forge.requests if r.fault]
    assert [r.status for r in faults] == [502, 502, 429, 403]
    assert {r.template for r in faults} == {"/repos/{owner}/{repo}"}
    assert faults[2].response_headers["retry-after"] == "1"
    assert "secondary rate limit" in faults[3].response_json["message"]
    forge.inject("GET", r"/community/profile$", status=403)  # primary: reset in 60 s
    with pytest.raises(RateLimited) as limited:  # the installation waits: no retry in place
        await api.community_profile(world.repo)
    assert isinstance(limited.value.__cause__, RateLimitExceeded)
    assert forge.requests[-1].response_headers["x-ratelimit-remaining"] == "0"
    with pytest.raises(RateLimited):  # every call of the installation waits with it
        await api.get_user(world.outsider)
    assert forge.requests[-1].template == "/repos/{owner}/{repo}/community/profile"
    api = GitHubAPI(make_app_client(fast), world.installation_id)  # a new pause table
    forge.inject("GET", r"/users/", delay=1.0)  # longer than the 0.5 s client timeout
    assert (await api.get_user(world.outsider) or {})["login"] == "alice"
    forge.inject("GET", r"/users/", reset_connection=True)
    assert (await api.get_user(world.outsider) or {})["login"] == "alice"
    assert forge.requests[-2].status == 0 and forge.requests[-2].fault
    forge.faults.clear()


def test_fault_times_out_a_plain_client(forge: Forge, forge_server: ForgeServer) -> None:
    forge.inject("GET", "/nowhere", delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{forge_server.url}/nowhere", timeout=0.1)
    forge.inject("GET", "/nowhere", reset_connection=True)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{forge_server.url}/nowhere")
    assert httpx.get(f"{forge_server.url}/nowhere").status_code == 404


async def test_missing_items_are_github_404s(api: GitHubAPI, world: World) -> None:
    for call in (api.get_issue(world.repo, 99), api.get_pull(world.repo, 99)):
        with pytest.raises(RequestFailed) as caught:
            await call
        body = caught.value.response.json()
        assert caught.value.response.status_code == 404 and body["message"] == "Not Found"
        assert body["documentation_url"].startswith("https://docs.github.com/")
