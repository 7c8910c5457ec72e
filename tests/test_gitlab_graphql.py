"""GitLab history import: notes of many items a GraphQL request, batches sized by graphql-ruby's
complexity rule under GitLab's limit, REST where GraphQL cannot help, the same record either way;
and the simulated GitLab's GraphQL endpoint that scores and serves them over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from bot.forge.errors import RateLimited
from bot.gitlab.backfill import GitLabBackfill
from bot.gitlab.client import GitLabAPI
from bot.gitlab.graphql_notes import MAX_COMPLEXITY, QUERY, cost, plan
from bot.gitlab.transport import Transport
from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.sim.gitlab.items import add_note, new_item
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from bot.storage.models import TimelineEntry

REPO = "127.0.0.1/utrecht/kaart"


def seed(world: GitLabWorld, notes: list[int]) -> None:
    """One issue per count in `notes` (every fifth a merge request), each with that many
    notes by two people, and a system note on the first (never imported)."""
    world.add_group("utrecht")
    project = world.add_project("utrecht/kaart")
    world.add_member("utrecht", "veilleur-bot", 40)
    jan, sanne = world.add_user("jan")["id"], world.add_user("sanne")["id"]
    world.add_member("utrecht", "sanne", 40)
    for i, count in enumerate(notes):
        item = new_item(world, project, jan, f"Item {i}", "tekst", merge=i % 5 == 4)
        for k in range(count):
            add_note(world, project, item, sanne if k % 2 else jan, f"noot {i}.{k}")
    first = project.notes[("issues", 1)][0] if notes and notes[0] else None
    if first is not None:
        system = dict(first, id=world.new_id(), system=True, body="added ~bug label")
        project.notes[("issues", 1)].append(system)


@pytest.fixture
async def make(
    gitlab_world: GitLabWorld, gitlab_server: GitLabServer, tmp_path: Path
) -> AsyncIterator[Any]:
    transports: list[Transport] = []

    def build(name: str = "g") -> GitLabBackfill:
        url = f"sqlite:///{tmp_path}/{name}.db"
        upgrade(url)
        transport = Transport(gitlab_server.url, gitlab_world.api_token, clock=gitlab_world.clock)
        transports.append(transport)
        api = GitLabAPI(transport, "127.0.0.1")
        return GitLabBackfill(make_engine(url), api, gitlab_world.clock)

    yield build
    for t in transports:
        await t.aclose()


def comments(backfill: GitLabBackfill) -> set[tuple[int, str, str | None]]:
    with Session(backfill.engine) as s:
        rows = s.exec(select(TimelineEntry).where(TimelineEntry.kind == "commented"))
        return {(e.number, e.source_key, e.actor_login) for e in rows}


def graphql_calls(world: GitLabWorld) -> int:
    return sum(1 for _, path in world.requests if path == "/api/graphql")


# -- batch sizes ----------------------------------------------------------------------------
@pytest.mark.parametrize(("k", "n"), [(1, 24), (3, 12), (10, 4), (20, 2), (48, 1)])
def test_a_batch_is_as_large_as_the_complexity_limit_allows(k: int, n: int) -> None:
    batches, rest = plan({iid: k for iid in range(1, 101)})
    assert rest == []
    assert {len(iids) for iids, _ in batches[:-1]} == {n}
    assert all(notes == k for _, notes in batches)
    assert cost(n, k) <= MAX_COMPLEXITY < cost(n + 1, k)


def test_items_too_large_for_one_request_go_to_rest_and_batches_follow_the_counts() -> None:
    batches, rest = plan({1: 60, 2: 1, 3: 1, 4: 30, 5: 2, 6: 49})
    assert sorted(rest) == [1, 6]  # 3 + 5 + 5 * 49 = 253 > 250
    assert [iids for iids, _ in batches] == [[2, 3, 5], [4]]  # fewest notes first
    assert [k for _, k in batches] == [2, 30]
    assert all(cost(len(iids), k) <= MAX_COMPLEXITY for iids, k in batches)


# -- the simulated GitLab's endpoint ---------------------------------------------------------
async def test_the_simulated_endpoint_scores_the_query_as_the_formula_says(
    gitlab_world: GitLabWorld, gitlab_server: GitLabServer
) -> None:
    seed(gitlab_world, [3] * 30)
    headers = {"Authorization": f"Bearer {gitlab_world.api_token}"}
    async with httpx.AsyncClient(base_url=gitlab_server.url, headers=headers) as client:
        for n, k in ((12, 3), (2, 20), (1, 48), (24, 1)):
            variables = {"path": "utrecht/kaart", "iids": ["1", "2"], "n": n, "k": k}
            query = QUERY % "issues"
            resp = await client.post("/api/graphql", json={"query": query, "variables": variables})
            assert resp.status_code == 200 and "errors" not in resp.json()
            assert gitlab_world.graphql_scores[-1] == cost(n, k)
        too_many = {"path": "utrecht/kaart", "iids": ["1"], "n": 13, "k": 3}
        resp = await client.post("/api/graphql", json={"query": query, "variables": too_many})
        assert resp.json()["errors"][0]["message"] == (
            f"Query has complexity of {cost(13, 3)}, which exceeds max complexity of 250"
        )
        resp = await client.post(
            "/api/graphql",
            json={"query": '{ project(fullPath: "utrecht/kaart") { stars } }'},
        )
        assert (
            resp.json()["errors"][0]["message"] == "Field 'stars' doesn't exist on type 'Project'"
        )
        unauthorised = await client.post(
            "/api/graphql", json={"query": query}, headers={"Authorization": "Bearer nope"}
        )
        assert unauthorised.status_code == 401
        assert unauthorised.json() == {"errors": [{"message": "Invalid token"}]}


async def test_the_simulated_endpoint_answers_notes_in_gitlab_shape(
    gitlab_world: GitLabWorld, gitlab_server: GitLabServer
) -> None:
    seed(gitlab_world, [2, 0, 1])
    headers = {"Authorization": f"Bearer {gitlab_world.api_token}"}
    variables = {"path": "utrecht/kaart", "iids": ["1", "3"], "n": 2, "k": 1}
    async with httpx.AsyncClient(base_url=gitlab_server.url, headers=headers) as client:
        resp = await client.post(
            "/api/graphql", json={"query": QUERY % "issues", "variables": variables}
        )
    nodes = resp.json()["data"]["project"]["items"]["nodes"]
    assert [n["iid"] for n in nodes] == ["1", "3"]
    first = nodes[0]["notes"]
    assert first["pageInfo"] == {"hasNextPage": True}  # two comments, one a page
    note = first["nodes"][0]
    rest = gitlab_world.projects["utrecht/kaart"].notes[("issues", 1)][0]
    assert note == {
        "id": f"gid://gitlab/Note/{rest['id']}",
        "body": "noot 0.0",
        "createdAt": rest["created_at"],
        "author": {"username": "jan"},
    }


# -- the import ------------------------------------------------------------------------------
async def test_notes_come_many_items_a_request_and_record_what_rest_records(
    make: Any, gitlab_world: GitLabWorld
) -> None:
    counts = [3] * 30 + [0] * 10 + [20] * 4
    seed(gitlab_world, counts)
    with_graphql = make("graphql")
    before = len(gitlab_world.requests)
    done = await with_graphql.run(REPO)
    assert done.items == len(counts)
    issues = [c for i, c in enumerate(counts) if i % 5 != 4]  # every fifth: a merge request
    merges = [c for i, c in enumerate(counts) if i % 5 == 4]
    expected_graphql = sum(
        len(plan({iid: c for iid, c in enumerate(cs, 1) if c})[0]) for cs in (issues, merges)
    )
    assert expected_graphql < sum(1 for c in counts if c) / 5
    assert graphql_calls(gitlab_world) == expected_graphql
    # one page of issues, one of merge requests, one of members, and the GraphQL batches
    assert done.requests == len(gitlab_world.requests) - before == 3 + expected_graphql
    rest_only = make("rest")
    rest_only.notes.graphql = False
    again = await rest_only.run(REPO)
    assert again.requests == 3 + sum(1 for c in counts if c)
    recorded = comments(with_graphql)
    assert recorded == comments(rest_only)
    assert len(recorded) == sum(counts)  # the system note is not a comment


@pytest.mark.parametrize("instance", ["off", "before-16.5", "token"])
async def test_an_instance_without_usable_graphql_gets_the_same_record_through_rest(
    make: Any, gitlab_world: GitLabWorld, instance: str
) -> None:
    seed(gitlab_world, [3] * 30)
    backfill = make()
    if instance == "token":  # a token GraphQL refuses (401)
        backfill.api.http._token = "revoked"
    else:
        gitlab_world.graphql = instance
    done = await backfill.run(REPO)
    assert graphql_calls(gitlab_world) == 1  # tried once, then REST for the whole import
    assert backfill.notes.graphql is False
    assert done.requests == 3 + 1 + 30
    assert len(comments(backfill)) == 90


async def test_an_item_whose_notes_grew_since_it_was_listed_is_read_with_rest(
    make: Any, gitlab_world: GitLabWorld
) -> None:
    seed(gitlab_world, [2, 2, 2])
    backfill = make()
    project = gitlab_world.projects["utrecht/kaart"]
    original = backfill.api.http.graphql

    async def meanwhile(query: str, variables: dict[str, Any]) -> Any:
        add_note(gitlab_world, project, project.issues[2], gitlab_world.user("jan")["id"], "nog")
        return await original(query, variables)

    backfill.api.http.graphql = meanwhile
    done = await backfill.run(REPO)
    notes_read = [p for _, p in gitlab_world.requests if p.endswith("/notes")]
    assert notes_read == ["/api/v4/projects/utrecht%2Fkaart/issues/2/notes"]
    assert done.requests == 3 + 1 + 1
    assert len(comments(backfill)) == 7


async def test_a_rate_limited_graphql_request_stops_the_import_and_the_next_run_resumes(
    make: Any, gitlab_world: GitLabWorld
) -> None:
    seed(gitlab_world, [1] * 150)
    backfill = make()
    original = backfill.api.http.graphql

    async def throttled(query: str, variables: dict[str, Any]) -> Any:
        if "101" in variables["iids"]:  # the second page's notes: GitLab asks to wait 10 min
            gitlab_world.throttle_next = [600]
        return await original(query, variables)

    backfill.api.http.graphql = throttled
    with pytest.raises(RateLimited):
        await backfill.run(REPO)
    assert len(comments(backfill)) == 100  # the first page of issues, written whole
    backfill.api.http._pauses.clear()  # the ten minutes have passed
    backfill.api.http.graphql = original
    resumed = await backfill.run(REPO)
    assert resumed.items == 20 + 30  # the refused page, then the merge requests
    assert len(comments(backfill)) == 150
    assert backfill.notes.graphql is True  # a rate limit is not a reason to leave GraphQL


async def test_an_instance_that_scores_higher_gets_smaller_batches_still_through_graphql(
    make: Any, gitlab_world: GitLabWorld
) -> None:
    seed(gitlab_world, [3] * 60)
    gitlab_world.graphql_field_costs = {"notes": 11}  # 10 more per item than graphql-ruby's 1
    backfill = make()
    done = await backfill.run(REPO)
    assert backfill.notes.graphql is True and backfill.notes.limit < MAX_COMPLEXITY
    notes_read = [p for _, p in gitlab_world.requests if p.endswith("/notes")]
    assert notes_read == []  # no item left to REST
    refused = graphql_calls(gitlab_world) - len(gitlab_world.graphql_scores)
    assert refused == 1  # one refusal, then batches that fit
    assert all(score <= MAX_COMPLEXITY for score in gitlab_world.graphql_scores)
    assert len(comments(backfill)) == 180 and done.items == 60
