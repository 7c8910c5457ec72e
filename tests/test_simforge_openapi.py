"""Every response the forge serves must have the shape GitHub's OpenAPI description promises.

A module-scoped exercise drives every forge route (through Veilleur's `GitHubAPI` where it
calls it, plus error paths and faults); each recorded (path template, method, status, body)
is validated against /work/shared/github/openapi/api.github.com.json. OpenAPI 3.0 quirks:
`nullable: true` becomes `anyOf [schema, null]`; `discriminator`, `example`… are dropped.
Statuses the description leaves out are accepted for errors only, as GitHub's basic-error.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from githubkit.exception import RequestFailed
from jsonschema import Draft7Validator

from bot.clock import FrozenClock
from bot.github.client import GitHubAPI, app_installations, app_login, make_app_client
from bot.settings import load_settings
from bot.sim import AppKeyPair, Forge, ForgeServer, RecordedRequest, ThreadedServer
from bot.sim.app import forge_routes
from tests import simforge_fixtures as fx
from tests.conftest import REPO_ROOT, SHARED, need
from tests.simforge_fixtures import FORGE_START, WebhookSink, World, seed_world

app_keypair = fx.app_keypair  # the session fixture

SPEC_PATH = SHARED / "openapi" / "api.github.com.json"
NOT_IN_REST_DESCRIPTION = {  # GraphQL has its own schema; github.com pages are not REST
    "/graphql",
    "/settings/apps/new",
    "/settings/apps/new/confirm",
    "/organizations/{org}/settings/apps/new",
}
DROPPED = {"nullable", "discriminator", "example", "examples", "xml", "externalDocs"}
NAME_MAPS = {"properties", "patternProperties", "definitions"}
# Errata: operations whose inlined schema contradicts the component it was inlined from.
# GET /app/installations inlines `account` as allOf[simple-user, enterprise] (both at once);
# the `installation` component (and GitHub's real answers) say anyOf.
ERRATA: dict[tuple[str, str, int], Any] = {
    ("/app/installations", "get", 200): {
        "type": "array",
        "items": {"$ref": "#/components/schemas/installation"},
    },
}


@pytest.fixture(autouse=True)
def _spec() -> None:
    need(SPEC_PATH)


# -- OpenAPI 3.0 → JSON Schema -----------------------------------------------------------------
def to_json_schema(node: Any, *, names: bool = False) -> Any:
    """Convert a schema tree; `names`: node maps property names (keep all its keys)."""
    if isinstance(node, list):
        return [to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    if names:
        return {k: to_json_schema(v) for k, v in node.items()}
    out = {k: to_json_schema(v, names=k in NAME_MAPS) for k, v in node.items() if k not in DROPPED}
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") is True else out


@functools.cache
def spec() -> dict[str, Any]:
    raw = json.loads(SPEC_PATH.read_text())
    raw["components"] = to_json_schema(raw["components"])
    return raw


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def response_schema(template: str, method: str, status: int) -> tuple[Any, str | None]:
    """(schema or None for "no body", problem) for one served response."""
    if (template, method.lower(), status) in ERRATA:
        return ERRATA[template, method.lower(), status], None
    operation = spec()["paths"].get(template, {}).get(method.lower())
    if operation is None:
        return None, f"{method} {template} is not in the OpenAPI description"
    documented = operation["responses"].get(str(status))
    if documented is None:
        if status >= 400:
            return {"$ref": "#/components/schemas/basic-error"}, None
        return None, f"{method} {template} never answers {status} on GitHub"
    content = _deref(documented).get("content")
    if not content:
        if status >= 400:  # GitHub sends its error body even where the description omits it
            return {"$ref": "#/components/schemas/basic-error"}, None
        return None, None
    media = content.get("application/json") or next(iter(content.values()))
    return to_json_schema(media.get("schema", {})), None


def problems(record: RecordedRequest) -> list[str]:
    """Why this served response is not a shape GitHub would serve (empty: fine)."""
    where = f"{record.method} {record.path} → {record.status}"
    if record.template in NOT_IN_REST_DESCRIPTION:
        return []
    if record.fault or record.template is None:
        if record.status == 0:
            return []  # connection reset: nothing was served
        schema: Any = {"$ref": "#/components/schemas/basic-error"}
    else:
        schema, problem = response_schema(record.template, record.method, record.status)
        if problem:
            return [f"{where}: {problem}"]
    if schema is None:
        return [] if record.response_json is None else [f"{where}: body where none is documented"]
    root = {"allOf": [schema], "components": spec()["components"]}
    errors = sorted(Draft7Validator(root).iter_errors(record.response_json), key=str)
    return [f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors]


# -- the exercise ------------------------------------------------------------------------------
async def _exercise(forge: Forge, url: str, keys: AppKeyPair, w: World) -> None:
    sc, repo = forge.scenario, w.repo
    settings = load_settings(
        app_id=forge.the_app.id, private_key=keys.private_pem, github_api_url=url,
        github_timeout_seconds=2.0,
    )  # fmt: skip
    client = make_app_client(settings)
    api = GitHubAPI(client, w.installation_id)
    issue = sc.open_issue(repo, w.outsider, "Lien cassé", "Le lien est cassé", labels=["bug"])
    pull = sc.open_pull(repo, w.outsider, "Corrige", "Voir #1", files={"docs/guide.md": "ok\n"})
    sc.comment(repo, pull, w.maintainer, "Merci !")
    sc.review(repo, pull, w.maintainer, "CHANGES_REQUESTED", "Presque")
    sc.request_review(repo, pull, w.maintainer, reviewers=[w.private_member], teams=[w.team])
    sc.push_files(repo, "main", w.maintainer, {"README.md": "# Portail v2\n"})

    assert await app_login(client) == "veilleur[bot]"
    assert len(await app_installations(client)) == 1
    await api.get_repo(repo)
    assert repo in [r["full_name"] for r in await api.installation_repositories()]
    assert await api.get_file(repo, ".github/veilleur.yml")
    assert await api.get_file(repo, "docs") is None  # a directory listing
    assert await api.get_file(repo, "nope.txt") is None
    kept = await api.get_file(repo, ".github/veilleur.yml", keep=True)
    assert kept and await api.get_file(repo, ".github/veilleur.yml", keep=True) == kept  # 304
    listing = await api.list_dir(repo, "docs", keep=True)
    assert listing and await api.list_dir(repo, "docs", keep=True) == listing  # 304
    await api.community_profile(repo)
    await api.get_user(w.outsider)
    await api.get_user("ghost")
    assert await api.is_org_member(w.org, w.private_member)
    assert not await api.is_org_member(w.org, w.outsider)
    await api.team_membership(w.org, w.team, "zoe")
    await api.team_membership(w.org, w.team, w.outsider)
    await api.collaborator_permission(repo, w.maintainer)
    await api.collaborator_permission(w.private_repo, w.outsider)
    await api.collaborator_permission(repo, "ghost")
    await api.get_issue(repo, issue)
    with pytest.raises(RequestFailed):
        await api.get_issue(repo, 999)
    await api.list_issues(repo, state="all", creator=w.outsider, labels="bug")
    created = await api.create_issue(repo, "Rapport", "Corps", labels=["report"])
    await api.update_issue(repo, created["number"], state="closed", state_reason="not_planned")
    with pytest.raises(RequestFailed):
        await api.update_issue(repo, 999, title="x")
    comment = await api.create_comment(repo, issue, "Bonjour")
    await api.update_comment(repo, comment["id"], "Bonjour !")
    await api.list_comments(repo, issue)
    await api.add_labels(repo, issue, ["needs-triage"])
    await api.remove_label(repo, issue, "needs-triage")
    await api.remove_label(repo, issue, "needs-triage")  # 404: not on the issue
    await api.get_label(repo, "bug")
    await api.get_label(repo, "absent")
    await api.create_label(repo, "veilleur:waiting", "fbca04", "Waiting for a maintainer")
    await api.create_label(repo, "veilleur:waiting", "fbca04", "Again: 422")
    await api.add_assignees(repo, issue, [w.maintainer])
    await api.remove_assignees(repo, issue, [w.maintainer])
    await api.get_pull(repo, pull)
    await api.list_pull_files(repo, pull)
    await api.list_pull_commits(repo, pull)
    await api.requested_reviewers(repo, pull)
    head = (await api.get_pull(repo, pull))["head"]["sha"]
    await api.create_check_run(
        repo, name="veilleur", head_sha=head, status="completed", conclusion="neutral",
        output={"title": "Triage", "summary": "Waiting"},
    )  # fmt: skip
    await api._req("GET", "/search/issues", params={"q": f"repo:{repo} is:issue", "per_page": 1})
    await api._req("GET", f"/repos/{repo}/issues", params={"state": "all", "per_page": 1})
    forge.graphql_resolver = lambda query, variables: {"viewer": {"login": "veilleur[bot]"}}
    await api.graphql("query { viewer { login } }")

    selected = forge.install(
        forge.add_org("commune").login, [forge.add_repo("commune/site").full_name]
    )
    await GitHubAPI(client, selected.id).get_repo("commune/site")  # a token with repositories
    forge.settle()
    deliveries = await client.arequest("GET", "/app/hook/deliveries", params={"per_page": 2})
    first = deliveries.json()[0]["id"]
    await client.arequest("POST", f"/app/hook/deliveries/{first}/attempts")
    for failing in ("/app/hook/deliveries/1/attempts", "/app/installations/1/access_tokens"):
        with pytest.raises(RequestFailed):
            await client.arequest("POST", failing)
    forge.inject("GET", r"/community/profile$", status=502)
    forge.inject("GET", r"/community/profile$", status=429, retry_after=1)
    await api.community_profile(repo)
    async with httpx.AsyncClient(base_url=url) as raw:
        await raw.get(f"/repos/{repo}")  # 401: no token
        await raw.get("/app", headers={"Authorization": "Bearer not.a.jwt"})  # 401
        await raw.get("/nowhere")  # 404: unknown route
        token = forge.issue_token(forge.installations[w.installation_id]).token
        auth = {"Authorization": f"token {token}"}
        await raw.post(f"/repos/{w.foreign_repo}/issues", headers=auth, json={"title": "x"})  # 403
        await raw.post(f"/repos/{repo}/labels", headers=auth, content=b"{oops")  # 400
        await raw.get(f"/repos/{w.private_repo}/contents/", headers=auth)  # a root listing
        await raw.get("/installation/repositories", headers=auth, params={"per_page": 1})
        await client.arequest("GET", "/app/hook/config")
        await _register_from_manifest(raw)  # last: the new App replaces the forge's
    forge.settle()


async def _register_from_manifest(raw: httpx.AsyncClient) -> None:
    """The manifest flow's REST step: a code converts once (201), then is unknown (404)."""
    manifest = json.loads((REPO_ROOT / "app-manifest.json").read_text())
    await raw.post("/settings/apps/new", data={"manifest": json.dumps(manifest)})
    sent = await raw.post("/settings/apps/new/confirm", data={"manifest": json.dumps(manifest)})
    code = httpx.URL(sent.headers["location"]).params["code"]
    assert (await raw.post(f"/app-manifests/{code}/conversions")).status_code == 201
    assert (await raw.post(f"/app-manifests/{code}/conversions")).status_code == 404


@pytest.fixture(scope="module")
def served(app_keypair: AppKeyPair) -> Iterator[Forge]:
    """A forge after the whole exercise; its request log is what the tests check."""
    forge = Forge(FrozenClock(FORGE_START), app_key=app_keypair)
    world = seed_world(forge)
    sink = WebhookSink()
    with ThreadedServer(sink.app()) as sink_server, ForgeServer(forge) as server:
        forge.webhook_url = f"{sink_server.url}/webhook"
        asyncio.run(_exercise(forge, server.url, app_keypair, world))
        yield forge
    forge.close()


# -- the checks --------------------------------------------------------------------------------
def test_every_served_response_matches_the_openapi_description(served: Forge) -> None:
    assert len(served.requests) > 50
    found = [p for record in served.requests for p in problems(record)]
    assert not found, "\n".join(found[:40])


def test_every_forge_route_exists_in_the_openapi_description() -> None:
    routes = [(m, r.path_format) for r in forge_routes() for m in r.methods or ()]
    assert len(routes) >= 30
    missing = [
        f"{method} {path}"
        for method, path in routes
        if path not in NOT_IN_REST_DESCRIPTION
        and method.lower() not in spec()["paths"].get(path, {})
    ]
    assert not missing


def test_the_exercise_reached_every_route(served: Forge) -> None:
    """Otherwise a route could serve any shape without the check above noticing."""
    hit = {(r.method, r.template) for r in served.requests if not r.fault}
    unreached = [(m, r.path_format) for r in forge_routes() for m in r.methods or ()]
    assert [route for route in unreached if route not in hit] == []


def test_statuses_served(served: Forge) -> None:
    statuses = {r.status for r in served.requests}
    assert {200, 201, 202, 204, 304, 400, 401, 403, 404, 422, 429, 502} <= statuses
    # a conditional read of a file or a directory: 304 with no body, the ETag, GitHub's
    # Cache-Control; its ETag is the one the 200 before it gave
    contents = served.requests_to("/repos/{owner}/{repo}/contents/{path}", "GET")
    for i, r in enumerate(contents):
        if r.status == 304:
            before = next(x for x in reversed(contents[:i]) if x.path == r.path)
            assert before.status == 200 and r.response_json is None
            assert r.response_headers["etag"] == before.response_headers["etag"]
            assert r.response_headers["cache-control"] == "private, max-age=60, s-maxage=60"
    assert sum(r.status == 304 for r in contents) == 2


def test_a_shape_github_does_not_serve_is_caught(served: Forge) -> None:
    good = next(
        r
        for r in served.requests
        if r.template == "/repos/{owner}/{repo}/issues/{issue_number}" and r.status == 200
    )
    assert problems(good) == []
    broken = dict(good.response_json)
    broken["number"] = str(broken["number"])
    del broken["title"]
    found = problems(RecordedRequest(**{**good.__dict__, "response_json": broken}))
    assert any("number" in p for p in found) and any("title" in p for p in found)
    undocumented = RecordedRequest(**{**good.__dict__, "status": 201})
    assert problems(undocumented) and "never answers 201" in problems(undocumented)[0]
    unknown = RecordedRequest(**{**good.__dict__, "template": "/repos/{owner}/{repo}/nope"})
    assert "not in the OpenAPI description" in problems(unknown)[0]
    null_body = RecordedRequest(**{**good.__dict__, "response_json": None})
    assert problems(null_body)


def test_nullable_is_honoured() -> None:
    schema = to_json_schema({"type": "string", "nullable": True, "properties": {"nullable": {}}})
    assert Draft7Validator(schema).is_valid(None)
    assert not Draft7Validator(to_json_schema({"type": "string"})).is_valid(None)
